package wrap_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/offload/wrap"
)

func TestValidatePrefix(t *testing.T) {
	for _, ok := range []string{"t/", "tenant-a/", "runtime/tenant/acme/", "日本/"} {
		if err := wrap.ValidatePrefix(ok); err != nil {
			t.Errorf("ValidatePrefix(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/", "t", "t//", "/t/", "../", "a/../", "t\x00/", strings.Repeat("s", 256) + "/"} {
		if err := wrap.ValidatePrefix(bad); !errors.Is(err, offload.ErrInvalidKey) {
			t.Errorf("ValidatePrefix(%q): err = %v, want ErrInvalidKey", bad, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Prefix with an invalid prefix did not panic")
		}
	}()
	wrap.Prefix(localStore(t), "no-slash")
}

func TestPrefixIsolation(t *testing.T) {
	inner := localStore(t)
	a, b := wrap.Prefix(inner, "t1/"), wrap.Prefix(inner, "t12/")
	for _, k := range []string{"c/i/v0", "c/i/v1", "d"} {
		if err := a.Put(t.Context(), k, strings.NewReader(k), int64(len(k))); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Put(t.Context(), "c/i/v0", strings.NewReader("b"), 1); err != nil {
		t.Fatal(err)
	}
	page, err := a.List(t.Context(), offload.ListOptions{Limit: 2})
	if err != nil || len(page.Objects) != 2 || page.Objects[0].Key != "c/i/v0" || page.Next != "c/i/v1" {
		t.Fatalf("a.List = %+v, %v", page, err)
	}
	page, err = a.List(t.Context(), offload.ListOptions{StartAfter: page.Next})
	if err != nil || len(page.Objects) != 1 || page.Objects[0].Key != "d" || page.Next != "" {
		t.Fatalf("a.List page 2 = %+v, %v", page, err)
	}
	page, err = b.List(t.Context(), offload.ListOptions{})
	if err != nil || len(page.Objects) != 1 {
		t.Fatalf("b sees %+v, %v; want only its own object", page, err)
	}
	if info, err := inner.Stat(t.Context(), "t1/c/i/v1"); err != nil || info.Key != "t1/c/i/v1" {
		t.Fatalf("inner store: %+v, %v", info, err)
	}
	if info, err := a.Stat(t.Context(), "c/i/v1"); err != nil || info.Key != "c/i/v1" {
		t.Fatalf("a.Stat: %+v, %v; want the key without the prefix", info, err)
	}
	// The prefix counts against the key length.
	long := strings.Repeat("k/", offload.MaxKeyLen/2-2) + "kk"
	if err := offload.ValidateKey(long); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(t.Context(), long, strings.NewReader("x"), 1); !errors.Is(err, offload.ErrInvalidKey) {
		t.Fatalf("a key too long with the prefix: err = %v", err)
	}
}
