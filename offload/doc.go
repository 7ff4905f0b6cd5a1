// Package offload owns where version payloads live once they leave the log:
// the compression codecs, the blob [Store] interface and its conformance
// suite (offload/storetest), and the offloader worker ([Offloader]).
//
// # Backends
//
// Every backend implements [Store] and passes storetest.Run unchanged:
//
//   - offload/local: a directory on the local disk (development, single node).
//   - offload/s3: S3 and S3-compatible servers (aws-sdk-go-v2; tested on versitygw).
//   - offload/azure: Azure Blob Storage block blobs (azblob; tested on Azurite).
//   - offload/wrap: wrappers that are Stores too (tenant prefix, metrics,
//     fault injection), run through the same suite.
//
// Callers never test backend-specific errors: a missing object is always
// [ErrNotFound], a bad key always [ErrInvalidKey].
//
// # Keys
//
// A key is a slash-separated path validated by [ValidateKey]. The rules are
// the intersection of what S3, Azure Blob Storage and a POSIX file system
// (the local backend, and versitygw's posix backend used as the test S3
// server) can all hold, so a key valid here is valid everywhere and a bucket
// can be copied between backends.
//
// One rule cannot be checked key by key: no key may be the "directory" of
// another key. A file system cannot hold both "a" (a file) and "a/b" (a file
// inside a directory "a"), so neither can versitygw's posix backend or the
// local store. Callers must choose layouts in which every object name is a
// leaf. The version layout of [VersionKey],
//
//	<collection>/<itemId>/v<ov>/item.json[.<codec suffix>]
//
// respects it: objects are always named item.json*, and nothing is ever
// stored under a name that is also a directory of the layout.
//
// # Codecs
//
// Payloads are compressed with zstd by default, s2 when speed matters more
// than size, or stored as they are (CodecNone), which is the right choice for
// small documents: a single 300–600 byte JSON document compresses by 0.94–1.57×
// (BenchmarkCodecs) and is often larger compressed. The codec is recorded in the key suffix
// ([Codec.Suffix], [CodecFromKey]) and in the blob reference, and the stored
// bytes are the standard formats, readable with the zstd and s2d command-line
// tools.
package offload
