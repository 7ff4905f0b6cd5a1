package stack_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/stack"
)

// itemState is the in-memory model of one item.
type itemState struct {
	exists, deleted bool
	doc             string
}

// randomWrites applies n random creates/updates/deletes over ids through
// the real ingest service and mirrors them in model.
func randomWrites(t *testing.T, s *stack.Stack, rng *rand.Rand, ids []string, model map[string]itemState, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		id := ids[rng.IntN(len(ids))]
		st := model[id]
		doc := fmt.Sprintf(`{"id":%q,"w":%d}`, id, rng.IntN(1_000_000))
		var err error
		switch {
		case !st.exists:
			_, err = s.Ingest.Create(ctx, orders, id, []byte(doc), ingest.Write{})
			st = itemState{exists: true, doc: doc}
		case st.deleted:
			continue // only a restore revives an item
		case rng.IntN(5) == 0:
			_, err = s.Ingest.Delete(ctx, orders.Item(id), ingest.Write{})
			st.deleted = true
		default:
			_, err = s.Ingest.Update(ctx, orders.Item(id), []byte(doc), ingest.Write{})
			st.doc = doc
		}
		if err != nil {
			t.Fatalf("write %d on %s: %v", i, id, err)
		}
		model[id] = st
	}
}

func copyModel(m map[string]itemState) map[string]itemState {
	out := make(map[string]itemState, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// checkAgainst asserts the log's last event of every item matches want.
func checkAgainst(t *testing.T, s *stack.Stack, ids []string, want map[string]itemState) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		w := want[id]
		last, err := s.Log.Last(ctx, orders.Item(id))
		if !w.exists || (w.deleted && err == nil && last.Event.Deleted()) {
			if err == nil && !last.Event.Deleted() {
				t.Errorf("%s: did not exist at the target, is live now (ov %d)", id, last.Event.OV)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if last.Event.Deleted() != w.deleted {
			t.Errorf("%s: deleted=%v, want %v", id, last.Event.Deleted(), w.deleted)
			continue
		}
		if !w.deleted && string(last.Event.Payload) != w.doc {
			t.Errorf("%s: %s, want %s", id, last.Event.Payload, w.doc)
		}
	}
}

func TestRestoreCollectionMatchesModel(t *testing.T) {
	s := startStack(t, stack.Config{NoWorkers: true})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	ids := make([]string, 30)
	for i := range ids {
		ids[i] = fmt.Sprintf("m%02d", i)
	}
	model := map[string]itemState{}
	randomWrites(t, s, rng, ids[:20], model, 120)

	// Target by cv: the partition's last sequence now.
	cv, err := s.Log.LastSeq(ctx, s.Log.Partition(orders))
	if err != nil {
		t.Fatal(err)
	}
	atCV := copyModel(model)
	randomWrites(t, s, rng, ids, model, 150) // later writes, incl. new items
	var calls int
	rep, err := s.Ingest.RestoreCollection(ctx, orders, ingest.CollectionTarget{CV: &cv}, ingest.Write{Reason: "rollback"}, func(done, total int) { calls++ })
	if err != nil || len(rep.Failed) > 0 {
		t.Fatalf("restore to cv %d: %+v, %v", cv, rep, err)
	}
	if rep.Changed == 0 || rep.Restored+rep.Deleted+rep.Unchanged != rep.Changed || calls != rep.Changed {
		t.Fatalf("report %+v, progress calls %d", rep, calls)
	}
	checkAgainst(t, s, ids, atCV)

	// Again: the collection is already at the target; nothing changes.
	before, _ := s.Log.LastSeq(ctx, s.Log.Partition(orders))
	again, err := s.Ingest.RestoreCollection(ctx, orders, ingest.CollectionTarget{CV: &cv}, ingest.Write{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.Log.LastSeq(ctx, s.Log.Partition(orders))
	if after != before || again.Restored+again.Deleted != 0 {
		t.Fatalf("second restore wrote %d events: %+v", after-before, again)
	}

	// Target by time. Items the restore deleted still exist (deleted).
	model = copyModel(atCV)
	for _, id := range ids {
		if _, err := s.Log.Last(ctx, orders.Item(id)); err == nil && !model[id].exists {
			model[id] = itemState{exists: true, deleted: true}
		}
	}
	time.Sleep(5 * time.Millisecond)
	at := time.Now().UTC()
	atT := copyModel(model)
	time.Sleep(5 * time.Millisecond)
	randomWrites(t, s, rng, ids, model, 100)
	if _, err := s.Ingest.RestoreCollection(ctx, orders, ingest.CollectionTarget{At: &at}, ingest.Write{}, nil); err != nil {
		t.Fatal(err)
	}
	checkAgainst(t, s, ids, atT)

	// Over HTTP, with the body validated.
	base := s.URL() + ordersPath
	mustStatus(t, call(t, "POST", base+"/restore", `{}`), 400)
	mustStatus(t, call(t, "POST", base+"/restore", `{"cv":1,"at":"2026-01-01T00:00:00Z"}`), 400)
	r := mustStatus(t, call(t, "POST", base+"/restore", fmt.Sprintf(`{"cv":%d}`, cv)), 200).json(t)
	if _, ok := r["changed"]; !ok {
		t.Fatalf("report %v", r)
	}
}
