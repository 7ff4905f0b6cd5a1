package offload

import "github.com/chronos-go/chronos/events"

// Resolver returns the blob store (one bucket) that holds a collection's
// payloads. Tenancy routing decides it; a Resolver must return the same
// store for the same collection every time, and be safe for concurrent use.
type Resolver func(c events.Collection) (Store, error)

// ReadResolver is the read-only Resolver the query service uses.
type ReadResolver func(c events.Collection) (Reader, error)

// ReadOnly narrows r to a ReadResolver.
func (r Resolver) ReadOnly() ReadResolver {
	return func(c events.Collection) (Reader, error) { return r(c) }
}
