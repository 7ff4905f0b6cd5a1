package azure

import (
	"context"
	"fmt"
	"io"

	"github.com/chronos-go/chronos/offload"
)

// checkedReader is the body of a Put: it counts the bytes of r, fails with
// ErrSizeMismatch when they disagree with size, stops once ctx is done, and
// remembers the first error it returned so that Put reports it rather than
// the SDK's wrapping of it. It has no Seek, so nothing takes it for a
// rewindable body.
type checkedReader struct {
	ctx  context.Context
	r    io.Reader
	size int64 // -1: unknown
	n    int64
	err  error
}

func (c *checkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return 0, err
	}
	if c.size >= 0 && int64(len(p)) > c.size-c.n+1 {
		p = p[:c.size-c.n+1] // one byte more than size reveals a longer r
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	switch {
	case c.size >= 0 && c.n > c.size:
		c.err = fmt.Errorf("%w: the reader gave more than %d bytes", offload.ErrSizeMismatch, c.size)
		return 0, c.err
	case err == io.EOF && c.size >= 0 && c.n != c.size:
		c.err = fmt.Errorf("%w: the reader gave %d bytes, size says %d", offload.ErrSizeMismatch, c.n, c.size)
		return n, c.err
	case err != nil && err != io.EOF:
		c.err = err
	}
	return n, err
}
