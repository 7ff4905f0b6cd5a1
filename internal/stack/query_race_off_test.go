//go:build !race

package stack_test

// queryRaceEnabled: see query_race_on_test.go.
const queryRaceEnabled = false
