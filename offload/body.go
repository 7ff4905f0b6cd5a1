package offload

import (
	"context"
	"fmt"
	"io"
)

// CheckedReader is the body a backend sends for a Put: it counts the bytes
// of R, fails with ErrSizeMismatch when they disagree with Size (-1:
// unknown; the declared size is never trusted by itself), stops once Ctx is
// done, and remembers the first error it returned (Err) so that Put reports
// it rather than an SDK's wrapping of it. It has no Seek, so no SDK takes it
// for a rewindable body.
type CheckedReader struct {
	Ctx  context.Context
	R    io.Reader
	Size int64
	n    int64
	err  error
}

// Err returns the first error Read returned, if any.
func (c *CheckedReader) Err() error { return c.err }

func (c *CheckedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if err := c.Ctx.Err(); err != nil {
		c.err = err
		return 0, err
	}
	if c.Size >= 0 && int64(len(p)) > c.Size-c.n+1 {
		p = p[:c.Size-c.n+1] // one byte more than Size reveals a longer R
	}
	n, err := c.R.Read(p)
	c.n += int64(n)
	switch {
	case c.Size >= 0 && c.n > c.Size:
		c.err = fmt.Errorf("%w: the reader gave more than %d bytes", ErrSizeMismatch, c.Size)
		return 0, c.err
	case err == io.EOF && c.Size >= 0 && c.n != c.Size:
		c.err = fmt.Errorf("%w: the reader gave %d bytes, size says %d", ErrSizeMismatch, c.n, c.Size)
		return n, c.err
	case err != nil && err != io.EOF:
		c.err = err
	}
	return n, err
}
