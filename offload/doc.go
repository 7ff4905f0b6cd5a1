// Package offload owns where version payloads live once they leave the log:
// the compression codecs, the blob [Store] interface and its conformance
// suite (offload/storetest), the offloader worker ([Offloader]) with its
// metrics ([NewMetrics]), the decoded content of base64 properties
// ([ContentProp], [ContentKey]), and the head records of items ([HeadKey]).
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
// leaf. The layout of one version of an item is
//
//	<collection>/<itemId>/v<ov>/item.json[.<codec suffix>]   VersionKey: the payload (versions bucket)
//	<collection>/<itemId>/v<ov>/<prop>/blob.bin               ContentKey: a base64 prop's bytes (content bucket)
//	<collection>/<itemId>/v<ov>/<prop>/text.txt               ContentKey: a preferredText prop's UTF-8 text
//
// and of an item, where its route keeps head records (see Heads),
//
//	<collection>/<itemId>/head.json[.<codec suffix>]          HeadKey: the latest payload (records bucket)
//
// and claim-checked documents are at <collection>/claims.sha256/<hex>.json.zst
// (ingest.ClaimKey) in the versions bucket. It respects the rule even when
// one bucket fills every role: the objects of v<ov>/ are item.json* and the
// directories <prop>/, and the configuration refuses a base64 property
// whose name is not one key segment or begins with "item.json"; the
// objects of <itemId>/ are head.json* and the directories v<ov>/; item ids
// are tokens, which never contain the "." of "claims.sha256". Deleting the
// prefix "<collection>/<itemId>/v<ov>/" of both buckets removes a version's
// blobs.
//
// # Heads
//
// When a route's records bucket is not its versions bucket (the
// multi-bucket placement with a versionsBucket of its own), the
// Offloader also keeps a head record of every item in the records bucket
// ([OffloaderOptions].Heads): the whole latest document at [HeadKey],
// compressed by the same rules as a version, so that external tools can
// read the latest state of every item from the bucket alone. A deleted or
// erased item has no head record. When records and versions share a
// bucket (a single `bucket`, or a multi-bucket set without its own
// versionsBucket), no head records are written: the read model serves
// the latest state. Events are processed out of order and concurrently,
// so each one makes the head follow the item's last event in the log
// rather than its own payload, re-reading the log after every write until
// it holds still; the head converges on the item's final event. It lags
// the log like the versions do, and is not a read path of Chronos.
//
// # Content
//
// For a collection whose configuration declares base64Props, the
// Offloader also decodes each such top-level property of every version
// that holds it as a base64 string, and stores the bytes at [ContentKey]
// in the route's content bucket: as they are (blob.bin), or, for a
// preferredText property, transcoded from its textCharset to UTF-8
// (text.txt; see [ContentProp.Decode]). The payload itself is stored
// unchanged, so readers get the document as written. A claim-checked
// document's content is read from its claim. The query service serves the
// content, decoding it from the version itself while the offloader has
// not stored it yet.
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
