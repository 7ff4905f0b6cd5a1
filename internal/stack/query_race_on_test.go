//go:build race

package stack_test

// queryRaceEnabled: the race detector slows the embedded FerretDB about
// tenfold, so the model test samples fewer single reads.
const queryRaceEnabled = true
