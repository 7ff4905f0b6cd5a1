// Package azure is the offload.Store on an Azure Blob Storage container,
// through azblob, holding every object as a block blob.
//
// # Writes
//
// A Put whose body ends within Config.BlockSize bytes is one Put Blob
// request, from a buffer the SDK can rewind to retry; a longer or
// unknown-size body goes through azblob's UploadStream, which stages
// BlockSize blocks and commits them with one Put Block List. Either
// replaces the blob atomically. The blocks of a failed upload stay
// uncommitted and invisible until Azure discards them (after a week).
//
// # Listing
//
// Azure lists names in the order of their UTF-16 code units, not of their
// UTF-8 bytes (CompareKeys; storetest.Features.ListOrderUTF16). The two
// differ only for keys that differ first by a character in U+E000–U+FFFF
// against one above U+FFFF; keys of event tokens never do. Azure has no
// StartAfter: see Store.List for how it is emulated and what it costs.
//
// # Errors
//
// BlobNotFound is offload.ErrNotFound. Errors never hold the account key
// or the SAS: azcore prints no query string, and the URL of a transport
// error is stripped of its query before it is returned.
//
// # Azurite
//
// The tests run on Azurite (started with --skipApiVersionCheck, as azblob
// speaks an API version Azurite 3.35 does not know). It lists in the same
// UTF-16 order as Azure and enforces shared key and SAS signatures; its
// continuation tokens name the last blob returned where Azure's name the
// next one to return.
package azure
