package azure

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf16"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/chronos-go/chronos/internal/testenv"
	"github.com/chronos-go/chronos/offload"
)

func TestCompareKeys(t *testing.T) {
	oracle := func(a, b string) int {
		return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
	}
	runes := []rune{'a', '/', 'z', 0x7f, 0xe9, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xff61, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x20000, 0x10ffff}
	r := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		var b strings.Builder
		for range r.IntN(4) {
			b.WriteRune(runes[r.IntN(len(runes))])
		}
		return b.String()
	}
	for range 20000 {
		a, b := word(), word()
		if got, want := CompareKeys(a, b), oracle(a, b); got != want {
			t.Fatalf("CompareKeys(%q, %q) = %d, want %d", a, b, got, want)
		}
	}
	if CompareKeys("x/😀", "x/\uff61") >= 0 || strings.Compare("x/😀", "x/\uff61") <= 0 {
		t.Fatal("the orders should disagree on an emoji against U+FF61")
	}
}

// countingTransport counts List Blobs requests and the blobs they return.
type countingTransport struct {
	lists atomic.Int64
}

func (c *countingTransport) Do(req *http.Request) (*http.Response, error) {
	if req.URL.Query().Get("comp") == "list" {
		c.lists.Add(1)
	}
	return http.DefaultClient.Do(req)
}

func newCountingStore(t *testing.T, srv *testenv.Azure) (*Store, *countingTransport) {
	t.Helper()
	ct := &countingTransport{}
	s, err := newWithOptions(t.Context(), testConfig(srv), &container.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: policy.Transporter(ct)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.client.Delete(t.Context(), nil) })
	return s, ct
}

func walk(t *testing.T, s *Store, o offload.ListOptions) []string {
	t.Helper()
	var keys []string
	for {
		page, err := s.List(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range page.Objects {
			keys = append(keys, obj.Key)
		}
		if page.Next == "" {
			return keys
		}
		o.StartAfter = page.Next
	}
}

func putKeys(t *testing.T, s *Store, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := s.Put(t.Context(), k, strings.NewReader("x"), 1); err != nil {
			t.Fatal(err)
		}
	}
}

// TestListWalkCost checks that following Next costs one request per page.
func TestListWalkCost(t *testing.T) {
	srv := testenv.StartAzure(t)
	s, ct := newCountingStore(t, srv)
	var keys []string
	for i := range 60 {
		keys = append(keys, fmt.Sprintf("w/%03d", i))
	}
	putKeys(t, s, keys...)
	ct.lists.Store(0)
	if got := walk(t, s, offload.ListOptions{Prefix: "w/", Limit: 7}); !slices.Equal(got, keys) {
		t.Fatalf("walk = %q", got)
	}
	if n := ct.lists.Load(); n > 10 { // 9 pages
		t.Errorf("a walk of 9 pages made %d List Blobs requests, want one per page", n)
	}
}

// TestListRememberedTokenMovedOn plants the case where a remembered token
// starts after the StartAfter it is for (on Azure, whose tokens name the
// next blob, that happens when blobs are created before that blob; on
// Azurite, whose tokens name the last blob returned, it cannot happen, so
// the test plants a genuine token of a later position). List must notice
// and still return every blob after StartAfter.
func TestListRememberedTokenMovedOn(t *testing.T) {
	srv := testenv.StartAzure(t)
	s, _ := newCountingStore(t, srv)
	putKeys(t, s, "m/a1", "m/a2", "m/a7", "m/b1", "m/b2")
	// A token from which Azure lists what follows m/b1.
	resp, err := s.client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
		Prefix: to.Ptr("m/"), MaxResults: to.Ptr[int32](4),
	}).NextPage(t.Context())
	if err != nil || resp.NextMarker == nil || *resp.NextMarker == "" {
		t.Fatalf("listing: %v", err)
	}
	s.remember(markerKey{"m/", "m/a6"}, marker{token: *resp.NextMarker, skip: 1})
	got := walk(t, s, offload.ListOptions{Prefix: "m/", StartAfter: "m/a6", Limit: 2})
	if want := []string{"m/a7", "m/b1", "m/b2"}; !slices.Equal(got, want) {
		t.Fatalf("after m/a6: %q, want %q", got, want)
	}
}
