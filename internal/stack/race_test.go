package stack_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/chronos-go/chronos/client"
	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/stack"
	"github.com/chronos-go/chronos/offload"
)

// The write-path race: 50 writers update one item over HTTP, each with
// the version it last saw, re-reading it from the 409 on conflict, until
// versions 1..500 are written. Every version has exactly one winner, every
// loser is told the current version, the head ends as the last winner's
// document, and every version's blob holds its own document: none is
// overwritten or lost (the seed's update race deleted committed payloads).
func TestRaceOneItemFiftyWriters(t *testing.T) {
	const writers, target = 50, 500
	s := startStack(t, stack.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = writers
	c, err := client.New(s.URL(), client.WithHTTPClient(&http.Client{Transport: tr}), client.WithRetry(client.NoRetry))
	if err != nil {
		t.Fatal(err)
	}
	col := c.Collection(orders.DBType, orders.Tier, orders.Scope, orders.Name)
	const id = "contended"
	docs := map[uint64]string{0: `{"writer":-1,"try":0}`} // ov → the winner's document
	if _, err := col.Create(ctx, []byte(docs[0]), client.WithID(id)); err != nil {
		t.Fatal(err)
	}

	type loss struct {
		expected, current uint64
	}
	var (
		mu     sync.Mutex
		losses []loss
		wg     sync.WaitGroup
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ov := uint64(0)
			for try := 0; ov < target; try++ {
				doc := fmt.Sprintf(`{"writer":%d,"try":%d}`, w, try)
				res, err := col.Update(ctx, id, []byte(doc), client.WithExpectedOV(ov))
				var ce *client.ConflictError
				switch {
				case err == nil:
					mu.Lock()
					if prev, dup := docs[res.OV]; dup {
						t.Errorf("ov %d won twice: %s and %s", res.OV, prev, doc)
					}
					docs[res.OV] = doc
					mu.Unlock()
					if res.OV != ov+1 {
						t.Errorf("writer %d expected ov %d and wrote ov %d", w, ov, res.OV)
					}
					ov = res.OV
				case errors.As(err, &ce):
					mu.Lock()
					losses = append(losses, loss{expected: ce.ExpectedOV, current: ce.CurrentOV})
					mu.Unlock()
					if ce.ExpectedOV != ov {
						t.Errorf("conflict names expected ov %d, writer %d sent %d", ce.ExpectedOV, w, ov)
					}
					ov = ce.CurrentOV
				default:
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// Every ov 0..500 has exactly one winner (duplicates were caught above).
	if len(docs) != target+1 {
		t.Fatalf("%d versions won, want %d", len(docs), target+1)
	}
	for ov := uint64(0); ov <= target; ov++ {
		if docs[ov] == "" {
			t.Fatalf("no winner for ov %d", ov)
		}
	}
	// Every loser was told a version someone else had written after the
	// one it expected.
	for _, l := range losses {
		if l.current <= l.expected || l.current > target {
			t.Fatalf("a loser expecting ov %d was told the current ov is %d", l.expected, l.current)
		}
	}
	t.Logf("%d writes won, %d lost with 409", target, len(losses))

	// The head, once the projection has caught up, is the last winner's.
	var head *client.Item
	begin := time.Now()
	waitFor(t, 10*time.Minute, "the projection of ov 500", func() bool {
		var err error
		head, err = col.Get(ctx, id)
		return err == nil && head.System.OV == target
	})
	t.Logf("projection caught up %s after the last write", time.Since(begin).Round(time.Millisecond))
	if !jsonEqual(t, head.Data, []byte(docs[target])) {
		t.Fatalf("head %s, want %s", head.Data, docs[target])
	}
	// Every version's blob exists and holds its own document.
	store, err := s.Blobs(orders)
	if err != nil {
		t.Fatal(err)
	}
	ref := events.ItemRef{Collection: orders, ID: id}
	for ov := uint64(0); ov <= target; ov++ {
		var data []byte
		eventually(t, fmt.Sprintf("the blob of ov %d", ov), func() bool {
			var err error
			data, err = offload.ReadVersion(ctx, store, ref, ov, events.DefaultMaxPayload)
			if err != nil && !errors.Is(err, offload.ErrNotFound) {
				t.Fatalf("blob of ov %d: %v", ov, err)
			}
			return err == nil
		})
		if !jsonEqual(t, data, []byte(docs[ov])) {
			t.Fatalf("blob of ov %d holds %s, want %s", ov, data, docs[ov])
		}
	}
}

// waitFor polls f until it holds, or fails t after d.
func waitFor(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
