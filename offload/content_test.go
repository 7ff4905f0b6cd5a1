package offload

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chronos-go/chronos/tenancy"
)

func TestContentKey(t *testing.T) {
	tests := []struct {
		prop string
		text bool
		want string
	}{
		{"file", false, "docs/01J9ZK/v3/file/blob.bin"},
		{"note", true, "docs/01J9ZK/v3/note/text.txt"},
		{"photo.png", false, "docs/01J9ZK/v3/photo.png/blob.bin"},
	}
	for _, tt := range tests {
		got := ContentKey("docs", "01J9ZK", 3, tt.prop, tt.text)
		if got != tt.want {
			t.Errorf("ContentKey(%q, %v) = %q, want %q", tt.prop, tt.text, got, tt.want)
		}
		if err := ValidateKey(got); err != nil {
			t.Error(err)
		}
	}
}

// No object of the layout is the "directory" of another, for every
// codec and for props named like the version payload without being it.
func TestContentLayoutKeysAreLeaves(t *testing.T) {
	var keys []string
	for _, c := range []Codec{CodecZstd, CodecS2, CodecNone} {
		keys = append(keys, VersionKey("docs", "a", 1, c), VersionKey("docs", "a", 10, c))
	}
	for _, prop := range []string{"file", "item-json", "itemjson", "v1", "blob.bin", "text.txt"} {
		for _, text := range []bool{false, true} {
			keys = append(keys, ContentKey("docs", "a", 1, prop, text), ContentKey("docs", "a", 10, prop, text))
		}
	}
	for _, a := range keys {
		for _, b := range keys {
			if strings.HasPrefix(b, a+"/") {
				t.Errorf("%q is a directory of %q", a, b)
			}
		}
	}
}

func TestContentDecode(t *testing.T) {
	bin := []byte{0, 1, 2, 0xfe, 0xff, '\n'}
	tests := []struct {
		name string
		p    ContentProp
		in   string
		want []byte
	}{
		{"binary padded", ContentProp{ContentType: "application/octet-stream"}, base64.StdEncoding.EncodeToString(bin), bin},
		{"binary unpadded", ContentProp{ContentType: "application/octet-stream"}, base64.RawStdEncoding.EncodeToString(bin), bin},
		{"binary is never transcoded", ContentProp{ContentType: "text/plain", Charset: "latin1"}, base64.StdEncoding.EncodeToString([]byte("caf\xe9")), []byte("caf\xe9")},
		{"utf-8 default", ContentProp{ContentType: "text/plain", Text: true}, base64.StdEncoding.EncodeToString([]byte("Grüße")), []byte("Grüße")},
		{"utf-8 invalid bytes", ContentProp{ContentType: "text/plain", Text: true, Charset: "UTF8"}, base64.StdEncoding.EncodeToString([]byte("a\xffb")), []byte("a\uFFFDb")},
		{"latin1", ContentProp{ContentType: "text/plain", Text: true, Charset: "latin1"}, base64.StdEncoding.EncodeToString([]byte("Gr\xfc\xdfe, caf\xe9")), []byte("Grüße, café")},
		{"iso-8859-1", ContentProp{ContentType: "text/plain", Text: true, Charset: "ISO-8859-1"}, base64.StdEncoding.EncodeToString([]byte{0x80, 0xa0, 0xff}), []byte("\u0080\u00a0\u00ff")},
		{"us-ascii", ContentProp{ContentType: "text/plain", Text: true, Charset: "us-ascii"}, base64.StdEncoding.EncodeToString([]byte("ok\xe9!")), []byte("ok\uFFFD!")},
	}
	for _, tt := range tests {
		got, err := tt.p.Decode(tt.in)
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("%s: Decode = %q, %v; want %q", tt.name, got, err, tt.want)
		}
		if tt.p.Text && !utf8.Valid(got) {
			t.Errorf("%s: text %q is not valid UTF-8", tt.name, got)
		}
	}
	if _, err := (ContentProp{}).Decode("not base64!"); !errors.Is(err, ErrNoContent) {
		t.Errorf("Decode of invalid base64: %v, want ErrNoContent", err)
	}
}

func TestContentOf(t *testing.T) {
	p := ContentProp{ContentType: "image/png"}
	doc := []byte(`{"a":"aGk=","n":null,"x":5,"bad":"%%%"}`)
	if got, err := ContentOf(doc, "a", p); err != nil || string(got) != "hi" {
		t.Errorf("ContentOf(a) = %q, %v", got, err)
	}
	for _, prop := range []string{"missing", "n", "x", "bad"} {
		if _, err := ContentOf(doc, prop, p); !errors.Is(err, ErrNoContent) || !strings.Contains(err.Error(), prop) {
			t.Errorf("ContentOf(%s): %v, want ErrNoContent naming it", prop, err)
		}
	}
}

func TestServedType(t *testing.T) {
	tests := []struct {
		p    ContentProp
		want string
	}{
		{ContentProp{ContentType: "application/pdf"}, "application/pdf"},
		{ContentProp{ContentType: "text/plain", Text: true}, "text/plain; charset=utf-8"},
		{ContentProp{ContentType: "text/csv; charset=latin1; header=present", Text: true, Charset: "latin1"}, "text/csv; charset=utf-8; header=present"},
	}
	for _, tt := range tests {
		if got := tt.p.ServedType(); got != tt.want {
			t.Errorf("ServedType(%+v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

// tenancy validates textCharset against its own list (it does not import
// offload): every name it accepts must be one the offloader transcodes.
func TestCharsetsMatchTenancy(t *testing.T) {
	for _, name := range tenancy.TextCharsets {
		for _, n := range []string{name, strings.ToUpper(name)} {
			if _, err := ParseCharset(n); err != nil {
				t.Errorf("tenancy accepts textCharset %q, offload does not: %v", n, err)
			}
		}
	}
	if _, err := ParseCharset("koi8-r"); err == nil {
		t.Error("ParseCharset accepted koi8-r")
	}
}
