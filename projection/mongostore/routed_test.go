package mongostore_test

import (
	"hash/fnv"
	"testing"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/projection/mongostore"
	"github.com/chronos-go/chronos/projection/storetest"
)

// The conformance suite passes through projection.Routed over two real
// servers, collections spread over them by scope: scopes on several
// MongoDB deployments behave as one store.
func TestRoutedOverTwoDeployments(t *testing.T) {
	rules, err := projection.CompileRules(storetest.CounterRules())
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, func(t *testing.T) projection.Store {
		a, _ := newStore(t, mongostore.Options{InlineLimit: testInlineLimit, CounterRules: rules})
		b, _ := newStore(t, mongostore.Options{InlineLimit: testInlineLimit, CounterRules: rules})
		route := func(c events.Collection) (projection.Store, error) {
			h := fnv.New32a()
			h.Write([]byte(c.Scope))
			if h.Sum32()%2 == 0 {
				return a, nil
			}
			return b, nil
		}
		return inlineLimited{projection.NewRouted(route, nil), testInlineLimit}
	})
}

// inlineLimited states the inline limit of the stores under a router.
type inlineLimited struct {
	*projection.Routed
	limit int
}

func (s inlineLimited) InlineLimit() int { return s.limit }
