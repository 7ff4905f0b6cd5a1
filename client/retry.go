package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// maxRetryAfter caps how long a Retry-After header may make us wait.
const maxRetryAfter = 30 * time.Second

// withRetry sends r until it succeeds, fails for good, or the policy or
// ctx ends the attempts. It returns the body of a 2xx answer.
func (c *Client) withRetry(ctx context.Context, r *request) ([]byte, error) {
	exp := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(c.retry.InitialInterval),
		backoff.WithMaxInterval(c.retry.MaxInterval),
		backoff.WithMaxElapsedTime(0), // ctx bounds the whole call
	)
	b := backoff.WithContext(backoff.WithMaxRetries(exp, uint64(c.retry.MaxAttempts-1)), ctx)
	for attempt := 1; ; attempt++ {
		status, hdr, body, err := c.once(ctx, r)
		var failure error
		retry := false
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, fmt.Errorf("chronos: %s %s: %w", r.method, r.path, context.Cause(ctx))
			}
			failure = fmt.Errorf("chronos: %s %s: %w", r.method, r.path, err)
			retry = refused(err) || (r.safe() && transient(err))
		case status >= 200 && status < 300:
			return body, nil
		default:
			failure = decodeError(status, body, r.id)
			// The server already waited for a MinSeq it did not reach.
			retry = r.safe() && retryableStatus(status) && !errors.Is(failure, ErrBehind)
		}
		if !retry {
			return nil, withAttempts(failure, attempt)
		}
		wait := b.NextBackOff()
		if wait == backoff.Stop {
			return nil, withAttempts(failure, attempt)
		}
		if ra := retryAfter(hdr); ra > wait {
			wait = ra
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, withAttempts(failure, attempt)
		case <-t.C:
		}
	}
}

func withAttempts(err error, n int) error {
	if n == 1 {
		return err
	}
	return fmt.Errorf("%w (after %d attempts)", err, n)
}

// retryableStatus: the server failed or was overloaded, and the request
// may be repeated. 501 and 505 will not change by repeating.
func retryableStatus(s int) bool {
	switch s {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return s >= 500 && s <= 599
}

// transient reports a transport failure after which the request may or
// may not have reached the server: a timeout, a reset, a connection
// closed before the answer.
func transient(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EPIPE) || refused(err)
}

// refused reports a request that never reached the server.
func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// retryAfter reads a Retry-After header in seconds or as an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	return min(max(d, 0), maxRetryAfter)
}
