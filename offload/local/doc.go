// Package local is the offload.Store on a local directory: the default of
// `chronos dev` and of single-node deployments, and the reference backend of
// the conformance suite (offload/storetest).
//
// # Layout
//
//	<dir>/objects/<key>   one file per object; the key's segments are directories
//	<dir>/tmp/            Puts in progress; never listed
//
// # Guarantees
//
// Put writes to a temporary file under tmp/, fsyncs it, renames it into place
// and fsyncs the directories whose entries changed, so an object is either
// absent, the old version or the complete new version, also after a crash or
// power loss, and a nil return means the object is on disk. Put retries when
// a concurrent Delete removes an emptied parent directory under it.
//
// Delete removes the file and then its emptied parent directories (best
// effort, never objects/ itself), and fsyncs the directory where it stopped.
//
// List walks the directory tree in the byte order of whole keys (a directory
// "a" sorts as "a/", after "a-b" and "a.b"), skipping subtrees that Prefix or
// StartAfter exclude, so a page costs the directories it touches, not the
// whole store. Listing many keys in one huge directory reads that directory
// in full on every page.
//
// # Presigned URLs
//
// Presign issues URLs of ServePresigned, which the query service mounts at
// Options.PresignBaseURL: <base>/<key>?expires=<unix seconds>&signature=
// <hex HMAC-SHA256 of the key and expiry>. ServePresigned checks the
// signature in constant time and the expiry, and serves the file with
// Range support, or answers 403. The secret is Options.PresignSecret, to
// be shared by every process that serves the URLs; without one, each
// process signs with its own random secret. A store opened without a base
// URL (Open) cannot issue URLs: Presign returns
// offload.ErrPresignUnavailable.
//
// # Limits
//
// The store needs a POSIX file system: atomic rename, directory fsync. On a
// case-insensitive file system (macOS by default) keys differing only in case
// collide. A key and its "directory" cannot coexist ("a" and "a/b", see the
// offload package): such a Put fails with offload.ErrInvalidKey and changes
// nothing. Several processes may share a directory; temporary files older
// than an hour are taken for a crashed writer's and removed by Open.
package local
