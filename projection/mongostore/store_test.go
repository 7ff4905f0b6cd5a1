package mongostore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/testenv"
	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/projection/mongostore"
	"github.com/chronos-go/chronos/projection/storetest"
)

var _ storetest.InlineLimiter = (*mongostore.Store)(nil)

// testInlineLimit keeps the suite's large payload small.
const testInlineLimit = 4 << 10

// newStore returns a Store on a fresh test server (FerretDB embedded, or
// the MongoDB of CHRONOS_TEST_MONGO_URI) with database names under the
// server's test prefix.
func newStore(t *testing.T, opts mongostore.Options) (*mongostore.Store, *testenv.Mongo) {
	t.Helper()
	m := testenv.StartMongo(t)
	opts.DatabasePrefix = strings.TrimSuffix(m.Prefix, "_")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s, err := mongostore.New(ctx, m.Client, opts)
	if err != nil {
		t.Fatalf("mongostore.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s, m
}

func TestConformance(t *testing.T) {
	rules, err := projection.CompileRules(storetest.CounterRules())
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, func(t *testing.T) projection.Store {
		s, _ := newStore(t, mongostore.Options{InlineLimit: testInlineLimit, CounterRules: rules})
		return s
	})
}

// builder writes minimal valid events for the tests of this file.
type builder struct {
	seq  uint64
	at   time.Time
	last map[events.ItemRef]*events.Event
}

func newBuilder() *builder {
	return &builder{at: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), last: make(map[events.ItemRef]*events.Event)}
}

func (b *builder) write(t *testing.T, ref events.ItemRef, payload string, meta map[string]json.RawMessage) projection.Change {
	t.Helper()
	b.seq++
	b.at = b.at.Add(time.Second)
	e := &events.Event{V: events.Version, Op: events.OpCreate, At: b.at, InsertedAt: b.at,
		Actor: &events.Actor{Type: "user", Identifier: "u"}, Payload: json.RawMessage(payload), Meta: meta}
	if last := b.last[ref]; last != nil {
		e.Op, e.OV, e.InsertedAt = events.OpUpdate, last.OV+1, last.InsertedAt
	}
	e.Creator = e.Actor
	if err := e.Validate(events.Limits{}); err != nil {
		t.Fatalf("test event: %v", err)
	}
	b.last[ref] = e
	return projection.Change{Ref: ref, Part: events.Partition(ref.Collection, 8), Seq: b.seq, Event: e}
}

var coll = events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "orders"}

// TestChunkedBulkOnFerretDB is the regression test of FerretDB's hang on a
// bulkWrite of 100+ upserts matching existing documents: 110 items are
// created, then updated (110 head replaces that match), then the updates
// are applied again (110 ver upserts that match). Unchunked, the second
// Apply never returns.
func TestChunkedBulkOnFerretDB(t *testing.T) {
	s, _ := newStore(t, mongostore.Options{})
	if os.Getenv("CHRONOS_TEST_MONGO_URI") == "" && s.ChunkSize() != mongostore.FerretDBChunkSize {
		t.Errorf("ChunkSize() on FerretDB = %d, want %d", s.ChunkSize(), mongostore.FerretDBChunkSize)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	b := newBuilder()
	var creates, updates []projection.Change
	for i := range 110 {
		creates = append(creates, b.write(t, coll.Item(fmt.Sprintf("i%03d", i)), `{"n":1}`, nil))
	}
	for i := range 110 {
		updates = append(updates, b.write(t, coll.Item(fmt.Sprintf("i%03d", i)), `{"n":2}`, nil))
	}
	// updates[:50] first (a batch that was written, then redelivered with
	// more): the whole updates batch then meets duplicates at the start of
	// its second chunk, behind which FerretDB stops.
	for _, batch := range [][]projection.Change{creates, updates[:50], updates, updates} {
		begin := time.Now()
		if err := s.Apply(ctx, batch); err != nil {
			t.Fatalf("Apply(%d events): %v", len(batch), err)
		}
		t.Logf("Apply(%d events) in %s", len(batch), time.Since(begin).Round(time.Millisecond))
	}
	n, err := s.Counters(ctx, coll)
	if err != nil || n.Created != 110 || n.Updated != 110 || n.LastSeq != 220 {
		t.Fatalf("Counters = %+v, %v; want 110 created, 110 updated, lastSeq 220", n, err)
	}
	head, err := s.Head(ctx, coll.Item("i109"))
	if err != nil || head.System.OV != 1 || string(head.Data) != `{"n":2}` {
		t.Fatalf("Head(i109) = %+v, %v; want ov 1 and {\"n\":2}", head, err)
	}
	for i := range 110 {
		for ov := range uint64(2) {
			if _, err := s.Version(ctx, coll.Item(fmt.Sprintf("i%03d", i)), ov); err != nil {
				t.Fatalf("Version(i%03d, %d): %v", i, ov, err)
			}
		}
	}
}

// TestDocumentLayout reads the documents as MongoDB holds them: the layout
// is what other tools (and the seed's users) query.
func TestDocumentLayout(t *testing.T) {
	s, m := newStore(t, mongostore.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	b := newBuilder()
	ref := coll.Item("o1")
	meta := map[string]json.RawMessage{"status": json.RawMessage(`"new"`), "region": json.RawMessage(`"eu"`)}
	ch := b.write(t, ref, `{"zeta":1,"status":"new","alpha":{"b":2.5,"a":[true,null]},"big":5000000000}`, meta)
	if err := s.Apply(ctx, []projection.Change{ch}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Head(ctx, ref)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	// Data is the payload (re-encoded, same order), without the indexed
	// prop the payload lacks; Meta has both props.
	if string(got.Data) != string(ch.Event.Payload) || string(got.Meta["region"]) != `"eu"` || string(got.Meta["status"]) != `"new"` {
		t.Errorf("Head: Data %s Meta %v; want Data %s and both props", got.Data, got.Meta, ch.Event.Payload)
	}

	db := m.Client.Database(strings.TrimSuffix(m.Prefix, "_") + "_runtime_tenant_acme")

	var head bson.D
	if err := db.Collection("orders_head").FindOne(ctx, bson.D{{Key: "_id", Value: "o1"}}).Decode(&head); err != nil {
		t.Fatalf("find head: %v", err)
	}
	var keys []string
	for _, e := range head {
		keys = append(keys, e.Key)
	}
	// Payload in its order, then the indexed prop it lacks, then _system.
	if want := []string{"_id", "zeta", "status", "alpha", "big", "region", "_system"}; !slices.Equal(keys, want) {
		t.Errorf("head keys = %v, want %v", keys, want)
	}
	for _, e := range head {
		switch e.Key {
		case "zeta":
			if _, ok := e.Value.(int32); !ok {
				t.Errorf("zeta is %T, want int32", e.Value)
			}
		case "big":
			if _, ok := e.Value.(int64); !ok {
				t.Errorf("big is %T, want int64", e.Value)
			}
		case "_system":
			sys := e.Value.(bson.D).Map()
			if sys["ov"] != int64(0) || sys["cv"] != int64(1) || sys["payloadInline"] != true || sys["deleted"] != false {
				t.Errorf("_system = %v", sys)
			}
			if got := fmt.Sprint(sys["metaKeys"]); got != "[region status]" {
				t.Errorf("_system.metaKeys = %s, want [region status]", got)
			}
			if got := fmt.Sprint(sys["metaOnlyKeys"]); got != "[region]" {
				t.Errorf("_system.metaOnlyKeys = %s, want [region]", got)
			}
		}
	}

	var ver bson.M
	if err := db.Collection("orders_ver").FindOne(ctx, bson.D{{Key: "_id", Value: "o1:0"}}).Decode(&ver); err != nil {
		t.Fatalf("find ver: %v", err)
	}
	if ver["itemId"] != "o1" || ver["ov"] != int64(0) || ver["zeta"] != nil || ver["meta"] == nil || ver["_system"] == nil {
		t.Errorf("ver document = %v; want itemId, ov, meta, _system and no payload", ver)
	}

	wantID := "tenant:acme|db:" + db.Name() + "|coll:orders"
	var cnt bson.M
	err = m.Client.Database(db.Name()+"_analytics").Collection("cnt_total").
		FindOne(ctx, bson.D{{Key: "_id", Value: wantID}}).Decode(&cnt)
	if err != nil || cnt["created"] != int64(1) || cnt["lastSeq"] != int64(1) || cnt["tenant"] != "acme" {
		t.Errorf("cnt_total %s = %v, %v", wantID, cnt, err)
	}

	for coll, want := range map[string][]string{
		"orders_ver":  {"itemId_1_ov_1", "itemId_1_at_1"},
		"orders_head": {"_system.updatedAt_1", "_system.deleted_1"},
	} {
		specs, err := db.Collection(coll).Indexes().ListSpecifications(ctx)
		if err != nil {
			t.Fatalf("list indexes of %s: %v", coll, err)
		}
		var names []string
		for _, s := range specs {
			names = append(names, s.Name)
		}
		for _, w := range want {
			if !slices.Contains(names, w) {
				t.Errorf("indexes of %s = %v, missing %s", coll, names, w)
			}
		}
	}
}

// TestDataThatCannotBeFields covers payloads and indexed props whose keys
// no document field may have: they round-trip, the payload by being left
// out of the head.
func TestDataThatCannotBeFields(t *testing.T) {
	s, _ := newStore(t, mongostore.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	b := newBuilder()
	meta := map[string]json.RawMessage{
		"a.b":    json.RawMessage(`1`),
		"filter": json.RawMessage(`{"$gt":1}`),
		"_id":    json.RawMessage(`"x"`),
		"huge":   json.RawMessage(`1e400`),
		"ok":     json.RawMessage(`"yes"`),
	}
	dotted := b.write(t, coll.Item("dotted"), `{"a.b":1,"ok":"yes"}`, meta)
	disagree := b.write(t, coll.Item("disagree"), `{"ok":"no"}`, map[string]json.RawMessage{"ok": json.RawMessage(`"yes"`)})
	if err := s.Apply(ctx, []projection.Change{dotted, disagree}); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []projection.Change{dotted, disagree} {
		got, err := s.Head(ctx, ch.Ref)
		if err != nil {
			t.Fatalf("Head(%s): %v", ch.Ref.ID, err)
		}
		if got.Data != nil || got.System.Size != int64(len(ch.Event.Payload)) {
			t.Errorf("Head(%s): Data %s, Size %d; want no Data and Size %d", ch.Ref.ID, got.Data, got.System.Size, len(ch.Event.Payload))
		}
		if len(got.Meta) != len(ch.Event.Meta) {
			t.Errorf("Head(%s).Meta = %v, want %v", ch.Ref.ID, got.Meta, ch.Event.Meta)
		}
		for k, v := range ch.Event.Meta {
			if string(got.Meta[k]) != string(v) {
				t.Errorf("Head(%s).Meta[%q] = %s, want %s", ch.Ref.ID, k, got.Meta[k], v)
			}
		}
		ver, err := s.Version(ctx, ch.Ref, 0)
		if err != nil || len(ver.Meta) != len(ch.Event.Meta) {
			t.Errorf("Version(%s, 0).Meta = %v, %v; want %d props", ch.Ref.ID, ver, err, len(ch.Event.Meta))
		}
	}
}

// TestReopen applies through a second Store on the same databases, as
// after a restart: its indexes exist already, its documents too.
func TestReopen(t *testing.T) {
	s, m := newStore(t, mongostore.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	b := newBuilder()
	first := []projection.Change{b.write(t, coll.Item("a"), `{"v":0}`, nil), b.write(t, coll.Item("b"), `{"v":0}`, nil)}
	if err := s.Apply(ctx, first); err != nil {
		t.Fatal(err)
	}
	again, err := mongostore.New(ctx, m.Client, mongostore.Options{DatabasePrefix: strings.TrimSuffix(m.Prefix, "_")})
	if err != nil {
		t.Fatal(err)
	}
	next := b.write(t, coll.Item("a"), `{"v":1}`, nil)
	if err := again.Apply(ctx, append(first, next)); err != nil {
		t.Fatalf("Apply after reopening: %v", err)
	}
	head, err := again.Head(ctx, coll.Item("a"))
	if err != nil || string(head.Data) != `{"v":1}` {
		t.Fatalf("Head after reopening = %v, %v; want {\"v\":1}", head, err)
	}
	if n, err := again.Counters(ctx, coll); err != nil || n.Created != 2 || n.Updated != 1 {
		t.Fatalf("Counters after reopening = %+v, %v; want 2 created, 1 updated", n, err)
	}
}

func TestApplyRejectsMalformedBatches(t *testing.T) {
	s, _ := newStore(t, mongostore.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	b := newBuilder()
	one := b.write(t, coll.Item("a"), `{}`, nil)
	other := one
	other.Part++
	noEvent := one
	noEvent.Event = nil
	badRef := one
	badRef.Ref.ID = "a.b"
	for name, batch := range map[string][]projection.Change{
		"two partitions": {one, other},
		"no event":       {noEvent},
		"bad item id":    {badRef},
	} {
		if err := s.Apply(ctx, batch); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("%s: Apply = %v, want an error matching events.ErrInvalid", name, err)
		}
	}
	if _, err := s.History(ctx, coll.Item("a"), projection.HistoryQuery{Limit: -1}); !errors.Is(err, events.ErrInvalid) {
		t.Errorf("History with limit -1 = %v, want events.ErrInvalid", err)
	}
	if _, err := s.Head(ctx, coll.Item("a/b")); !errors.Is(err, events.ErrInvalid) {
		t.Errorf("Head of a bad id = %v, want events.ErrInvalid", err)
	}
}

func TestRouteRejectsBadDatabaseNames(t *testing.T) {
	s, _ := newStore(t, mongostore.Options{
		Database: func(c events.Collection) string { return "bad.name_" + c.Scope },
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ch := newBuilder().write(t, coll.Item("a"), `{}`, nil)
	if err := s.Apply(ctx, []projection.Change{ch}); !errors.Is(err, mongostore.ErrInvalidOptions) {
		t.Errorf("Apply with a bad database name = %v, want ErrInvalidOptions", err)
	}
	if _, err := s.Counters(ctx, coll); !errors.Is(err, mongostore.ErrInvalidOptions) {
		t.Errorf("Counters with a bad database name = %v, want ErrInvalidOptions", err)
	}
}

func TestOwnerCloseDisconnects(t *testing.T) {
	m := testenv.StartMongo(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	client := m.Client
	s, err := mongostore.New(ctx, client, mongostore.Options{DatabasePrefix: strings.TrimSuffix(m.Prefix, "_")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close without Owner: %v", err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		t.Fatalf("Close without Owner disconnected the client: %v", err)
	}

	owned, err := mongo.Connect(ctx, options.Client().ApplyURI(m.URI))
	if err != nil {
		t.Fatal(err)
	}
	s, err = mongostore.New(ctx, owned, mongostore.Options{DatabasePrefix: strings.TrimSuffix(m.Prefix, "_"), Owner: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close with Owner: %v", err)
	}
	if err := owned.Ping(ctx, nil); !errors.Is(err, mongo.ErrClientDisconnected) {
		t.Errorf("Ping after Close with Owner = %v, want mongo.ErrClientDisconnected", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Errorf("second Close = %v, want the first result (nil)", err)
	}

	if _, err := mongostore.New(ctx, nil, mongostore.Options{}); !errors.Is(err, mongostore.ErrInvalidOptions) {
		t.Errorf("New(nil client) = %v, want ErrInvalidOptions", err)
	}
}
