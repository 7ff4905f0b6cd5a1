// Package s3 is the offload.Store on an S3 bucket (AWS S3 or a compatible
// server such as versitygw or MinIO), through aws-sdk-go-v2. It passes the
// conformance suite (offload/storetest) with no Features: S3 lists keys in
// byte order with StartAfter, as offload.ListOptions specifies.
//
// # Writes
//
// Put goes through the SDK's upload manager (feature/s3/manager): a body
// shorter than Config.PartSize is one PutObject, a longer one a multipart
// upload of PartSize parts, completed with one CompleteMultipartUpload.
// Either replaces the object atomically. The manager buffers the body in
// parts, which makes any reader acceptable: every request body is a
// rewindable buffer, as SigV4 over plain http needs (the payload hash is
// computed before sending) and as SDK retries need. A failed multipart
// upload is aborted, also when its Put was cancelled (the manager's own
// abort then fails and Put aborts again with a fresh context). Should an
// abort fail anyway, the parts stay stored until a bucket lifecycle rule
// (AbortIncompleteMultipartUpload) removes them: set one.
//
// # Errors
//
// NoSuchKey, and the bare 404 of a HEAD, are offload.ErrNotFound. A HEAD
// answer has no body, so a HeadObject refused with 404 for another reason
// reads as a missing object too; New checks the bucket and the credentials
// with a listing, whose answers carry their error code. Errors never hold
// the secret key.
//
// # Server differences
//
// versitygw (the test server) stores objects as files, so a key and its
// "directory" cannot coexist (see the offload package), answers an
// unknown access key with 404 XAdminUserNotFound (AWS: 403
// InvalidAccessKeyId), and answers a presigned URL whose X-Amz-Date or
// X-Amz-Credential was tampered with 400 rather than 403.
package s3
