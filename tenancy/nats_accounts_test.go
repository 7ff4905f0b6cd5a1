package tenancy_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/events"
)

// natsPasswords are the variables deploy/nats/accounts.conf reads.
var natsPasswords = map[string]string{
	"CHRONOS_NATS_INGEST_PASSWORD":          "ingest-pw",
	"CHRONOS_NATS_PROJECTOR_PASSWORD":       "projector-pw",
	"CHRONOS_NATS_OFFLOADER_PASSWORD":       "offloader-pw",
	"CHRONOS_NATS_QUERY_PASSWORD":           "query-pw",
	"CHRONOS_NATS_PRODUCER_ACME_PASSWORD":   "acme-pw",
	"CHRONOS_NATS_PRODUCER_GLOBEX_PASSWORD": "globex-pw",
	"CHRONOS_NATS_SYS_PASSWORD":             "sys-pw",
}

// startAccountsServer runs deploy/nats/single-accounts.conf in process, on
// a random port of 127.0.0.1 with its store in a temporary directory.
func startAccountsServer(t *testing.T) string {
	t.Helper()
	for k, v := range natsPasswords {
		t.Setenv(k, v)
	}
	opts, err := server.ProcessConfigFile("../deploy/nats/single-accounts.conf")
	if err != nil {
		t.Fatal(err)
	}
	opts.Host, opts.Port = "127.0.0.1", -1
	opts.HTTPHost, opts.HTTPPort = "", 0
	opts.StoreDir = t.TempDir()
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL()
}

// connect logs in as user and returns the connection and a channel of its
// asynchronous errors (permission violations arrive there).
func connect(t *testing.T, url, user string, opts ...nats.Option) (*nats.Conn, <-chan error) {
	t.Helper()
	errs := make(chan error, 16)
	pw := natsPasswords["CHRONOS_NATS_"+strings.ToUpper(strings.ReplaceAll(user, "-", "_"))+"_PASSWORD"]
	opts = append(opts, nats.UserInfo(user, pw), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	}))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

func wantViolation(t *testing.T, errs <-chan error, subject string) {
	t.Helper()
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), subject) {
			t.Errorf("async error %v, want a permission violation on %s", err, subject)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("no permission violation reported for %s", subject)
	}
}

// TestNATSAccountsIsolateTenants loads the deployment's accounts and shows
// that tenant acme's producer can append to its own subjects, and neither
// to globex's nor to the JetStream API.
func TestNATSAccountsIsolateTenants(t *testing.T) {
	url := startAccountsServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// ingest creates the partition streams, as it does at start.
	const parts = 4
	ingest, _ := connect(t, url, "ingest")
	js, err := jetstream.New(ingest)
	if err != nil {
		t.Fatal(err)
	}
	streams := make([]jetstream.Stream, parts)
	for k := 0; k < parts; k++ {
		streams[k], err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name: "CHRONOS_P" + strconv.Itoa(k), Subjects: []string{events.PartitionFilter(k)}, AllowDirect: true,
		})
		if err != nil {
			t.Fatalf("ingest creates stream %d: %v", k, err)
		}
	}
	subject := func(tenant string) (string, int) {
		ref := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: tenant, Name: "orders"}.Item("i1")
		return events.Subject(ref, parts), events.Partition(ref.Collection, parts)
	}
	acmeSubj, acmePart := subject("acme")
	globexSubj, globexPart := subject("globex")

	producer, perrs := connect(t, url, "producer-acme", nats.CustomInboxPrefix("_INBOX.t.acme"))
	pjs, err := jetstream.New(producer)
	if err != nil {
		t.Fatal(err)
	}

	// Its own tenant: stored and acknowledged.
	ack, err := pjs.Publish(ctx, acmeSubj, []byte(`{"v":1}`))
	if err != nil {
		t.Fatalf("acme's producer publishing to %s: %v", acmeSubj, err)
	}
	if ack.Stream != "CHRONOS_P"+strconv.Itoa(acmePart) {
		t.Errorf("stored in %s, want partition %d", ack.Stream, acmePart)
	}

	// Another tenant: refused by the server, never stored.
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	_, err = pjs.Publish(short, globexSubj, []byte(`{"v":1}`))
	cancelShort()
	if err == nil {
		t.Fatalf("acme's producer published to %s", globexSubj)
	}
	wantViolation(t, perrs, globexSubj)
	if _, err := streams[globexPart].GetLastMsgForSubject(ctx, globexSubj); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("globex's subject after acme's attempt: %v, want no message", err)
	}

	// The JetStream API (reading any stream, acme's included): refused.
	short, cancelShort = context.WithTimeout(ctx, 2*time.Second)
	_, err = pjs.Stream(short, "CHRONOS_P"+strconv.Itoa(acmePart))
	cancelShort()
	if err == nil {
		t.Error("acme's producer read stream info through the JetStream API")
	}
	wantViolation(t, perrs, "$JS.API")

	// Its replies can only come to its own inbox: another tenant's is closed.
	if _, err := producer.SubscribeSync("_INBOX.t.globex.>"); err == nil {
		producer.Flush()
	}
	wantViolation(t, perrs, "_INBOX.t.globex.>")

	// globex's producer, symmetrically, cannot write to acme.
	gprod, gerrs := connect(t, url, "producer-globex", nats.CustomInboxPrefix("_INBOX.t.globex"))
	if err := gprod.Publish(acmeSubj, []byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	gprod.Flush()
	wantViolation(t, gerrs, acmeSubj)

	// The query service reads but publishes no events.
	query, qerrs := connect(t, url, "query")
	if err := query.Publish(acmeSubj, []byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	query.Flush()
	wantViolation(t, qerrs, acmeSubj)
	qjs, err := jetstream.New(query)
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := qjs.Stream(ctx, "CHRONOS_P"+strconv.Itoa(acmePart)); err != nil {
		t.Errorf("query reading stream info: %v", err)
	} else if m, err := msg.GetLastMsgForSubject(ctx, acmeSubj); err != nil || string(m.Data) != `{"v":1}` {
		t.Errorf("query reading acme's event: %v, %v", m, err)
	}
	if got, err := streams[acmePart].Info(ctx); err != nil || got.State.Msgs != 1 {
		t.Errorf("partition %d holds %v messages (%v), want acme's one", acmePart, got, err)
	}

	// A wrong password is refused.
	if nc, err := nats.Connect(url, nats.UserInfo("producer-acme", "wrong")); err == nil {
		nc.Close()
		t.Error("connected with a wrong password")
	}
}
