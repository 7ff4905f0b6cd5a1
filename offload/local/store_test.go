package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/offload/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) offload.Store { return openServed(t, t.TempDir(), nil) }, storetest.Features{})
}

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func put(t *testing.T, s *Store, key, data string) {
	t.Helper()
	if err := s.Put(t.Context(), key, strings.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func read(t *testing.T, s *Store, key string) string {
	t.Helper()
	rc, _, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestFailedPutLeavesNoTempFile(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	attempts := []func() error{
		func() error {
			return s.Put(t.Context(), "k/a", io.MultiReader(strings.NewReader("partial"), errReader{}), -1)
		},
		func() error { return s.Put(t.Context(), "k/b", strings.NewReader("short"), 100) },
		func() error { return s.Put(ctx, "k/c", strings.NewReader("x"), 1) },
		func() error {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			r := io.MultiReader(bytes.NewReader(make([]byte, 1<<20)), readerFunc(func([]byte) (int, error) { cancel(); return 0, io.EOF }),
				bytes.NewReader(make([]byte, 1<<20)))
			return s.Put(ctx, "k/d", r, -1)
		},
	}
	for i, put := range attempts {
		if err := put(); err == nil {
			t.Fatalf("attempt %d: Put succeeded", i)
		}
		if names := dirEntries(t, filepath.Join(dir, "tmp")); len(names) != 0 {
			t.Fatalf("attempt %d left temporary files %q", i, names)
		}
	}
	if names := dirEntries(t, filepath.Join(dir, "objects")); len(names) != 0 {
		t.Fatalf("failed Puts left %q under objects/", names)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestReopenSeesObjects(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	put(t, s, "coll/item/v0/item.json", "v0")
	put(t, s, "coll/item/v1/item.json", "v1")

	s2 := open(t, dir)
	if got := read(t, s2, "coll/item/v1/item.json"); got != "v1" {
		t.Fatalf("after reopen Get = %q", got)
	}
	page, err := s2.List(t.Context(), offload.ListOptions{Prefix: "coll/"})
	if err != nil || len(page.Objects) != 2 {
		t.Fatalf("after reopen List = %+v, %v", page, err)
	}
}

func TestOpenRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	stale, fresh := filepath.Join(dir, "tmp", "put-stale"), filepath.Join(dir, "tmp", "put-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleTempAge)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	open(t, dir)
	if names := dirEntries(t, filepath.Join(dir, "tmp")); len(names) != 1 || names[0] != "put-fresh" {
		t.Fatalf("tmp/ after Open = %q, want only the fresh file (a Put in progress elsewhere)", names)
	}
}

// TestKeyAndItsDirectory checks the one key rule a file system enforces:
// "a" and "a/b" cannot both be objects. The loser fails cleanly.
func TestKeyAndItsDirectory(t *testing.T) {
	s := open(t, t.TempDir())
	put(t, s, "x/file", "file")
	if err := s.Put(t.Context(), "x/file/child", strings.NewReader("c"), 1); !errors.Is(err, offload.ErrInvalidKey) {
		t.Fatalf("Put under an object: err = %v, want ErrInvalidKey", err)
	}
	put(t, s, "y/dir/child", "child")
	if err := s.Put(t.Context(), "y/dir", strings.NewReader("d"), 1); !errors.Is(err, offload.ErrInvalidKey) {
		t.Fatalf("Put onto a directory of keys: err = %v, want ErrInvalidKey", err)
	}
	if got := read(t, s, "x/file"); got != "file" {
		t.Fatalf("x/file = %q", got)
	}
	if got := read(t, s, "y/dir/child"); got != "child" {
		t.Fatalf("y/dir/child = %q", got)
	}
	if _, err := s.Stat(t.Context(), "x/file/child"); !errors.Is(err, offload.ErrNotFound) {
		t.Fatalf("Stat below an object: err = %v, want ErrNotFound", err)
	}
}

func TestDeleteRemovesEmptyDirectories(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	put(t, s, "c/i/v0/item.json", "0")
	put(t, s, "c/i/v1/item.json", "1")
	for _, k := range []string{"c/i/v0/item.json", "c/i/v1/item.json"} {
		if err := s.Delete(t.Context(), k); err != nil {
			t.Fatal(err)
		}
	}
	if names := dirEntries(t, filepath.Join(dir, "objects")); len(names) != 0 {
		t.Fatalf("objects/ after deleting everything = %q, want empty (and present)", names)
	}
	// An empty directory left behind (by a crash mid-Delete) does not block
	// a Put of that name.
	if err := os.MkdirAll(filepath.Join(dir, "objects", "e", "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	put(t, s, "e/empty", "now a file")
	if got := read(t, s, "e/empty"); got != "now a file" {
		t.Fatalf("got %q", got)
	}
}

func TestGetBodyHonoursContext(t *testing.T) {
	s := open(t, t.TempDir())
	put(t, s, "big", strings.Repeat("x", 1<<20))
	ctx, cancel := context.WithCancel(t.Context())
	rc, _, err := s.Get(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: err = %v, want context.Canceled", err)
	}
}

func TestListSkipsForeignFiles(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	put(t, s, "a/ok", "ok")
	// Files no valid key can name (written by hand or another tool).
	if err := os.WriteFile(filepath.Join(dir, "objects", "a", "back\\slash"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("ok", filepath.Join(dir, "objects", "a", "link")); err != nil {
		t.Fatal(err)
	}
	page, err := s.List(t.Context(), offload.ListOptions{})
	if err != nil || len(page.Objects) != 1 || page.Objects[0].Key != "a/ok" {
		t.Fatalf("List = %+v, %v; want only a/ok", page, err)
	}
}

// TestConcurrentPutDeleteSiblings races Puts into a directory that Deletes
// of its other keys keep emptying and removing: every Put must still land.
func TestConcurrentPutDeleteSiblings(t *testing.T) {
	s := open(t, t.TempDir())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				key := fmt.Sprintf("c/item/v%d-%d/item.json", w, i)
				if err := s.Put(t.Context(), key, strings.NewReader("x"), 1); err != nil {
					t.Errorf("Put(%q): %v", key, err)
					return
				}
				if err := s.Delete(t.Context(), key); err != nil {
					t.Errorf("Delete(%q): %v", key, err)
					return
				}
			}
		})
	}
	wg.Wait()
	page, err := s.List(t.Context(), offload.ListOptions{})
	if err != nil || len(page.Objects) != 0 {
		t.Fatalf("List after all deletes = %+v, %v", page, err)
	}
}
