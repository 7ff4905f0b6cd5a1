package stack_test

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the tests, or, in a child process started by a test, the
// process that test needs (see runProjectorHelper).
func TestMain(m *testing.M) {
	if os.Getenv(projectorHelperEnv) != "" {
		if err := runProjectorHelper(); err != nil {
			fmt.Fprintln(os.Stderr, "projector helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
