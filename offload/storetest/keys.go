package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/offload"
)

func testInvalidKeys(t *testing.T, s offload.Store, f Features) {
	put(t, s, "a/b", []byte("x"))
	bad := []string{"", "/a", "a/", "a//b", ".", "..", "a/./b", "a/../b", "../a", "a\\b",
		"a\x00b", "a\nb", "a\x7f", "a\xffb", strings.Repeat("k", 1025), strings.Repeat("s", 256)}
	for _, key := range bad {
		ctx := t.Context()
		if err := s.Put(ctx, key, strings.NewReader("x"), 1); !errors.Is(err, offload.ErrInvalidKey) {
			t.Errorf("Put(%.30q): err = %v, want ErrInvalidKey", key, err)
		}
		if rc, _, err := s.Get(ctx, key); !errors.Is(err, offload.ErrInvalidKey) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("Get(%.30q): err = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, offload.ErrInvalidKey) {
			t.Errorf("Stat(%.30q): err = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, offload.ErrInvalidKey) {
			t.Errorf("Delete(%.30q): err = %v, want ErrInvalidKey", key, err)
		}
	}
	// List accepts any prefix; one no valid key begins with lists nothing.
	for _, prefix := range []string{"../", "a//", "a/../", "/a", "a\\"} {
		expectKeys(t, s, f, offload.ListOptions{Prefix: prefix})
	}
	expectKeys(t, s, f, offload.ListOptions{}, "a/b")
}

func testSpecialCharacters(t *testing.T, s offload.Store, f Features) {
	keys := []string{
		"sp/with-dash_and_underscore", "sp/a=b+c", "sp/with space/and more", "sp/plus+/x",
		"sp/tilde~at@comma,", "sp/percent%20literal", "sp/bang!(paren)'quote'",
		"sp/é/ü/ß", "sp/日本語/キー", "sp/emoji🙂", "sp/Ωmega",
		longestKey(f.maxKeyLen()),
	}
	if n := len(keys[len(keys)-1]); n != f.maxKeyLen() {
		t.Fatalf("longest test key is %d bytes, want %d", n, f.maxKeyLen())
	}
	for _, k := range keys {
		put(t, s, k, []byte("content of "+k))
	}
	expectKeys(t, s, f, offload.ListOptions{Prefix: "sp/"}, keys...)
	for _, k := range keys {
		if got, info := get(t, s, k); string(got) != "content of "+k || info.Key != k {
			t.Errorf("Get(%q) = %q (info key %q)", k, got, info.Key)
		}
		mustDelete(t, s, k)
	}
	expectKeys(t, s, f, offload.ListOptions{Prefix: "sp/"})
}

// longestKey returns a key of exactly n bytes (n >= 4) under "sp/" whose
// segments are as long as allowed (255 bytes) but for the last.
func longestKey(n int) string {
	var b strings.Builder
	b.WriteString("sp")
	for c := byte('l'); b.Len() < n; c++ {
		rest := n - b.Len() - 1 // bytes left after the next "/"
		seg := min(offload.MaxSegmentLen, rest)
		if rest-seg == 1 {
			seg-- // leave room for a last segment of two bytes, never "/"
		}
		b.WriteString("/" + strings.Repeat(string(c), seg))
	}
	return b.String()
}
