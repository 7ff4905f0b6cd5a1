package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/projection/sqlitestore"
	"github.com/chronos-go/chronos/projection/storetest"
)

var _ storetest.InlineLimiter = (*sqlitestore.Store)(nil)

// testInlineLimit keeps the suite's large payload small.
const testInlineLimit = 4 << 10

func newStore(t testing.TB, opts sqlitestore.Options) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "read.db"), opts)
	if err != nil {
		t.Fatalf("sqlitestore.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func rules(t testing.TB) []projection.CounterRule {
	r, err := projection.CompileRules(storetest.CounterRules())
	if err != nil {
		t.Fatalf("CompileRules: %v", err)
	}
	return r
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) projection.Store {
		return newStore(t, sqlitestore.Options{InlineLimit: testInlineLimit, CounterRules: rules(t)})
	})
}

// TestConformanceIndexed runs the suite with the suite's indexed props
// indexed, so filters go through the expression indexes.
func TestConformanceIndexed(t *testing.T) {
	storetest.Run(t, func(t *testing.T) projection.Store {
		return newStore(t, sqlitestore.Options{
			InlineLimit:  testInlineLimit,
			CounterRules: rules(t),
			IndexedProps: func(events.Collection) []string { return []string{"status", "n", "v"} },
		})
	})
}
