package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronos-go/chronos/client"
	clog "github.com/chronos-go/chronos/log"
)

// faultyTransport wraps the real transport. For the first `drop` requests
// matching `match`, it sends the request to the server, reads and discards
// the answer, and reports a connection closed before the response: the
// write happened, the client cannot know it. With `fail` set it answers
// those requests itself with that status instead, sending nothing.
type faultyTransport struct {
	next  http.RoundTripper
	match func(*http.Request) bool
	drop  int
	fail  int

	mu       sync.Mutex
	requests []*http.Request
}

func (f *faultyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.requests = append(f.requests, r)
	inject := f.match(r) && f.drop > 0
	if inject {
		f.drop--
	}
	f.mu.Unlock()
	if inject && f.fail != 0 {
		return &http.Response{StatusCode: f.fail, Header: http.Header{"Retry-After": {"0"}}, Body: io.NopCloser(strings.NewReader("upstream unavailable")), Request: r}, nil
	}
	res, err := f.next.RoundTrip(r)
	if err != nil || !inject {
		return res, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return nil, fmt.Errorf("faulty transport: connection closed before the response: %w", io.ErrUnexpectedEOF)
}

func (f *faultyTransport) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if r.Method == method {
			n++
		}
	}
	return n
}

func faulty(match func(*http.Request) bool, drop int) *faultyTransport {
	return &faultyTransport{next: http.DefaultTransport, match: match, drop: drop}
}

func method(m string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Method == m }
}

var fastRetry = client.WithRetry(client.RetryPolicy{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond})

// A write whose response is lost after it reached the server is retried
// with the same idempotency key: one version, and the first result.
func TestRetryAfterLostResponseWritesOnce(t *testing.T) {
	ctx := context.Background()
	ft := faulty(func(r *http.Request) bool { return r.Method != http.MethodGet }, 1)
	c := newClient(t, client.WithHTTPClient(&http.Client{Transport: ft}), fastRetry)
	col, ref := handle(t, c)

	cr, err := col.Create(ctx, map[string]int{"n": 0}, client.WithID("r"))
	if err != nil {
		t.Fatal(err)
	}
	if ft.count(http.MethodPost) != 2 || cr.OV != 0 || !cr.Duplicate || cr.Seq == 0 {
		t.Fatalf("create: %d POSTs, result %+v", ft.count(http.MethodPost), cr)
	}
	ft.mu.Lock()
	ft.drop = 1
	ft.mu.Unlock()
	up, err := col.Update(ctx, "r", map[string]int{"n": 1}, client.WithExpectedOV(0))
	if err != nil {
		t.Fatal(err)
	}
	if ft.count(http.MethodPut) != 2 || up.OV != 1 || !up.Duplicate {
		t.Fatalf("update: %d PUTs, result %+v", ft.count(http.MethodPut), up)
	}
	// The log holds exactly two events of the item: ov 0 and ov 1.
	item := ref.Item("r")
	first, err := srv.Log.NextOfItem(ctx, item, 0)
	if err != nil || first.Seq != cr.Seq || first.Event.OV != 0 {
		t.Fatalf("first event %+v %v", first, err)
	}
	second, err := srv.Log.NextOfItem(ctx, item, first.Seq+1)
	if err != nil || second.Seq != up.Seq || second.Event.OV != 1 || string(second.Event.Payload) != `{"n":1}` {
		t.Fatalf("second event %+v %v", second, err)
	}
	if r, err := srv.Log.NextOfItem(ctx, item, second.Seq+1); !errors.Is(err, clog.ErrNotFound) {
		t.Fatalf("a third event: %+v %v", r, err)
	}
}

// 5xx and 429 are retried (Retry-After honoured); reads are retried too;
// NoRetry sends once; an atomic batch is never repeated after it may have
// reached the server.
func TestRetryPolicy(t *testing.T) {
	ctx := context.Background()
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusBadGateway} {
		ft := faulty(method(http.MethodPost), 2)
		ft.fail = status
		col, _ := handle(t, newClient(t, client.WithHTTPClient(&http.Client{Transport: ft}), fastRetry))
		res, err := col.Create(ctx, map[string]int{})
		if err != nil || res.Duplicate || ft.count(http.MethodPost) != 3 {
			t.Fatalf("status %d: %d attempts, %+v %v", status, ft.count(http.MethodPost), res, err)
		}
	}

	ft := faulty(method(http.MethodPost), 10)
	ft.fail = http.StatusServiceUnavailable
	col, _ := handle(t, newClient(t, client.WithHTTPClient(&http.Client{Transport: ft}), client.WithRetry(client.NoRetry)))
	_, err := col.Create(ctx, map[string]int{})
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 503 || ft.count(http.MethodPost) != 1 {
		t.Fatalf("NoRetry: %d attempts, %v", ft.count(http.MethodPost), err)
	}

	ft = faulty(method(http.MethodGet), 1)
	col, _ = handle(t, newClient(t, client.WithHTTPClient(&http.Client{Transport: ft}), fastRetry))
	if _, err := col.Get(ctx, "nothing"); !errors.Is(err, client.ErrNotFound) || ft.count(http.MethodGet) != 2 {
		t.Fatalf("read: %d attempts, %v", ft.count(http.MethodGet), err)
	}

	ft = faulty(method(http.MethodPost), 1)
	col, _ = handle(t, newClient(t, client.WithHTTPClient(&http.Client{Transport: ft}), fastRetry))
	if _, err := col.Batch(ctx, []client.Record{{Data: map[string]int{}}}, true); !errors.Is(err, io.ErrUnexpectedEOF) || ft.count(http.MethodPost) != 1 {
		t.Fatalf("atomic batch: %d attempts, %v", ft.count(http.MethodPost), err)
	}

	// The retries stop when the context ends.
	ft = faulty(method(http.MethodPost), 1000)
	ft.fail = http.StatusServiceUnavailable
	col, _ = handle(t, newClient(t, client.WithHTTPClient(&http.Client{Transport: ft}),
		client.WithRetry(client.RetryPolicy{MaxAttempts: 1000, InitialInterval: 10 * time.Millisecond})))
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if _, err := col.Create(tctx, map[string]int{}); !errors.As(err, &ae) || time.Since(begin) > 5*time.Second {
		t.Fatalf("retries under a deadline: %v after %s", err, time.Since(begin))
	}
}

// recorder keeps the headers of every request sent through the real
// transport.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	hdr  []http.Header
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.hdr = append(r.hdr, req.Header.Clone())
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func TestRequestHeaders(t *testing.T) {
	rec := &recorder{next: http.DefaultTransport}
	c := newClient(t, client.WithHTTPClient(&http.Client{Transport: rec}), client.WithAPIKey("k-123"), client.WithUserAgent("probe/2"))
	col, _ := handle(t, c)
	ctx := context.Background()
	must(t)(col.Create(ctx, map[string]int{}, client.WithID("h")))
	key := "my-key-" + client.NewID()
	must(t)(col.Create(ctx, map[string]int{}, client.WithIdempotencyKey(key)))
	must(t)(col.Update(ctx, "h", map[string]int{"a": 1}, client.WithExpectedOV(0)))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	h0, h1, h2 := rec.hdr[0], rec.hdr[1], rec.hdr[2]
	if h0.Get("Authorization") != "Bearer k-123" || h0.Get("User-Agent") != "probe/2" || h0.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", h0)
	}
	if len(h0.Get("Idempotency-Key")) != 26 || h0.Get("Idempotency-Key") == h2.Get("Idempotency-Key") || h1.Get("Idempotency-Key") != key {
		t.Fatalf("idempotency keys %q %q %q", h0.Get("Idempotency-Key"), h1.Get("Idempotency-Key"), h2.Get("Idempotency-Key"))
	}
	if h2.Get("If-Match") != `"0"` {
		t.Fatalf("If-Match %q", h2.Get("If-Match"))
	}
}
