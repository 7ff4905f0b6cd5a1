package offload

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

var allCodecs = []Codec{CodecZstd, CodecS2, CodecNone}

func TestCodecRoundTrip(t *testing.T) {
	random := make([]byte, 1<<20)
	rand.Read(random)
	inputs := map[string][]byte{
		"empty":      {},
		"small":      []byte(`{"a":1}`),
		"1MiB-json":  corpus()[3].data[:1<<20],
		"1MiB-rand":  random,
		"iot-300B":   corpus()[0].data,
		"order-600B": corpus()[1].data,
	}
	for _, c := range allCodecs {
		for name, in := range inputs {
			t.Run(fmt.Sprintf("%s/%s", c, name), func(t *testing.T) {
				comp, err := Compress(c, in)
				if err != nil {
					t.Fatal(err)
				}
				if c != CodecNone && len(comp) == 0 {
					t.Fatal("compressed output is empty")
				}
				out, err := Decompress(c, comp, int64(len(in)))
				if err != nil {
					t.Fatalf("Decompress with maxSize = len(input): %v", err)
				}
				if !bytes.Equal(out, in) {
					t.Fatalf("round trip differs: got %d bytes, want %d", len(out), len(in))
				}
			})
		}
	}
}

func TestCompressedFormatsAreStandard(t *testing.T) {
	in := corpus()[2].data
	z, _ := Compress(CodecZstd, in)
	if out, err := zstd.DecodeTo(nil, z); err != nil || !bytes.Equal(out, in) {
		t.Fatalf("zstd frame not readable by a plain zstd decoder: %v", err)
	}
	s, _ := Compress(CodecS2, in)
	if out, err := readAllS2(s); err != nil || !bytes.Equal(out, in) {
		t.Fatalf("s2 output not a standard s2 stream: %v", err)
	}
}

func readAllS2(b []byte) ([]byte, error) {
	var out bytes.Buffer
	_, err := out.ReadFrom(s2.NewReader(bytes.NewReader(b)))
	return out.Bytes(), err
}

func TestDecompressCorrupt(t *testing.T) {
	in := corpus()[2].data
	for _, c := range []Codec{CodecZstd, CodecS2} {
		comp, err := Compress(c, in)
		if err != nil {
			t.Fatal(err)
		}
		flipped := bytes.Clone(comp)
		flipped[len(flipped)/2] ^= 0x55
		cases := map[string][]byte{
			"empty":     {},
			"garbage":   []byte("this is not compressed at all, not even close"),
			"truncated": comp[:len(comp)/2],
			"bitflip":   flipped,
			"other":     mustCompress(t, otherCodec(c), in),
		}
		for name, src := range cases {
			t.Run(fmt.Sprintf("%s/%s", c, name), func(t *testing.T) {
				_, err := Decompress(c, src, 1<<30)
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("err = %v, want ErrCorrupt", err)
				}
				// Decoders are pooled: a failed decode must not spoil the next.
				if out, err := Decompress(c, comp, 1<<30); err != nil || !bytes.Equal(out, in) {
					t.Fatalf("decode after a corrupt input: %v", err)
				}
			})
		}
	}
}

func otherCodec(c Codec) Codec {
	if c == CodecZstd {
		return CodecS2
	}
	return CodecZstd
}

func mustCompress(t testing.TB, c Codec, in []byte) []byte {
	t.Helper()
	out, err := Compress(c, in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecompressMaxSize(t *testing.T) {
	zeros := make([]byte, 64<<20) // a bomb: 64 MiB of zeros compress to a few KiB
	for _, c := range allCodecs {
		t.Run(string(c), func(t *testing.T) {
			in := corpus()[2].data
			comp := mustCompress(t, c, in)
			if _, err := Decompress(c, comp, int64(len(in))-1); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("one byte over the limit: err = %v, want ErrTooLarge", err)
			}
			if out, err := Decompress(c, comp, int64(len(in))); err != nil || len(out) != len(in) {
				t.Fatalf("exactly at the limit: %d bytes, err = %v", len(out), err)
			}
			if _, err := Decompress(c, comp, -1); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("negative limit: err = %v, want ErrTooLarge", err)
			}
			if c == CodecNone {
				return
			}
			bomb := mustCompress(t, c, zeros)
			if len(bomb) > 4<<20 {
				t.Fatalf("bomb is %d bytes, expected a tiny one", len(bomb))
			}
			if _, err := Decompress(c, bomb, 1<<20); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("bomb: err = %v, want ErrTooLarge", err)
			}
		})
	}
}

// TestDecompressZstdUndeclaredSize covers frames that do not declare their
// size (streamed by other writers) and multi-frame input.
func TestDecompressZstdUndeclaredSize(t *testing.T) {
	in := corpus()[3].data
	var buf bytes.Buffer
	w, _ := zstd.NewWriter(&buf)
	w.Write(in)
	w.Close()
	var h zstd.Header
	if err := h.Decode(buf.Bytes()); err != nil || h.HasFCS {
		t.Fatalf("test frame should not declare its size (err %v)", err)
	}
	two := append(mustCompress(t, CodecZstd, in[:1000]), mustCompress(t, CodecZstd, in[1000:])...)
	for name, src := range map[string][]byte{"streamed": buf.Bytes(), "two-frames": two} {
		out, err := Decompress(CodecZstd, src, int64(len(in)))
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("%s: %d bytes, err %v", name, len(out), err)
		}
		if _, err := Decompress(CodecZstd, src, int64(len(in))-1); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s: err = %v, want ErrTooLarge", name, err)
		}
	}
}

func TestParseCodec(t *testing.T) {
	for _, c := range allCodecs {
		if got, err := ParseCodec(string(c)); err != nil || got != c {
			t.Errorf("ParseCodec(%q) = %q, %v", c, got, err)
		}
	}
	for _, s := range []string{"", "ZSTD", "gzip", "zst"} {
		if _, err := ParseCodec(s); !errors.Is(err, ErrUnknownCodec) {
			t.Errorf("ParseCodec(%q): err = %v, want ErrUnknownCodec", s, err)
		}
	}
	if _, err := Compress("lz4", nil); !errors.Is(err, ErrUnknownCodec) {
		t.Errorf("Compress(lz4): err = %v", err)
	}
	if _, err := Decompress("lz4", nil, 1); !errors.Is(err, ErrUnknownCodec) {
		t.Errorf("Decompress(lz4): err = %v", err)
	}
}

func TestCodecFromKey(t *testing.T) {
	tests := []struct {
		key     string
		want    Codec
		wantErr error
	}{
		{VersionKey("orders", "01J9", 3, CodecZstd), CodecZstd, nil},
		{VersionKey("orders", "01J9", 3, CodecS2), CodecS2, nil},
		{VersionKey("orders", "01J9", 3, CodecNone), CodecNone, nil},
		{"a/b.bin", CodecNone, nil},
		{"a.zst/b", CodecNone, nil},
		{"a/item.json.gz", "", ErrUnknownCodec},
		{"a//b.zst", "", ErrInvalidKey},
	}
	for _, tt := range tests {
		got, err := CodecFromKey(tt.key)
		if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("CodecFromKey(%q) = %q, %v; want %q, %v", tt.key, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzDecompress(f *testing.F) {
	for _, d := range corpus()[:3] {
		for i, c := range allCodecs {
			f.Add(uint8(i), mustCompress(f, c, d.data), int64(len(d.data)))
		}
	}
	f.Add(uint8(0), []byte{0x28, 0xb5, 0x2f, 0xfd}, int64(100))
	f.Fuzz(func(t *testing.T, which uint8, src []byte, maxSize int64) {
		c := allCodecs[int(which)%len(allCodecs)]
		maxSize %= 4 << 20 // keep each run's memory small
		out, err := Decompress(c, src, maxSize)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if int64(len(out)) > maxSize {
			t.Fatalf("output %d bytes exceeds maxSize %d", len(out), maxSize)
		}
	})
}

// BenchmarkCodecs measures every candidate codec on the generated corpus:
// MB/s of uncompressed bytes and the compression ratio (raw/compressed).
// Run: go test ./offload -run '^$' -bench Codecs -benchtime 2s
func BenchmarkCodecs(b *testing.B) {
	type candidate struct {
		name  string
		codec Codec
		enc   func([]byte) []byte
	}
	zstdAt := func(l zstd.EncoderLevel) func([]byte) []byte {
		e := mustZstdEncoder(l)
		return func(src []byte) []byte { return e.EncodeAll(src, nil) }
	}
	candidates := []candidate{
		{"zstd-fastest", CodecZstd, zstdAt(zstd.SpeedFastest)},
		{"zstd-default", CodecZstd, zstdAt(zstd.SpeedDefault)},
		{"zstd-better", CodecZstd, zstdAt(zstd.SpeedBetterCompression)},
		{"s2", CodecS2, func(src []byte) []byte { out, _ := compressS2(src); return out }},
	}
	for _, doc := range corpus() {
		for _, cand := range candidates {
			comp := cand.enc(doc.data)
			ratio := float64(len(doc.data)) / float64(len(comp))
			b.Run(fmt.Sprintf("compress/%s/%s", doc.name, cand.name), func(b *testing.B) {
				b.SetBytes(int64(len(doc.data)))
				b.ReportAllocs()
				for b.Loop() {
					cand.enc(doc.data)
				}
				b.ReportMetric(ratio, "ratio")
			})
			b.Run(fmt.Sprintf("decompress/%s/%s", doc.name, cand.name), func(b *testing.B) {
				b.SetBytes(int64(len(doc.data)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Decompress(cand.codec, comp, 1<<30); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(ratio, "ratio")
			})
		}
	}
}
