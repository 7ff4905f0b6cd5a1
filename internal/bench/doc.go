// Package bench is the load generator behind `chronos bench`: scenarios
// of writes and reads against a running Chronos (or one it starts
// in-process), the raw baselines measured in the same run on the same
// servers, and the memory probes of the issue "load generator and
// benchmark suite".
//
// Scenarios:
//   - iot: creates of ~300 B readings of many devices (one new item each);
//   - trading: updates with optimistic concurrency (expected ov) of a hot
//     set of instruments, ~600 B; a 409 is retried with the current ov
//     the conflict reports (read from the log by the writer);
//   - mixed: latest reads (HTTP, the query service) and last-writer-wins
//     updates of a set of items.
//
// Writes go through the direct JetStream producer (client.Producer) or the
// HTTP API (client.Client); reads always go through HTTP, the producer
// having no read path. A Report holds what a run measured; nothing here
// asserts a timing.
package bench
