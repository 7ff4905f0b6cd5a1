// Package wrap holds offload.Store wrappers, each itself an offload.Store
// that passes the conformance suite (offload/storetest) over any backend:
//
//   - Prefix keeps a store's keys under a prefix, such as a tenant's, so
//     that several stores share one bucket without seeing each other.
//   - Metrics records calls, failures, bytes and latency in Prometheus.
//   - Faulty injects failures and latency, to test retry paths against a
//     real backend.
//
// Wrappers compose: Metrics(Prefix(s3Store, "acme/"), reg, "s3").
package wrap

// Op names a Store method: the op label of Metrics, and what FaultyStore
// counts and fails.
type Op string

// The operations of offload.Store.
const (
	OpPut     Op = "put"
	OpGet     Op = "get"
	OpStat    Op = "stat"
	OpList    Op = "list"
	OpDelete  Op = "delete"
	OpPresign Op = "presign"
)

var allOps = []Op{OpPut, OpGet, OpStat, OpList, OpDelete, OpPresign}
