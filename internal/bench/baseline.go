package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/chronos-go/chronos/client"
	"github.com/chronos-go/chronos/events"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/offload"
)

// Baseline holds the raw floors measured after the load, on the same
// servers, with documents of the same generator (same shapes and sizes).
type Baseline struct {
	// RawPublish: JetStream async publish (one goroutine, nats.go's window
	// of 4,000 pending acks) of create envelopes of the same documents,
	// with the same headers, to a stream of the same configuration.
	RawPublish *Rate `json:"rawPublish,omitempty"`
	// BulkWrite: unordered bulkWrite of the same head and ver documents
	// (ReplaceOne upserts on _id), batches of 256 events (the projector's
	// batch), to the same MongoDB.
	BulkWrite *Rate `json:"bulkWrite,omitempty"`
	// Put: PUT of the same objects (compressed by the offloader's rule) to
	// the same blob store, 8 at a time (the offloader's concurrency).
	Put *Rate `json:"put,omitempty"`
	// FindOne: findOne on _id of the ids the run used, Concurrency at a
	// time, in the scenario's head collection (embedded target) or the
	// bulkWrite baseline's.
	FindOne *Rate    `json:"findOne,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// Rate is one baseline: how many events it replayed and how fast.
type Rate struct {
	N            int      `json:"n"`
	EventsPerSec float64  `json:"eventsPerSec"`
	Latency      *Latency `json:"latency,omitempty"`
}

// mongoBaselineMax bounds the bulkWrite baseline (the embedded FerretDB
// writes a few thousand documents a second).
const mongoBaselineMax = 5_000

// baselineBudget bounds each baseline's time: one that is not done by
// then reports the rate of what it did (FerretDB slows down as a
// collection grows: it scans on _id).
const baselineBudget = 60 * time.Second

// findOneMax bounds the findOne baseline's lookups.
const findOneMax = 5_000

const baselineDB = "chronos_bench_baseline"

// baselines runs every baseline the target allows; one that fails leaves
// a note instead of a figure.
func (e *Env) baselines(ctx context.Context, l *load, r *Report) *Baseline {
	b := &Baseline{}
	if (r.Projection.Known && r.Projection.CaughtUpSec == nil) || (r.Offload.Known && r.Offload.CaughtUpSec == nil) {
		b.Notes = append(b.Notes, "the projection or the offload had not caught up: the baselines ran while they still competed for the machine")
	}
	n := int(min(max(r.Written, 1000), int64(l.cfg.BaselineMax)))
	docs := baselineDocs(l, n)
	note := func(what string, err error) { b.Notes = append(b.Notes, what+": "+err.Error()) }
	var err error
	if b.RawPublish, err = e.rawPublish(ctx, l.w.coll, docs); err != nil {
		note("raw publish", err)
	}
	mc, err := e.mongo(ctx)
	if err != nil {
		note("mongo", err)
	} else {
		defer func() {
			_ = mc.Database(baselineDB).Drop(context.Background())
			_ = mc.Disconnect(context.Background())
		}()
		m := min(n, mongoBaselineMax)
		if b.BulkWrite, err = e.bulkWrite(ctx, mc, l.w.coll, docs[:m]); err != nil {
			note("bulkWrite", err)
		}
		// Look up only what bulkWrite stored: its time budget may have
		// cut it short of m on a slow server.
		stored := m
		if b.BulkWrite != nil {
			stored = min(m, b.BulkWrite.N)
		}
		if b.FindOne, err = e.findOne(ctx, mc, l, docs[:stored]); err != nil {
			note("findOne", err)
		}
		if b.BulkWrite != nil && b.BulkWrite.N < n {
			b.Notes = append(b.Notes, fmt.Sprintf("bulkWrite replayed %d of %d events (at most %d, %s)", b.BulkWrite.N, n, m, baselineBudget))
		}
	}
	if b.Put, err = e.put(ctx, l.w.coll, docs); err != nil {
		note("PUT", err)
	}
	return b
}

// baselineDoc is one event of a baseline: an item id and its document.
type baselineDoc struct {
	id  string
	doc []byte
}

func baselineDocs(l *load, n int) []baselineDoc {
	rng := rand.New(rand.NewPCG(3, 4))
	out := make([]baselineDoc, n)
	for i := range out {
		id := client.NewID()
		var doc []byte
		switch l.cfg.Scenario {
		case ScenarioTrading:
			doc = tradingDoc(rng, l.ids[i%len(l.ids)], uint64(i))
		default:
			doc = iotDoc(rng, l.cfg.Devices, uint64(i))
		}
		out[i] = baselineDoc{id: id, doc: doc}
	}
	return out
}

// rawStream is the baseline stream: the configuration of partition 0
// under another name and subject.
const (
	rawStream  = "CHRONOS_BENCH_RAW"
	rawSubject = "chronosbench.raw."
)

func (e *Env) rawPublish(ctx context.Context, coll events.Collection, docs []baselineDoc) (*Rate, error) {
	if e.js == nil {
		return nil, errNoBaseline
	}
	s, err := e.js.Stream(ctx, clog.StreamName(0))
	if err != nil {
		return nil, err
	}
	sc := s.CachedInfo().Config
	sc.Name, sc.Subjects, sc.Metadata, sc.Description = rawStream, []string{rawSubject + ">"}, nil, "chronos bench raw baseline"
	if _, err := e.js.CreateOrUpdateStream(ctx, sc); err != nil {
		return nil, err
	}
	defer func() { _ = e.js.DeleteStream(context.Background(), rawStream) }()
	now := time.Now().UTC().Truncate(time.Millisecond)
	msgs := make([]*nats.Msg, len(docs))
	for i, d := range docs {
		ev := &events.Event{V: events.Version, Op: events.OpCreate, At: now, InsertedAt: now, Actor: &benchActor, Creator: &benchActor, Payload: d.doc}
		m, err := e.log.NewMsg(coll.Item(d.id), ev, clog.AppendOptions{ExpectSeq: clog.Expect(0), MsgID: client.NewID()})
		if err != nil {
			return nil, err
		}
		m.Subject = rawSubject + strings.TrimPrefix(m.Subject, "chronos.evt.")
		msgs[i] = m
	}
	futures := make([]jetstream.PubAckFuture, len(msgs))
	begin := time.Now()
	for i, m := range msgs {
		if futures[i], err = e.js.PublishMsgAsync(m, jetstream.WithStallWait(30*time.Second)); err != nil {
			return nil, err
		}
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		return nil, fmt.Errorf("acks did not arrive within 2m")
	}
	d := time.Since(begin)
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return nil, err
		}
	}
	return &Rate{N: len(msgs), EventsPerSec: float64(len(msgs)) / d.Seconds()}, nil
}

func (e *Env) mongo(ctx context.Context) (*mongo.Client, error) {
	if e.mongoURI == "" {
		return nil, fmt.Errorf("%w: the read model is not MongoDB (give --mongo, or --ferretdb with the embedded stack)", errNoBaseline)
	}
	return mongo.Connect(ctx, options.Client().ApplyURI(e.mongoURI))
}

// bulkWrite writes the head and ver documents the projector would write
// for these creates.
func (e *Env) bulkWrite(ctx context.Context, mc *mongo.Client, coll events.Collection, docs []baselineDoc) (*Rate, error) {
	db := mc.Database(baselineDB)
	head, ver := db.Collection(coll.Name+"_head"), db.Collection(coll.Name+"_ver")
	// The projector's batch; FerretDB's trouble with large bulk upserts is
	// with matching documents, and these are all new.
	const chunk = 256
	now := time.Now().UTC().Truncate(time.Millisecond)
	type pair struct{ head, ver mongo.WriteModel }
	models := make([]pair, len(docs))
	for i, d := range docs {
		sys := bson.D{{Key: "ov", Value: int64(0)}, {Key: "cv", Value: int64(i + 1)}, {Key: "seq", Value: int64(i + 1)},
			{Key: "insertedAt", Value: now}, {Key: "updatedAt", Value: now}, {Key: "deleted", Value: false},
			{Key: "creator", Value: bson.D{{Key: "type", Value: benchActor.Type}, {Key: "identifier", Value: benchActor.Identifier}}},
			{Key: "size", Value: int64(len(d.doc))}}
		var payload bson.D
		if err := bson.UnmarshalExtJSON(d.doc, false, &payload); err != nil {
			return nil, err
		}
		h := append(bson.D{{Key: "_id", Value: d.id}}, payload...)
		h = append(h, bson.E{Key: "_system", Value: sys})
		v := bson.D{{Key: "_id", Value: d.id + ":0"}, {Key: "itemId", Value: d.id}, {Key: "ov", Value: int64(0)}, {Key: "at", Value: now}, {Key: "_system", Value: sys}}
		models[i] = pair{
			head: mongo.NewReplaceOneModel().SetFilter(bson.D{{Key: "_id", Value: d.id}}).SetReplacement(h).SetUpsert(true),
			ver:  mongo.NewReplaceOneModel().SetFilter(bson.D{{Key: "_id", Value: d.id + ":0"}}).SetReplacement(v).SetUpsert(true),
		}
	}
	opts := options.BulkWrite().SetOrdered(false)
	write := func(c *mongo.Collection, ms []mongo.WriteModel) error {
		for s := 0; s < len(ms); s += chunk {
			if _, err := c.BulkWrite(ctx, ms[s:min(s+chunk, len(ms))], opts); err != nil {
				return err
			}
		}
		return nil
	}
	const batch = 256
	begin := time.Now()
	done := 0
	for s := 0; s < len(models) && time.Since(begin) < baselineBudget; s += batch {
		var hs, vs []mongo.WriteModel
		for _, p := range models[s:min(s+batch, len(models))] {
			hs, vs = append(hs, p.head), append(vs, p.ver)
		}
		if err := write(ver, vs); err != nil {
			return nil, err
		}
		if err := write(head, hs); err != nil {
			return nil, err
		}
		done += len(hs)
	}
	d := time.Since(begin)
	return &Rate{N: done, EventsPerSec: float64(done) / d.Seconds()}, nil
}

// findOne looks up ids on _id: the run's own ids in its head collection
// when the target is embedded (its router names the database), else the
// bulkWrite baseline's.
func (e *Env) findOne(ctx context.Context, mc *mongo.Client, l *load, docs []baselineDoc) (*Rate, error) {
	head := mc.Database(baselineDB).Collection(l.w.coll.Name + "_head")
	ids := make([]string, 0, len(docs))
	for _, d := range docs {
		ids = append(ids, d.id)
	}
	if e.stack != nil && len(l.ids) > 0 {
		rt, err := e.stack.Deps.Router.RouteContext(ctx, l.w.coll)
		if err != nil {
			return nil, err
		}
		head, ids = mc.Database(rt.DBName).Collection(l.w.coll.Name+"_head"), l.ids
	}
	n := min(findOneMax, max(len(ids), 1000))
	lat := make([][]time.Duration, l.cfg.Concurrency)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	begin := time.Now()
	for w := range l.cfg.Concurrency {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(5, uint64(w)))
			for i := w; i < n && time.Since(begin) < baselineBudget; i += l.cfg.Concurrency {
				t := time.Now()
				err := head.FindOne(ctx, bson.D{{Key: "_id", Value: ids[rng.IntN(len(ids))]}}).Err()
				if err != nil {
					mu.Lock()
					first = cmpOr(first, err)
					mu.Unlock()
					return
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	d := time.Since(begin)
	if first != nil {
		return nil, first
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	lt := summarise(all)
	return &Rate{N: len(all), EventsPerSec: float64(len(all)) / d.Seconds(), Latency: &lt}, nil
}

// offloaderMinCompress and offloaderConcurrency are the offloader's
// defaults, which the PUT baseline copies.
const (
	offloaderMinCompress = 1024
	offloaderConcurrency = 8
)

func (e *Env) put(ctx context.Context, coll events.Collection, docs []baselineDoc) (*Rate, error) {
	if e.blobs == nil {
		return nil, fmt.Errorf("%w (embedded only)", errNoBaseline)
	}
	store, err := e.blobs(coll)
	if err != nil {
		return nil, err
	}
	type obj struct {
		key  string
		body []byte
	}
	objs := make([]obj, len(docs))
	for i, d := range docs {
		codec, body := offload.CodecNone, d.doc
		if len(body) >= offloaderMinCompress {
			codec = offload.CodecZstd
			if body, err = offload.Compress(codec, body); err != nil {
				return nil, err
			}
		}
		objs[i] = obj{offload.VersionKey("benchbaseline"+coll.Name, d.id, 0, codec), body}
	}
	next := make(chan obj)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	begin := time.Now()
	for range offloaderConcurrency {
		wg.Go(func() {
			for o := range next {
				if err := store.Put(ctx, o.key, bytes.NewReader(o.body), int64(len(o.body))); err != nil {
					mu.Lock()
					first = cmpOr(first, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, o := range objs {
		next <- o
	}
	close(next)
	wg.Wait()
	d := time.Since(begin)
	if first != nil {
		return nil, first
	}
	for _, o := range objs { // not timed
		_ = store.Delete(ctx, o.key)
	}
	return &Rate{N: len(objs), EventsPerSec: float64(len(objs)) / d.Seconds()}, nil
}
