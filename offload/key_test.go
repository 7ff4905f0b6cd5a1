package offload

import (
	"errors"
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
