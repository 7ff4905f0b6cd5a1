package offload

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"runtime"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// ErrUnknownCodec is returned (wrapped) for a codec name or key suffix this
// package does not know.
var ErrUnknownCodec = errors.New("chronos: unknown codec")

// ErrCorrupt is returned (wrapped, with the decoder's own error) by
// Decompress when its input is not a valid stream of the codec.
var ErrCorrupt = errors.New("chronos: corrupt compressed data")

// ErrTooLarge is returned (wrapped) by Decompress when the output would
// exceed the caller's maxSize: the decompression-bomb guard.
var ErrTooLarge = errors.New("chronos: decompressed data exceeds the size limit")

// Codec names how a payload is stored. Its string value is what blob
// references and configuration files carry.
type Codec string

const (
	// CodecZstd is a Zstandard frame (RFC 8878) with a content checksum,
	// the default codec; key suffix ".zst".
	CodecZstd Codec = "zstd"
	// CodecS2 is an S2 stream (framed, CRC-checked, readable by s2d), faster
	// than zstd and larger; key suffix ".s2".
	CodecS2 Codec = "s2"
	// CodecNone stores the payload as it is; no key suffix.
	CodecNone Codec = "none"
)

// zstdLevel is the level of every zstd frame Compress writes:
// SpeedBetterCompression (roughly zstd level 7). BenchmarkCodecs measured on
// the generated corpus (2 cores, best of three runs):
//
//	          fastest          default          better
//	20 KiB    5.66x 460 MB/s   5.71x 380 MB/s   6.18x 260 MB/s
//	1 MiB     6.26x 315 MB/s   6.06x 225 MB/s   6.67x 145 MB/s
//
// with decompression at 600–950 MB/s whatever the level. SpeedDefault is
// dominated by SpeedFastest on JSON; SpeedBetterCompression stores 6–9%
// fewer bytes than SpeedFastest for about twice the CPU. Offloading runs off
// the write path, once per version, while the bytes are stored, and read
// back, for as long as the version is kept: the smaller output wins. Should
// the offloader become CPU-bound, SpeedFastest is the fallback; frames
// decode the same whatever level wrote them.
const zstdLevel = zstd.SpeedBetterCompression

// zstdEncoder is shared: EncodeAll is safe for concurrent use. Each of its
// block encoders holds about 4 MiB of match tables at this level, so their
// number is capped; more concurrent callers wait for one.
var zstdEncoder = mustZstdEncoder(zstdLevel)

// zstdMaxWindow is the largest window a zstd frame may ask the decoder to
// keep (which it allocates twice over). 8 MiB covers every frame this
// package writes and every frame of the zstd tool up to level 19; larger
// windows (--ultra, --long) are refused as corrupt.
const zstdMaxWindow = 8 << 20

// zstdDecoders are streaming decoders in synchronous mode (no goroutines),
// reused across calls. Decompress reads from them through a limit, so the
// output bound holds whatever the frame declares; buffered whole-input
// decoding is disabled because it would decode the entire input first.
var zstdDecoders = sync.Pool{New: func() any {
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecodeBuffersBelow(0),
		zstd.WithDecoderMaxWindow(zstdMaxWindow),
		zstd.WithDecoderLowmem(true))
	if err != nil {
		panic(fmt.Sprintf("chronos: zstd decoder: %v", err))
	}
	return d
}}

func mustZstdEncoder(level zstd.EncoderLevel) *zstd.Encoder {
	// Zero frames make an empty input a valid, non-empty frame, so a
	// truncated-to-nothing object is reported as corrupt, never as "".
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithZeroFrames(true),
		zstd.WithEncoderConcurrency(min(runtime.GOMAXPROCS(0), 8)))
	if err != nil {
		panic(fmt.Sprintf("chronos: zstd encoder: %v", err))
	}
	return e
}

var (
	s2Writers = sync.Pool{New: func() any { return s2.NewWriter(nil, s2.WriterConcurrency(1)) }}
	// Readers start with small buffers and grow to the blocks they meet
	// (at most s2's 4 MiB), so pooled readers of small payloads stay small.
	s2Readers = sync.Pool{New: func() any { return s2.NewReader(nil, s2.ReaderAllocBlock(64<<10)) }}
)

// ParseCodec returns the codec named s ("zstd", "s2" or "none", exactly), or
// an error wrapping ErrUnknownCodec.
func ParseCodec(s string) (Codec, error) {
	switch c := Codec(s); c {
	case CodecZstd, CodecS2, CodecNone:
		return c, nil
	}
	return "", fmt.Errorf("%w %q (want zstd, s2 or none)", ErrUnknownCodec, s)
}

// Suffix is the key suffix of the codec: ".zst", ".s2", or "" for CodecNone
// and unknown codecs.
func (c Codec) Suffix() string {
	switch c {
	case CodecZstd:
		return ".zst"
	case CodecS2:
		return ".s2"
	}
	return ""
}

// foreignSuffixes are compression formats this package cannot read; a key
// ending in one must not be mistaken for an uncompressed object.
var foreignSuffixes = map[string]bool{
	".gz": true, ".bz2": true, ".xz": true, ".lz4": true, ".br": true,
	".zstd": true, ".sz": true, ".snappy": true, ".zip": true, ".7z": true,
}

// CodecFromKey returns the codec a key's suffix names: ".zst" is zstd, ".s2"
// is s2, and any other key is CodecNone, except a suffix of another
// compression format (".gz", ".lz4", ...), which fails with ErrUnknownCodec.
// An invalid key fails with ErrInvalidKey.
func CodecFromKey(key string) (Codec, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	switch ext := path.Ext(key); {
	case ext == ".zst":
		return CodecZstd, nil
	case ext == ".s2":
		return CodecS2, nil
	case foreignSuffixes[ext]:
		return "", fmt.Errorf("%w: key %q has the suffix %q", ErrUnknownCodec, key, ext)
	}
	return CodecNone, nil
}

// Compress encodes src with c. The result is a new slice, except for
// CodecNone, which returns src itself. Compress is safe for concurrent use.
func Compress(c Codec, src []byte) ([]byte, error) {
	switch c {
	case CodecNone:
		return src, nil
	case CodecZstd:
		return zstdEncoder.EncodeAll(src, make([]byte, 0, len(src)/2+64)), nil
	case CodecS2:
		return compressS2(src)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownCodec, string(c))
}

// s2EmptyStream is the stream identifier chunk alone: the S2 stream of no
// bytes. The s2 Writer writes nothing at all for empty input.
const s2EmptyStream = "\xff\x06\x00\x00S2sTwO"

func compressS2(src []byte) ([]byte, error) {
	if len(src) == 0 {
		return []byte(s2EmptyStream), nil
	}
	var buf bytes.Buffer
	buf.Grow(s2.MaxEncodedLen(len(src)) + 32)
	w := s2Writers.Get().(*s2.Writer)
	defer s2Writers.Put(w)
	w.Reset(&buf)
	defer w.Reset(nil)
	if _, err := w.Write(src); err != nil {
		return nil, fmt.Errorf("chronos: s2 compress: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("chronos: s2 compress: %w", err)
	}
	return buf.Bytes(), nil
}

// Decompress decodes src, which was written with c, and returns at most
// maxSize bytes: output that would exceed maxSize fails with ErrTooLarge
// without ever being held in full, which guards against decompression bombs.
// Invalid input fails with ErrCorrupt (zstd and s2 check a checksum of the
// content); an empty src is invalid for zstd and s2. For CodecNone the result
// is src itself. Decompress is safe for concurrent use.
func Decompress(c Codec, src []byte, maxSize int64) ([]byte, error) {
	switch c {
	case CodecNone:
		if int64(len(src)) > maxSize {
			return nil, tooLarge(c, maxSize)
		}
		return src, nil
	case CodecZstd:
		return decompressZstd(src, maxSize)
	case CodecS2:
		return decompressS2(src, maxSize)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownCodec, string(c))
}

func tooLarge(c Codec, maxSize int64) error {
	return fmt.Errorf("%w: %s output is larger than %d bytes", ErrTooLarge, c, maxSize)
}

func corrupt(c Codec, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, c, err)
}

func decompressZstd(src []byte, maxSize int64) ([]byte, error) {
	if len(src) == 0 {
		return nil, corrupt(CodecZstd, io.ErrUnexpectedEOF)
	}
	// The first frame's declared size is a lower bound of the output, and
	// the exact size for the single frames Compress writes.
	var h zstd.Header
	if h.Decode(src) == nil && h.HasFCS && h.FrameContentSize > uint64(max(maxSize, 0)) {
		return nil, tooLarge(CodecZstd, maxSize)
	}
	d := zstdDecoders.Get().(*zstd.Decoder)
	defer zstdDecoders.Put(d)
	if err := d.Reset(bytes.NewReader(src)); err != nil {
		return nil, corrupt(CodecZstd, err)
	}
	defer d.Reset(nil)
	hint := int64(len(src)) * 4
	if h.HasFCS {
		// Trust a declared size only so far: a few bytes can declare a
		// gigabyte. Real output beyond the hint grows the buffer.
		hint = min(int64(h.FrameContentSize), max(hint, 16*int64(len(src)), 1<<20))
	}
	return readLimited(CodecZstd, d, maxSize, hint)
}

// readLimited reads r to its end into a buffer presized to hint, refusing
// output beyond maxSize without reading more than one byte past it.
func readLimited(c Codec, r io.Reader, maxSize, hint int64) ([]byte, error) {
	if maxSize < 0 {
		return nil, tooLarge(c, maxSize)
	}
	limit := maxSize
	if limit < math.MaxInt64 {
		limit++ // one byte past the limit tells "exactly maxSize" from "more"
	}
	var out bytes.Buffer
	// bytes.Buffer.ReadFrom wants MinRead spare bytes before each read; with
	// them, an exact hint never reallocates.
	out.Grow(int(min(hint, maxSize)) + bytes.MinRead)
	n, err := out.ReadFrom(io.LimitReader(r, limit))
	if err != nil {
		return nil, corrupt(c, err)
	}
	if n > maxSize {
		return nil, tooLarge(c, maxSize)
	}
	return out.Bytes(), nil
}

func decompressS2(src []byte, maxSize int64) ([]byte, error) {
	if len(src) == 0 {
		return nil, corrupt(CodecS2, io.ErrUnexpectedEOF)
	}
	r := s2Readers.Get().(*s2.Reader)
	defer s2Readers.Put(r)
	r.Reset(bytes.NewReader(src))
	defer r.Reset(nil)
	return readLimited(CodecS2, r, maxSize, int64(len(src))*4)
}
