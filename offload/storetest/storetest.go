// Package storetest is the conformance suite of offload.Store: every backend
// (local, S3, Azure) and every wrapper (tenant prefix, metrics, fault
// injection with faults off) must pass Run unchanged. It checks the
// guarantees written in the offload.Store doc comments, against the real
// backend, nothing mocked.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronos-go/chronos/offload"
)

// Features states the real differences between backends that the suite must
// allow for. It is deliberately small: S3, Azure Blob Storage and the local
// disk agree on everything the suite checks (byte-ordered listing, atomic
// replacement, ErrNotFound, key rules), so there is no field for them. A new
// field belongs here only when a backend differs in a way callers must also
// respect, never to skip a guarantee.
type Features struct {
	// MaxConcurrentPuts bounds how many Puts the suite runs at once when it
	// writes many objects (1,050 for the pagination case). 0 means 16. Lower
	// it for a backend or test account that throttles parallel writes. The
	// eight concurrent Puts of one key always run, whatever this says: they
	// are the atomicity check.
	MaxConcurrentPuts int
	// MaxKeyLen is the longest key the store holds, in bytes; 0 means
	// offload.MaxKeyLen. Only a wrapper that lengthens keys has a shorter
	// limit (a tenant prefix of n bytes leaves offload.MaxKeyLen-n), which
	// its callers must respect too.
	MaxKeyLen int
	// ListOrderUTF16 states that List orders keys, and compares them with
	// StartAfter, by their UTF-16 code units rather than by their UTF-8
	// bytes. Azure Blob Storage does (measured on Azure by others, and on
	// Azurite here), whatever the offload.Reader contract says. The two
	// orders differ only where, at the first difference of two keys, one
	// has a character in U+E000–U+FFFF (private use, CJK compatibility,
	// half- and full-width forms, U+FFFD) and the other one above U+FFFF
	// (emoji, rare CJK): UTF-16 puts the latter first. Callers that merge
	// listings of different backends, or compare keys with the order of
	// List, must use the backend's order. Keys made of event tokens, such
	// as those of offload.VersionKey, sort the same in both.
	ListOrderUTF16 bool
}

func (f Features) maxConcurrentPuts() int {
	if f.MaxConcurrentPuts <= 0 {
		return 16
	}
	return f.MaxConcurrentPuts
}

func (f Features) maxKeyLen() int {
	if f.MaxKeyLen <= 0 {
		return offload.MaxKeyLen
	}
	return f.MaxKeyLen
}

// modTimeSlack is how far an ObjectInfo.ModTime may be from the test's clock
// around the write. S3 reports whole seconds; a minute also absorbs the clock
// skew of a remote server while still catching zero, epoch or time-zone bugs.
const modTimeSlack = time.Minute

// Run runs every case as its own subtest, each on a fresh, empty store from
// newStore (which should register its own cleanup with t.Cleanup). The
// store's presigned URLs must be fetchable with a plain http.Get from the
// test: a local store needs a PresignBaseURL served by its ServePresigned.
// The Presign case waits three seconds for a URL to expire.
func Run(t *testing.T, newStore func(t *testing.T) offload.Store, f Features) {
	cases := []struct {
		name string
		fn   func(*testing.T, offload.Store, Features)
	}{
		{"PutGetStat", testPutGetStat},
		{"PutUnknownSize", testPutUnknownSize},
		{"PutSizeMismatch", testPutSizeMismatch},
		{"PutReaderError", testPutReaderError},
		{"Overwrite", testOverwrite},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"InvalidKeys", testInvalidKeys},
		{"SpecialCharacters", testSpecialCharacters},
		{"LargeObject", testLargeObject},
		{"ConcurrentPutsOneKey", testConcurrentPutsOneKey},
		{"Cancelled", testCancelled},
		{"ListOrder", testListOrder},
		{"ListPrefix", testListPrefix},
		{"ListStartAfter", testListStartAfter},
		{"ListPagination", testListPagination},
		{"Presign", testPresign},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newStore(t), f) })
	}
}

func testPutGetStat(t *testing.T, s offload.Store, _ Features) {
	for _, size := range []int{0, 1, 100 << 10} {
		key := fmt.Sprintf("coll/item/v%d/item.json", size)
		data := randomBytes(t, size)
		before := time.Now()
		put(t, s, key, data)
		after := time.Now()

		got, gi := get(t, s, key)
		if !bytes.Equal(got, data) {
			t.Fatalf("Get(%q) returned %d bytes that differ from the %d put", key, len(got), len(data))
		}
		checkInfo(t, "Get", gi, key, int64(size), before, after)
		si, err := s.Stat(t.Context(), key)
		if err != nil {
			t.Fatalf("Stat(%q): %v", key, err)
		}
		checkInfo(t, "Stat", si, key, int64(size), before, after)
	}
}

func testPutUnknownSize(t *testing.T, s offload.Store, _ Features) {
	data := randomBytes(t, 300<<10)
	if err := s.Put(t.Context(), "u/item.json", onlyReader(data), -1); err != nil {
		t.Fatalf("Put with size -1: %v", err)
	}
	got, info := get(t, s, "u/item.json")
	if !bytes.Equal(got, data) || info.Size != int64(len(data)) {
		t.Fatalf("got %d bytes (info says %d), want %d", len(got), info.Size, len(data))
	}
}

func testPutSizeMismatch(t *testing.T, s offload.Store, _ Features) {
	old := []byte("old version")
	put(t, s, "m/existing", old)
	data := randomBytes(t, 64<<10)
	for _, size := range []int64{int64(len(data)) - 1, int64(len(data)) + 1} {
		for _, key := range []string{"m/existing", "m/new"} {
			err := s.Put(t.Context(), key, onlyReader(data), size)
			if !errors.Is(err, offload.ErrSizeMismatch) {
				t.Fatalf("Put(%q) of %d bytes with size %d: err = %v, want ErrSizeMismatch", key, len(data), size, err)
			}
		}
	}
	if got, _ := get(t, s, "m/existing"); !bytes.Equal(got, old) {
		t.Fatal("a failed Put changed the existing object")
	}
	expectNotFound(t, s, "m/new")
}

var errBoom = errors.New("storetest: reader failed")

func testPutReaderError(t *testing.T, s offload.Store, f Features) {
	old := []byte("old version")
	put(t, s, "r/existing", old)
	for _, key := range []string{"r/existing", "r/new"} {
		r := io.MultiReader(bytes.NewReader(randomBytes(t, 128<<10)), &failingReader{err: errBoom})
		if err := s.Put(t.Context(), key, r, 1<<20); !errors.Is(err, errBoom) {
			t.Fatalf("Put(%q) with a failing reader: err = %v, want it to wrap the reader's error", key, err)
		}
	}
	if got, _ := get(t, s, "r/existing"); !bytes.Equal(got, old) {
		t.Fatal("a failed Put changed the existing object")
	}
	expectNotFound(t, s, "r/new")
	if keys := listKeys(t, s, f, offload.ListOptions{Prefix: "r/"}); len(keys) != 1 {
		t.Fatalf("List after failed Puts = %q, want only r/existing", keys)
	}
}

func testOverwrite(t *testing.T, s offload.Store, f Features) {
	first, second := randomBytes(t, 10<<10), []byte("shorter")
	put(t, s, "o/item.json", first)
	put(t, s, "o/item.json", second)
	if got, info := get(t, s, "o/item.json"); !bytes.Equal(got, second) || info.Size != int64(len(second)) {
		t.Fatalf("after overwrite Get = %q (size %d), want %q", got, info.Size, second)
	}
	put(t, s, "o/item.json", second) // idempotent
	if keys := listKeys(t, s, f, offload.ListOptions{}); len(keys) != 1 {
		t.Fatalf("List after overwrites = %q, want one key", keys)
	}
}

func testNotFound(t *testing.T, s offload.Store, _ Features) {
	expectNotFound(t, s, "missing/key")
	if err := s.Delete(t.Context(), "missing/key"); err != nil {
		t.Fatalf("Delete of a missing key: %v, want nil", err)
	}
	// A "directory" of stored keys, or a prefix of one, is not an object.
	put(t, s, "coll/item/v0/item.json", []byte("x"))
	for _, key := range []string{"coll", "coll/item", "coll/item/v0", "coll/item/v0/item", "coll/ite"} {
		expectNotFound(t, s, key)
		if err := s.Delete(t.Context(), key); err != nil {
			t.Fatalf("Delete(%q) of a non-object: %v", key, err)
		}
	}
	if got, _ := get(t, s, "coll/item/v0/item.json"); string(got) != "x" {
		t.Fatal("deleting a prefix of a key changed the object")
	}
}

func testDelete(t *testing.T, s offload.Store, f Features) {
	for _, k := range []string{"d/x/1", "d/x/2", "d/y"} {
		put(t, s, k, []byte(k))
	}
	mustDelete(t, s, "d/x/1")
	expectNotFound(t, s, "d/x/1")
	expectKeys(t, s, f, offload.ListOptions{Prefix: "d/"}, "d/x/2", "d/y")
	mustDelete(t, s, "d/x/2")
	mustDelete(t, s, "d/x/2") // again: not an error
	expectKeys(t, s, f, offload.ListOptions{Prefix: "d/"}, "d/y")
	put(t, s, "d/x/3", []byte("again")) // into a "directory" emptied by Delete
	if got, _ := get(t, s, "d/x/3"); string(got) != "again" {
		t.Fatalf("Get after re-put = %q", got)
	}
	expectKeys(t, s, f, offload.ListOptions{Prefix: "d/"}, "d/x/3", "d/y")
}

func testLargeObject(t *testing.T, s offload.Store, _ Features) {
	data := randomBytes(t, 20<<20)
	want := sha256.Sum256(data)
	if err := s.Put(t.Context(), "large/item.json", onlyReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put of 20 MiB: %v", err)
	}
	rc, info, err := s.Get(t.Context(), "large/item.json")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("reading 20 MiB: %v", err)
	}
	if n != int64(len(data)) || info.Size != n || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("read %d bytes (info %d), sha256 equal: %v", n, info.Size, bytes.Equal(h.Sum(nil), want[:]))
	}
}

// testConcurrentPutsOneKey races eight Puts of different contents to one key
// while a reader keeps reading it: every read and the final object must be
// exactly one of the versions written, never a mix or a prefix.
func testConcurrentPutsOneKey(t *testing.T, s offload.Store, _ Features) {
	const key = "race/item.json"
	versions := map[[32]byte]bool{}
	initial := randomBytes(t, 256<<10)
	versions[sha256.Sum256(initial)] = true
	put(t, s, key, initial)
	contents := make([][]byte, 8)
	for i := range contents {
		contents[i] = randomBytes(t, 256<<10)
		versions[sha256.Sum256(contents[i])] = true
	}

	var writers sync.WaitGroup
	errs := make(chan error, len(contents))
	for _, c := range contents {
		writers.Go(func() { errs <- s.Put(t.Context(), key, bytes.NewReader(c), int64(len(c))) })
	}
	done := make(chan struct{})
	go func() { writers.Wait(); close(done) }()
	// Read until the writers are done; on a bad read, still wait for them
	// before failing, so that no Put outlives the test's store.
	var bad error
	for reads, stop := 1, false; !stop && bad == nil; reads++ {
		select {
		case <-done:
			stop = true
		default:
		}
		got, err := getBytes(s, key)
		switch {
		case err != nil:
			bad = fmt.Errorf("read %d during the Puts: %w", reads, err)
		case !versions[sha256.Sum256(got)]:
			bad = fmt.Errorf("read %d: %d bytes that are none of the versions written (torn write)", reads, len(got))
		}
	}
	<-done
	if bad != nil {
		t.Fatal(bad)
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Put: %v", err)
		}
	}
	final, _ := get(t, s, key)
	if sum := sha256.Sum256(final); !versions[sum] || bytes.Equal(final, initial) {
		t.Fatal("final object is not exactly one of the eight concurrent versions")
	}
}

func testCancelled(t *testing.T, s offload.Store, f Features) {
	put(t, s, "c/existing", []byte("old"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	expectCanceled := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: err = %v, want context.Canceled", op, err)
		}
	}
	expectCanceled("Put", s.Put(ctx, "c/new", strings.NewReader("x"), 1))
	_, _, err := s.Get(ctx, "c/existing")
	expectCanceled("Get", err)
	_, err = s.Stat(ctx, "c/existing")
	expectCanceled("Stat", err)
	_, err = s.List(ctx, offload.ListOptions{})
	expectCanceled("List", err)
	expectCanceled("Delete", s.Delete(ctx, "c/existing"))
	_, err = s.Presign(ctx, "c/existing", time.Minute)
	expectCanceled("Presign", err)

	// Cancelled in the middle of the upload.
	for _, key := range []string{"c/new", "c/existing"} {
		ctx, cancel := context.WithCancel(t.Context())
		r := io.MultiReader(bytes.NewReader(randomBytes(t, 256<<10)), &cancellingReader{cancel: cancel},
			bytes.NewReader(randomBytes(t, 4<<20)))
		expectCanceled("Put cancelled midway", s.Put(ctx, key, r, -1))
		cancel()
	}
	expectNotFound(t, s, "c/new")
	if got, _ := get(t, s, "c/existing"); string(got) != "old" {
		t.Fatalf("cancelled Puts and Delete changed the existing object: %q", got)
	}
	expectKeys(t, s, f, offload.ListOptions{}, "c/existing")
}
