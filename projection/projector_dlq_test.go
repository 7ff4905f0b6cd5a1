package projection_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/internal/testenv"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/projection"
)

// recordingStore records the items it is given; only Apply is used by the
// projector.
type recordingStore struct {
	projection.Store
	mu      sync.Mutex
	applied []string
}

func (s *recordingStore) Apply(_ context.Context, batch []projection.Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range batch {
		s.applied = append(s.applied, c.Ref.ID)
	}
	return nil
}

func (s *recordingStore) items() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.applied...)
}

// An undecodable event goes to the DLQ and the projector goes on; while the
// DLQ cannot be written, the projector holds its position instead of
// dropping the event or letting later events overtake it.
func TestProjectorDeadLettersUndecodableEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := testenv.StartNATS(t).Connect(t)
	if err := clog.EnsureStreams(ctx, js, clog.Config{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	l, err := clog.Open(ctx, js, events.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	coll := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "orders"}
	junk := func(id string) {
		t.Helper()
		if _, err := js.Publish(ctx, l.Subject(coll.Item(id)), []byte("not an envelope")); err != nil {
			t.Fatal(err)
		}
	}
	good := func(id string) {
		t.Helper()
		now := time.Now().UTC()
		ev := &events.Event{V: events.Version, Op: events.OpCreate, At: now, InsertedAt: now, Payload: json.RawMessage(`{}`)}
		if _, err := l.Append(ctx, coll.Item(id), ev, clog.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	junk("junk1")
	good("good1")

	store := &recordingStore{}
	p := projection.NewProjector(l, store, projection.ProjectorOptions{MaxRetryDelay: 100 * time.Millisecond})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	dlq := fallbackq.NewDLQ(js, nil)
	entries := func() []fallbackq.Entry {
		list, err := dlq.List(ctx, fallbackq.Filter{Consumer: "projector"})
		if err != nil {
			return nil
		}
		return list
	}
	awaitCond(t, "good1 applied and junk1 dead-lettered", func() bool {
		return len(store.items()) == 1 && len(entries()) == 1
	})
	if e := entries()[0]; e.Class != "terminal" || e.Attempts != 1 || e.OrigSeq != 1 || e.Subject != l.Subject(coll.Item("junk1")) {
		t.Fatalf("DLQ entry %+v", e)
	}

	// The DLQ goes away: junk2 cannot be copied, so good2 must wait.
	if err := js.DeleteStream(ctx, fallbackq.DLQStream); err != nil {
		t.Fatal(err)
	}
	junk("junk2")
	good("good2")
	time.Sleep(500 * time.Millisecond) // give the projector time to (wrongly) move on
	if got := store.items(); len(got) != 1 {
		t.Fatalf("applied %v while junk2 could not be dead-lettered", got)
	}
	if err := fallbackq.EnsureDLQ(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	awaitCond(t, "junk2 dead-lettered and good2 applied", func() bool {
		e := entries()
		return len(store.items()) == 2 && len(e) == 1 && e[0].Subject == l.Subject(coll.Item("junk2"))
	})
	if got := store.items(); got[1] != "good2" {
		t.Fatalf("applied %v", got)
	}
}

func awaitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
