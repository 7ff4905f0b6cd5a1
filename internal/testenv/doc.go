// Package testenv starts the REAL servers Chronos tests run against: an
// embedded nats-server with JetStream, an embedded MongoDB-compatible server
// (FerretDB on SQLite), versitygw for S3 and Azurite for Azure Blob.
//
// Every helper takes a testing.TB and, unless an external server is
// configured (below), guarantees:
//
//   - a new server that is already answering when the helper returns;
//   - listeners on 127.0.0.1 only, on a free port;
//   - data in t.TempDir(), removed after the test;
//   - the server (and any client the helper made) stopped in t.Cleanup,
//     child processes included: they run in their own process group, which
//     is signalled as a whole and waited for, so nothing is left running
//     (on Linux they are also killed if the test binary dies without
//     cleaning up, e.g. on a go test -timeout);
//   - a missing server or binary fails the test with t.Fatalf and says how
//     to fix it. Helpers never skip: a test that cannot reach its server is
//     a failure, not a pass.
//
// # Binaries
//
// versitygw and azurite-blob are looked up in $CHRONOS_TOOLS_DIR (bin/ and
// node/node_modules/.bin/), which `make test` sets; when it is unset, in the
// .tools directory next to the module's go.mod (found by walking up from the
// working directory); then in PATH. `make tools` installs both. Azurite
// also needs node in PATH.
//
// # External servers
//
// Each helper uses an already running server instead when its variable is
// set:
//
//	CHRONOS_TEST_NATS_URL        nats://host:port (JetStream enabled)
//	CHRONOS_TEST_MONGO_URI       mongodb://... (a real MongoDB)
//	CHRONOS_TEST_S3_ENDPOINT     http(s)://host:port, with
//	CHRONOS_TEST_S3_ACCESS_KEY, CHRONOS_TEST_S3_SECRET_KEY and
//	CHRONOS_TEST_S3_REGION (default us-east-1)
//	CHRONOS_TEST_AZURE_ENDPOINT  http(s)://host:port/account, with
//	CHRONOS_TEST_AZURE_ACCOUNT and CHRONOS_TEST_AZURE_KEY (default: the
//	Azurite development account)
//
// An external server is shared by every test and every package, and go test
// runs packages in parallel. Tests must therefore keep their data apart:
//
//   - Mongo: put Mongo.Prefix at the start of every database name; the
//     helper drops the databases with that prefix at cleanup.
//   - S3 and Azure: use a bucket or container name unique to the test.
//   - NATS: use stream names and subjects unique to the test. Chronos'
//     own streams have fixed names (CHRONOS_P<k>, CHRONOS_DLQ), so tests that
//     create them under their default names collide on a shared server: run
//     such packages with `go test -p 1` against an external server, or leave
//     CHRONOS_TEST_NATS_URL unset (every StartNATS is then a new server).
//
// The package needs a Unix system (process groups).
package testenv
