package offload

import (
	"context"
	"errors"
	"fmt"
)

// Backend names a store implementation in its errors ("s3 store") and
// holds what every backend's operations begin and end with, so that all
// of them validate, wrap and classify alike.
type Backend string

// Begin validates key and checks ctx, in that order: a bad key is
// reported as such even with a done context.
func (b Backend) Begin(ctx context.Context, op, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return b.OpError(op, key, err)
	}
	return nil
}

// OpError wraps err as the failure of op on key.
func (b Backend) OpError(op, key string, err error) error {
	return fmt.Errorf("chronos: %s: %s %q: %w", b, op, key, err)
}

// CallError wraps the error of a request to the backend: ErrNotFound when
// notFound (the backend's own reading of err), ctx's error (as well as
// err) once ctx is done.
func (b Backend) CallError(ctx context.Context, op, key string, err error, notFound bool) error {
	switch {
	case notFound:
		return fmt.Errorf("%w: %q", ErrNotFound, key)
	case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		return b.OpError(op, key, fmt.Errorf("%w (%w)", ctx.Err(), err))
	}
	return b.OpError(op, key, err)
}
