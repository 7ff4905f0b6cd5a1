package offload

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestValidateKey(t *testing.T) {
	seg := func(n int) string { return strings.Repeat("s", n) }
	// 255*4 + 1 bytes of segments and 4 slashes: exactly MaxKeyLen.
	longest := seg(255) + "/" + seg(255) + "/" + seg(255) + "/" + seg(254) + "/x"
	if len(longest) != MaxKeyLen {
		t.Fatalf("test key is %d bytes", len(longest))
	}
	tests := []struct {
		key     string
		wantErr error
	}{
		{"orders/01J9/v0/item.json.zst", nil},
		{"a", nil},
		{"a b/c-d_e=f+g/ü日本/ok.json", nil},
		{"a/.hidden/..x/x..", nil},
		{longest, nil},
		{seg(255), nil},
		{"", ErrInvalidKey},
		{longest + "x", ErrInvalidKey},
		{seg(256), ErrInvalidKey},
		{"/a", ErrInvalidKey},
		{"a/", ErrInvalidKey},
		{"a//b", ErrInvalidKey},
		{".", ErrInvalidKey},
		{"a/./b", ErrInvalidKey},
		{"..", ErrInvalidKey},
		{"a/../b", ErrInvalidKey},
		{"a/..", ErrInvalidKey},
		{"a\\b", ErrInvalidKey},
		{"a\x00b", ErrInvalidKey},
		{"a\nb", ErrInvalidKey},
		{"a\x7fb", ErrInvalidKey},
		{"a\u0085b", ErrInvalidKey},
		{"a\xffb", ErrInvalidKey},
	}
	for _, tt := range tests {
		err := ValidateKey(tt.key)
		if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("ValidateKey(%.40q) = %v, want %v", tt.key, err, tt.wantErr)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "chronos: invalid blob key ") {
			t.Errorf("error %q does not name the key", err)
		}
	}
}

func TestVersionKey(t *testing.T) {
	tests := []struct {
		c    Codec
		want string
	}{
		{CodecZstd, "orders/01J9ZK/v12/item.json.zst"},
		{CodecS2, "orders/01J9ZK/v12/item.json.s2"},
		{CodecNone, "orders/01J9ZK/v12/item.json"},
	}
	for _, tt := range tests {
		got := VersionKey("orders", "01J9ZK", 12, tt.c)
		if got != tt.want {
			t.Errorf("VersionKey(%s) = %q, want %q", tt.c, got, tt.want)
		}
		if err := ValidateKey(got); err != nil {
			t.Error(err)
		}
	}
}

func TestHeadKey(t *testing.T) {
	tests := []struct {
		c    Codec
		want string
	}{
		{CodecZstd, "orders/01J9ZK/head.json.zst"},
		{CodecS2, "orders/01J9ZK/head.json.s2"},
		{CodecNone, "orders/01J9ZK/head.json"},
	}
	for _, tt := range tests {
		got := HeadKey("orders", "01J9ZK", tt.c)
		if got != tt.want {
			t.Errorf("HeadKey(%s) = %q, want %q", tt.c, got, tt.want)
		}
		if err := ValidateKey(got); err != nil {
			t.Error(err)
		}
		if c, err := CodecFromKey(got); err != nil || c != tt.c {
			t.Errorf("CodecFromKey(%q) = %s, %v; want %s", got, c, err, tt.c)
		}
	}
}

// No head key is the "directory" of a version or content key, nor the
// other way round, so one bucket can hold heads, versions and content.
func TestHeadKeysAreLeaves(t *testing.T) {
	var heads, others []string
	for _, c := range []Codec{CodecZstd, CodecS2, CodecNone} {
		heads = append(heads, HeadKey("docs", "a", c), HeadKey("docs", "v1", c))
		others = append(others, VersionKey("docs", "a", 1, c), VersionKey("docs", "v1", 0, c))
	}
	for _, prop := range []string{"file", "head.json", "v1"} {
		others = append(others, ContentKey("docs", "a", 1, prop, false), ContentKey("docs", "a", 1, prop, true))
	}
	all := append(slices.Clone(heads), others...)
	for _, h := range heads {
		for _, k := range all {
			if strings.HasPrefix(k, h+"/") {
				t.Errorf("head key %q is a directory of %q", h, k)
			}
			if strings.HasPrefix(h, k+"/") {
				t.Errorf("%q is a directory of head key %q", k, h)
			}
		}
	}
}
