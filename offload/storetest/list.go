package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chronos-go/chronos/offload"
)

// testListOrder uses keys whose byte order differs from the order of a
// directory walk: '-', '.', ' ', '+', ',', '(' and '!' sort before '/', so
// "o/a-b/x" comes before "o/a/x" although the directory "a" sorts first.
// The last keys are where byte order and UTF-16 order disagree
// (Features.ListOrderUTF16): an emoji and a supplementary CJK character
// against U+E000, U+FF61 and U+FFFD. Every StartAfter between them must
// resume the walk without skipping or repeating a key.
func testListOrder(t *testing.T, s offload.Store, f Features) {
	keys := []string{
		"o/a/x", "o/a/x0", "o/a/x-1", "o/a-b/x", "o/a.b", "o/a b/x", "o/a+/x", "o/a=/x",
		"o/a_/x", "o/a0", "o/A/x", "o/a!", "o/a,b/x", "o/a(/x", "o/é/x", "o/z", "o/Z/a/b/c",
		"o/u/\uE000", "o/u/\uFF61x", "o/u/\uFFFD", "o/u/😀", "o/u/😀x", "o/u/\U00020000", "o/u/\uD7FF",
	}
	for _, k := range keys {
		put(t, s, k, []byte(k))
	}
	expectKeys(t, s, f, offload.ListOptions{}, keys...)
	expectKeys(t, s, f, offload.ListOptions{Limit: 3}, keys...)
	expectKeys(t, s, f, offload.ListOptions{Prefix: "o/u/", Limit: 1}, keys[len(keys)-7:]...)
	for _, after := range keys[len(keys)-7:] {
		var want []string
		for _, k := range keys {
			if strings.HasPrefix(k, "o/u/") && f.compare(k, after) > 0 {
				want = append(want, k)
			}
		}
		expectKeys(t, s, f, offload.ListOptions{Prefix: "o/u/", StartAfter: after}, want...)
	}
}

func testListPrefix(t *testing.T, s offload.Store, f Features) {
	keys := []string{
		"coll/item1/v0/item.json", "coll/item1/v1/item.json", "coll/item10/v0/item.json",
		"coll/item1-x/v0/item.json", "coll/item2/v0/item.json", "coll2/item1/v0/item.json",
		"col/x", "colm",
	}
	for _, k := range keys {
		put(t, s, k, []byte(k))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", keys},
		{"coll/item1", []string{"coll/item1/v0/item.json", "coll/item1/v1/item.json", "coll/item10/v0/item.json", "coll/item1-x/v0/item.json"}},
		{"coll/item1/", []string{"coll/item1/v0/item.json", "coll/item1/v1/item.json"}},
		{"coll/item1/v", []string{"coll/item1/v0/item.json", "coll/item1/v1/item.json"}},
		{"coll/", []string{"coll/item1/v0/item.json", "coll/item1/v1/item.json", "coll/item10/v0/item.json", "coll/item1-x/v0/item.json", "coll/item2/v0/item.json"}},
		{"coll", slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == "col/x" || k == "colm" })},
		{"col", keys},
		{"coll/item1/v0/item.json", []string{"coll/item1/v0/item.json"}},
		{"coll/item1/v0/item.json/", nil},
		{"colm/", nil},
		{"zzz", nil},
	}
	for _, tt := range tests {
		expectKeys(t, s, f, offload.ListOptions{Prefix: tt.prefix}, tt.want...)
		expectKeys(t, s, f, offload.ListOptions{Prefix: tt.prefix, Limit: 1}, tt.want...)
	}
}

func testListStartAfter(t *testing.T, s offload.Store, f Features) {
	for _, k := range []string{"s/a", "s/b/1", "s/b/2", "s/b-1", "s/c", "s/d/e/f"} {
		put(t, s, k, []byte(k))
	}
	tests := []struct {
		prefix, after string
		want          []string
	}{
		{"", "", []string{"s/a", "s/b-1", "s/b/1", "s/b/2", "s/c", "s/d/e/f"}},
		{"", "a", []string{"s/a", "s/b-1", "s/b/1", "s/b/2", "s/c", "s/d/e/f"}},
		{"", "s/a", []string{"s/b-1", "s/b/1", "s/b/2", "s/c", "s/d/e/f"}},
		{"", "s/b", []string{"s/b-1", "s/b/1", "s/b/2", "s/c", "s/d/e/f"}},
		{"", "s/b/", []string{"s/b/1", "s/b/2", "s/c", "s/d/e/f"}},
		{"", "s/b/1", []string{"s/b/2", "s/c", "s/d/e/f"}},
		{"", "s/b/15", []string{"s/b/2", "s/c", "s/d/e/f"}},
		{"", "s/c0", []string{"s/d/e/f"}},
		{"", "s/d", []string{"s/d/e/f"}},
		{"", "s/d/e/f", nil},
		{"", "t", nil},
		{"s/b/", "a", []string{"s/b/1", "s/b/2"}},
		{"s/b/", "s/b/1", []string{"s/b/2"}},
		{"s/b", "s/b-1", []string{"s/b/1", "s/b/2"}},
		{"s/b", "s/b/2", nil},
		{"s/", "s/c", []string{"s/d/e/f"}},
	}
	for _, tt := range tests {
		expectKeys(t, s, f, offload.ListOptions{Prefix: tt.prefix, StartAfter: tt.after}, tt.want...)
		expectKeys(t, s, f, offload.ListOptions{Prefix: tt.prefix, StartAfter: tt.after, Limit: 2}, tt.want...)
	}
}

// testListPagination writes 1,050 objects, more than one default page, in
// an item/version layout whose byte order is not numeric order, and walks
// them with several page sizes.
func testListPagination(t *testing.T, s offload.Store, f Features) {
	var keys []string
	for i := range 150 {
		for v := range 7 {
			keys = append(keys, fmt.Sprintf("p/item%d/v%d/item.json", i, v))
		}
	}
	work := make(chan string)
	var wg sync.WaitGroup
	for range f.maxConcurrentPuts() {
		wg.Go(func() {
			for k := range work {
				// t.Fatal must not be called off the test goroutine.
				if err := s.Put(t.Context(), k, bytes.NewReader([]byte(k)), int64(len(k))); err != nil {
					t.Errorf("Put(%q): %v", k, err)
				}
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	first, err := s.List(t.Context(), offload.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Next == "" || len(first.Objects) == 0 || len(first.Objects) > offload.DefaultListLimit {
		t.Fatalf("first default page: %d objects, Next %q; want 1..%d and a Next", len(first.Objects), first.Next, offload.DefaultListLimit)
	}
	for _, limit := range []int{0, 7, 5000} {
		expectKeys(t, s, f, offload.ListOptions{Limit: limit}, keys...)
	}
	expectKeys(t, s, f, offload.ListOptions{Prefix: "p/item1", Limit: 7}, slices.DeleteFunc(slices.Clone(keys), func(k string) bool {
		var i, v int
		fmt.Sscanf(k, "p/item%d/v%d/", &i, &v)
		return fmt.Sprint(i)[0] != '1'
	})...)
}
