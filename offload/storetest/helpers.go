package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/offload"
)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// onlyReader hides every method of the underlying reader but Read (Seek,
// WriteTo, Len), as a network body would.
func onlyReader(b []byte) io.Reader {
	return struct{ io.Reader }{bytes.NewReader(b)}
}

type failingReader struct{ err error }

func (f *failingReader) Read([]byte) (int, error) { return 0, f.err }

// cancellingReader cancels the Put's context when the upload reaches it and
// then yields nothing, so the next reader continues the stream.
type cancellingReader struct{ cancel context.CancelFunc }

func (c *cancellingReader) Read([]byte) (int, error) {
	c.cancel()
	return 0, io.EOF
}

func put(t testing.TB, s offload.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(t testing.TB, s offload.Store, key string) ([]byte, offload.ObjectInfo) {
	t.Helper()
	rc, info, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return b, info
}

// getBytes is get for goroutines that must not call t.Fatal.
func getBytes(s offload.Store, key string) ([]byte, error) {
	rc, _, err := s.Get(context.Background(), key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func mustDelete(t testing.TB, s offload.Store, key string) {
	t.Helper()
	if err := s.Delete(context.Background(), key); err != nil {
		t.Fatalf("Delete(%q): %v", key, err)
	}
}

func expectNotFound(t testing.TB, s offload.Store, key string) {
	t.Helper()
	if rc, _, err := s.Get(context.Background(), key); !errors.Is(err, offload.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("Get(%q): err = %v, want ErrNotFound", key, err)
	}
	if _, err := s.Stat(context.Background(), key); !errors.Is(err, offload.ErrNotFound) {
		t.Fatalf("Stat(%q): err = %v, want ErrNotFound", key, err)
	}
}

func checkInfo(t testing.TB, op string, got offload.ObjectInfo, key string, size int64, before, after time.Time) {
	t.Helper()
	if got.Key != key || got.Size != size {
		t.Errorf("%s(%q) info = {Key %q, Size %d}, want {Key %q, Size %d}", op, key, got.Key, got.Size, key, size)
	}
	if got.ModTime.Before(before.Add(-modTimeSlack)) || got.ModTime.After(after.Add(modTimeSlack)) {
		t.Errorf("%s(%q) ModTime = %v, want within %v of %v", op, key, got.ModTime, modTimeSlack, before)
	}
}

// listKeys follows Next from o until the listing ends and checks the page
// contract on the way: pages within the limit, never empty unless last, keys
// matching o, and the whole walk in strictly ascending order (f's).
func listKeys(t testing.TB, s offload.Store, f Features, o offload.ListOptions) []string {
	t.Helper()
	limit := o.Limit
	if limit <= 0 {
		limit = offload.DefaultListLimit
	}
	var keys []string
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatalf("List(%+v) did not end after %d pages", o, pages)
		}
		page, err := s.List(context.Background(), o)
		if err != nil {
			t.Fatalf("List(%+v): %v", o, err)
		}
		if len(page.Objects) > limit {
			t.Fatalf("List(%+v) returned %d objects, over the limit", o, len(page.Objects))
		}
		if page.Next != "" && len(page.Objects) == 0 {
			t.Fatalf("List(%+v) returned an empty page with Next %q", o, page.Next)
		}
		for _, obj := range page.Objects {
			if !strings.HasPrefix(obj.Key, o.Prefix) || o.StartAfter != "" && f.compare(obj.Key, o.StartAfter) <= 0 {
				t.Fatalf("List(%+v) returned %q, outside the prefix or not after StartAfter", o, obj.Key)
			}
			if n := len(keys); n > 0 && f.compare(obj.Key, keys[n-1]) <= 0 {
				t.Fatalf("List(%+v) returned %q after %q: not in ascending %s", o, obj.Key, keys[n-1], f.orderName())
			}
			if obj.Size < 0 || obj.ModTime.IsZero() {
				t.Fatalf("List(%+v): %q has info %+v", o, obj.Key, obj)
			}
			keys = append(keys, obj.Key)
		}
		if page.Next == "" {
			return keys
		}
		o.StartAfter = page.Next
	}
}

// expectKeys checks that listing o gives exactly want, in f's order.
func expectKeys(t testing.TB, s offload.Store, f Features, o offload.ListOptions, want ...string) {
	t.Helper()
	want = slices.Clone(want)
	slices.SortFunc(want, f.compare)
	got := listKeys(t, s, f, o)
	if !slices.Equal(got, want) {
		t.Fatalf("List(%+v) =\n  %q\nwant\n  %q", o, got, want)
	}
}
