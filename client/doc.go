// Package client will be the Go SDK: typed methods for every ingest and
// query operation, and a direct JetStream producer for high-throughput
// writers.
//
// Not built yet (see the write-path issue); use the HTTP API.
package client
