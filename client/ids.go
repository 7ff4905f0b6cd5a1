package client

import (
	"crypto/rand"
	"sync"

	"github.com/oklog/ulid/v2"
)

var ids = struct {
	sync.Mutex
	entropy *ulid.MonotonicEntropy
}{entropy: ulid.Monotonic(rand.Reader, 0)}

// NewID returns a new ULID: 26 characters, unique, sortable by creation
// time (monotonic within a millisecond in this process). It is what the
// client uses for generated item ids and idempotency keys.
func NewID() string {
	ids.Lock()
	defer ids.Unlock()
	return ulid.MustNew(ulid.Now(), ids.entropy).String()
}
