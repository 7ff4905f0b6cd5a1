package local

import (
	"path/filepath"
	"sync"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/offload"
)

// ScopedResolver returns an offload.Resolver that gives every scope its own
// store (its "bucket") under root: <root>/<dbType>/<tier>/<scope>. Keys
// inside a bucket start with the collection name, so tenants never share a
// key space. Stores are opened once and reused.
func ScopedResolver(root string) offload.Resolver {
	var mu sync.Mutex
	stores := make(map[string]*Store)
	return func(c events.Collection) (offload.Store, error) {
		if err := c.Validate(); err != nil {
			return nil, err
		}
		dir := filepath.Join(root, string(c.DBType), string(c.Tier), c.Scope)
		mu.Lock()
		defer mu.Unlock()
		if s, ok := stores[dir]; ok {
			return s, nil
		}
		s, err := Open(dir)
		if err != nil {
			return nil, err
		}
		stores[dir] = s
		return s, nil
	}
}
