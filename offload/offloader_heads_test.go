package offload_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/testenv"
	"github.com/chronos-go/chronos/internal/wiring"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/tenancy"
)

// headsEnv is a log, an ingest service and the buckets of three tenants:
// acme keeps records and versions apart (head records), solo has one
// `bucket` and norec a multi-bucket set whose versions default to its
// records bucket (no head records for either).
type headsEnv struct {
	ctx      context.Context
	deps     *wiring.Deps
	l        *clog.Log
	ing      *ingest.Service
	docs     events.Collection // acme's
	records  offload.Store     // acme's records bucket
	versions offload.Store     // acme's versions bucket
}

func newHeadsEnv(t *testing.T, members, spaceConnRef string) *headsEnv {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	sfx := hex.EncodeToString(b) // buckets of a shared S3 server stay apart
	ref := ""
	if spaceConnRef != "" {
		ref = `"spaceConnRef": "` + spaceConnRef + `", `
	}
	cfg, err := tenancy.Parse([]byte(`{
		"dbConnections": {"m": {"mongoUri": "mongodb://127.0.0.1:1"}}, `+members+`,
		"databases": {"runtime": {"tenantDatabases": [
			{"tenantId": "acme", "dbConnRef": "m", `+ref+`"dbName": "t_acme", "recordsBucket": "rec-`+sfx+`", "versionsBucket": "ver-`+sfx+`"},
			{"tenantId": "solo", "dbConnRef": "m", `+ref+`"dbName": "t_solo", "bucket": "one-`+sfx+`"},
			{"tenantId": "norec", "dbConnRef": "m", `+ref+`"dbName": "t_norec", "recordsBucket": "nrc-`+sfx+`", "contentBucket": "ncn-`+sfx+`"}]}}
	}`), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	deps, err := wiring.Open(cfg, wiring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deps.Close(context.Background()) })
	_, js := testenv.StartNATS(t).Connect(t)
	if err := clog.EnsureStreams(ctx, js, clog.Config{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	l, err := clog.Open(ctx, js, events.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	h := &headsEnv{
		ctx: ctx, deps: deps, l: l,
		ing:  ingest.New(l, ingest.Options{Blobs: deps.Blobs(), Router: deps.Router}),
		docs: events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "docs"},
	}
	if h.records, err = deps.HeadBlobs()(h.docs); err != nil || h.records == nil {
		t.Fatalf("HeadBlobs(acme) = %v, %v; want the records bucket", h.records, err)
	}
	if h.versions, err = deps.Blobs()(h.docs); err != nil {
		t.Fatal(err)
	}
	return h
}

// offloader returns an offloader of the env's log with head records, its
// metrics on reg (nil: none).
func (h *headsEnv) offloader(t *testing.T, reg *prometheus.Registry, heads offload.Resolver) *offload.Offloader {
	t.Helper()
	if heads == nil {
		heads = h.deps.HeadBlobs()
	}
	opts := offload.OffloaderOptions{Heads: heads, Retry: fallbackq.Config{MaxRetries: 3, RetryDelayMs: 20, MaxDelayMs: 100}}
	if reg != nil {
		opts.OffloadMetrics = offload.NewMetrics(reg)
		opts.Metrics = fallbackq.NewMetrics(reg)
	}
	o, err := offload.NewOffloader(h.l, h.deps.Blobs(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// write appends one event through ingest (create when ov is 0, update,
// or delete when doc is empty) and returns it as the log holds it.
func (h *headsEnv) write(t *testing.T, c events.Collection, id string, ov int, doc string) *clog.Record {
	t.Helper()
	rec, err := h.tryWrite(c, id, ov, doc)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func (h *headsEnv) tryWrite(c events.Collection, id string, ov int, doc string) (*clog.Record, error) {
	var res ingest.Result
	var err error
	switch {
	case doc == "":
		res, err = h.ing.Delete(h.ctx, c.Item(id), ingest.Write{})
	case ov == 0:
		res, err = h.ing.Create(h.ctx, c, id, []byte(doc), ingest.Write{})
	default:
		res, err = h.ing.Update(h.ctx, c.Item(id), []byte(doc), ingest.Write{})
	}
	if err != nil {
		return nil, fmt.Errorf("write %s v%d: %w", id, ov, err)
	}
	if res.OV != uint64(ov) {
		return nil, fmt.Errorf("write %s: ov %d, want %d", id, res.OV, ov)
	}
	return h.l.Get(h.ctx, h.l.Partition(c), res.Seq)
}

func (h *headsEnv) offload(t *testing.T, o *offload.Offloader, recs ...*clog.Record) {
	t.Helper()
	for _, rec := range recs {
		if err := o.Offload(h.ctx, rec); err != nil {
			t.Fatalf("Offload %s v%d: %v", rec.Ref, rec.Event.OV, err)
		}
	}
}

// head returns the decompressed head record of item id and its codec, or
// found false when there is none. More than one head key is an error.
func head(t *testing.T, s offload.Store, id string) (payload []byte, codec offload.Codec, found bool) {
	t.Helper()
	for _, c := range []offload.Codec{offload.CodecZstd, offload.CodecS2, offload.CodecNone} {
		rc, _, err := s.Get(context.Background(), offload.HeadKey("docs", id, c))
		if errors.Is(err, offload.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if found {
			t.Fatalf("%s has heads under the keys of %s and %s", id, codec, c)
		}
		if payload, err = offload.Decompress(c, data, 16<<20); err != nil {
			t.Fatalf("head of %s (%s): %v", id, c, err)
		}
		codec, found = c, true
	}
	return payload, codec, found
}

// wantHead fails unless the head of id holds want (compressed with codec).
func wantHead(t *testing.T, s offload.Store, id, want string, codec offload.Codec) {
	t.Helper()
	got, c, found := head(t, s, id)
	switch {
	case !found:
		t.Errorf("%s has no head, want %.60q", id, want)
	case string(got) != want:
		t.Errorf("head of %s = %.60q, want %.60q", id, got, want)
	case codec != "" && c != codec:
		t.Errorf("head of %s is stored with %s, want %s", id, c, codec)
	}
}

func wantNoHead(t *testing.T, s offload.Store, id string) {
	t.Helper()
	if got, c, found := head(t, s, id); found {
		t.Errorf("%s has a head (%s): %.60q, want none", id, c, got)
	}
}

// doc returns a JSON document naming id and n, padded to about size bytes.
func doc(id string, n, size int) string {
	d := fmt.Sprintf(`{"id":%q,"n":%d,"pad":""}`, id, n)
	if pad := size - len(d); pad > 0 {
		d = fmt.Sprintf(`{"id":%q,"n":%d,"pad":%q}`, id, n, strings.Repeat("ab", pad/2))
	}
	return d
}

// Head records: the records bucket of a route that keeps it apart from
// its versions bucket holds the latest payload of every live item, on
// local disk and on S3 alike.
func TestOffloaderHeads(t *testing.T) {
	t.Run("local", func(t *testing.T) {
		dir := t.TempDir()
		testOffloaderHeads(t, newHeadsEnv(t, `"localStorage": {"enabled": true, "basePath": "`+dir+`"}`, ""))
	})
	t.Run("s3", func(t *testing.T) {
		srv := testenv.StartS3(t)
		testOffloaderHeads(t, newHeadsEnv(t, `"spacesConnections": {"s3": {"type": "s3", "endpoint": "`+srv.Endpoint+
			`", "region": "`+srv.Region+`", "accessKey": "`+srv.AccessKey+`", "secretKey": "`+srv.SecretKey+`", "forcePathStyle": true}}`, "s3"))
	})
}

func testOffloaderHeads(t *testing.T, h *headsEnv) {
	// Versions in order: the head follows each, in the codec of its
	// size (a small one uncompressed, a large one zstd), and a change of
	// codec leaves one head. The records bucket holds heads only, the
	// versions bucket no head.
	t.Run("latest", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		o := h.offloader(t, reg, nil)
		steps := []struct {
			doc   string
			codec offload.Codec
		}{
			{doc("a", 0, 100), offload.CodecNone},
			{doc("a", 1, 4000), offload.CodecZstd},
			{doc("a", 2, 200), offload.CodecNone},
		}
		for ov, s := range steps {
			h.offload(t, o, h.write(t, h.docs, "a", ov, s.doc))
			wantHead(t, h.records, "a", s.doc, s.codec)
		}
		if got, want := listKeys(t, h.records), []string{offload.HeadKey("docs", "a", offload.CodecNone)}; !slices.Equal(got, want) {
			t.Errorf("records bucket holds %q, want %q", got, want)
		}
		for _, k := range listKeys(t, h.versions) {
			if strings.Contains(k, "head.json") {
				t.Errorf("versions bucket holds %q", k)
			}
		}
		for ov := range steps {
			if _, err := offload.ReadVersion(h.ctx, h.versions, h.docs.Item("a"), uint64(ov), 1<<20); err != nil {
				t.Errorf("version %d: %v", ov, err)
			}
		}
		if got, _ := gaugeValue(t, reg, "chronos_offloader_objects_total", "kind", offload.KindHead); got != 3 {
			t.Errorf("chronos_offloader_objects_total{kind=head} = %v, want 3", got)
		}
	})

	// Old events redelivered after the newest: the head stays the newest.
	t.Run("out of order", func(t *testing.T) {
		o := h.offloader(t, nil, nil)
		var recs []*clog.Record
		for ov := range 3 {
			recs = append(recs, h.write(t, h.docs, "b", ov, doc("b", ov, 100)))
		}
		for _, i := range []int{2, 0, 1} {
			h.offload(t, o, recs[i])
			wantHead(t, h.records, "b", doc("b", 2, 100), offload.CodecNone)
		}
	})

	// A deleted or erased item has no head, and a late redelivery of one
	// of its earlier versions brings none back.
	t.Run("delete and erase", func(t *testing.T) {
		o := h.offloader(t, nil, nil)
		c0 := h.write(t, h.docs, "c", 0, doc("c", 0, 3000))
		h.offload(t, o, c0)
		wantHead(t, h.records, "c", doc("c", 0, 3000), offload.CodecZstd)
		u := h.write(t, h.docs, "c", 1, doc("c", 1, 100))
		d := h.write(t, h.docs, "c", 2, "")
		h.offload(t, o, d)
		wantNoHead(t, h.records, "c")
		h.offload(t, o, c0, u)
		wantNoHead(t, h.records, "c")

		e0 := h.write(t, h.docs, "e", 0, doc("e", 0, 100))
		h.offload(t, o, e0)
		wantHead(t, h.records, "e", doc("e", 0, 100), offload.CodecNone)
		last, err := h.l.Last(h.ctx, h.docs.Item("e"))
		if err != nil {
			t.Fatal(err)
		}
		ack, err := h.l.Append(h.ctx, h.docs.Item("e"), &events.Event{
			V: events.Version, Op: events.OpErase, OV: 1, At: time.Now().UTC(), InsertedAt: last.Event.InsertedAt,
		}, clog.AppendOptions{ExpectSeq: clog.Expect(last.Seq)})
		if err != nil {
			t.Fatal(err)
		}
		erase, err := h.l.Get(h.ctx, h.l.Partition(h.docs), ack.Seq)
		if err != nil {
			t.Fatal(err)
		}
		h.offload(t, o, erase, e0)
		wantNoHead(t, h.records, "e")
	})

	// A document over ingest's claim threshold (256 KiB) is in the log by
	// reference only: its head is the whole document, read from the claim.
	t.Run("claim-checked", func(t *testing.T) {
		o := h.offloader(t, nil, nil)
		big := make([]byte, 150<<10)
		rand.Read(big)
		d := `{"id":"big","blob":"` + hex.EncodeToString(big) + `"}`
		rec := h.write(t, h.docs, "big", 0, d)
		if rec.Event.PayloadRef == nil || len(rec.Event.Payload) != 0 {
			t.Fatalf("a %d-byte document is not claim-checked", len(d))
		}
		h.offload(t, o, rec)
		wantHead(t, h.records, "big", d, offload.CodecZstd)
		// The claim of v0 redelivered after a small v1: the head is v1.
		h.offload(t, o, h.write(t, h.docs, "big", 1, doc("big", 1, 100)), rec)
		wantHead(t, h.records, "big", doc("big", 1, 100), offload.CodecNone)
	})

	// Where records and versions share a bucket (a single `bucket`, or a
	// multi-bucket set without its own versionsBucket), HeadBlobs
	// resolves no store and no head is written.
	t.Run("records are versions", func(t *testing.T) {
		o := h.offloader(t, nil, nil)
		for _, scope := range []string{"solo", "norec"} {
			c := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: scope, Name: "docs"}
			if st, err := h.deps.HeadBlobs()(c); err != nil || st != nil {
				t.Errorf("HeadBlobs(%s) = %v, %v; want no store", scope, st, err)
			}
			h.offload(t, o, h.write(t, c, "s", 0, doc("s", 0, 100)), h.write(t, c, "s", 1, doc("s", 1, 3000)))
			for name, resolve := range map[string]offload.Resolver{"versions": h.deps.Blobs(), "content": h.deps.ContentBlobs()} {
				st, err := resolve(c)
				if err != nil {
					t.Fatal(err)
				}
				keys := listKeys(t, st)
				for _, k := range keys {
					if strings.Contains(k, "head.json") {
						t.Errorf("%s: the %s bucket holds %q", scope, name, k)
					}
				}
				if name == "versions" && len(keys) != 2 {
					t.Errorf("%s: the versions bucket holds %q, want the 2 versions", scope, keys)
				}
			}
		}
	})

	// A write that read an old last event and lands after the head of the
	// newer one is repaired by its own re-check: the Put of v0's head is
	// held until v1 is written and offloaded (by another offloader).
	t.Run("stale write", func(t *testing.T) {
		held := &heldStore{Store: h.records, hold: []byte(doc("f", 0, 100)), entered: make(chan struct{}), release: make(chan struct{})}
		slow := h.offloader(t, nil, func(events.Collection) (offload.Store, error) { return held, nil })
		fast := h.offloader(t, nil, nil)
		f0 := h.write(t, h.docs, "f", 0, doc("f", 0, 100))
		done := make(chan error, 1)
		go func() { done <- slow.Offload(h.ctx, f0) }()
		<-held.entered
		h.offload(t, fast, h.write(t, h.docs, "f", 1, doc("f", 1, 100)))
		wantHead(t, h.records, "f", doc("f", 1, 100), offload.CodecNone)
		close(held.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		wantHead(t, h.records, "f", doc("f", 1, 100), offload.CodecNone)
		if held.held != 1 {
			t.Errorf("%d Puts of v0's head, want 1 (held)", held.held)
		}
	})

	// Writers and several offloaders at once, then every event
	// redelivered in a shuffled order by concurrent callers: every head is
	// its item's last version, and a deleted item has none.
	t.Run("concurrent", func(t *testing.T) {
		offloaders := []*offload.Offloader{h.offloader(t, nil, nil), h.offloader(t, nil, nil), h.offloader(t, nil, nil)}
		const items, versions = 6, 6
		recs := make(chan *clog.Record, items*versions)
		var all []*clog.Record
		var mu sync.Mutex
		work := func(recs <-chan *clog.Record) error {
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for rec := range recs {
						if err := offloaders[w%len(offloaders)].Offload(h.ctx, rec); err != nil {
							errs <- fmt.Errorf("Offload %s v%d: %w", rec.Ref, rec.Event.OV, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			return <-errs
		}
		workDone := make(chan error, 1)
		go func() { workDone <- work(recs) }()
		var writers sync.WaitGroup
		for i := range items {
			writers.Add(1)
			go func() {
				defer writers.Done()
				id := fmt.Sprintf("g%d", i)
				for ov := range versions {
					d := doc(id, ov, 100+ov%3*1500) // sizes across MinCompress
					if ov == versions-1 && i%3 == 0 {
						d = "" // a delete
					}
					rec, err := h.tryWrite(h.docs, id, ov, d)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					all = append(all, rec)
					mu.Unlock()
					recs <- rec
				}
			}()
		}
		writers.Wait()
		close(recs)
		if t.Failed() {
			t.FailNow()
		}
		if err := <-workDone; err != nil {
			t.Fatal(err)
		}
		redeliveries := make(chan *clog.Record, len(all))
		for _, i := range mrand.Perm(len(all)) {
			redeliveries <- all[i]
		}
		close(redeliveries)
		if err := work(redeliveries); err != nil {
			t.Fatal(err)
		}
		for i := range items {
			id := fmt.Sprintf("g%d", i)
			if i%3 == 0 {
				wantNoHead(t, h.records, id)
				continue
			}
			wantHead(t, h.records, id, doc(id, versions-1, 100+(versions-1)%3*1500), "")
		}
	})

	// A head that cannot be written fails the event like a failed
	// version upload: it is retried (fallbackq) and then written.
	t.Run("retried", func(t *testing.T) {
		faulty := &faultyStore{Store: h.records, puts: map[string]int{}, fail: func(key string, attempt int) error {
			if strings.Contains(key, "/r/head.json") && attempt == 1 {
				return statusError(503)
			}
			return nil
		}}
		reg := prometheus.NewRegistry()
		o := h.offloader(t, reg, func(c events.Collection) (offload.Store, error) {
			if c == h.docs {
				return faulty, nil
			}
			return h.deps.HeadBlobs()(c)
		})
		// Everything written so far is offloaded again by this consumer
		// (its heads unchanged); then the one new item.
		r0 := h.write(t, h.docs, "r", 0, doc("r", 0, 100))
		ctx, stop := context.WithCancel(h.ctx)
		done := make(chan error, 1)
		go func() { done <- o.Run(ctx) }()
		defer func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
		awaitCond(t, "the head of r written after a 503", func() bool {
			_, _, found := head(t, h.records, "r")
			return found
		})
		wantHead(t, h.records, "r", string(r0.Event.Payload), offload.CodecNone)
		if got := faulty.attempts(offload.HeadKey("docs", "r", offload.CodecNone)); got != 2 {
			t.Errorf("%d Puts of r's head, want 2 (a 503, then the retry)", got)
		}
		if got := counterValue(t, reg, "chronos_retries_total"); got != 1 {
			t.Errorf("chronos_retries_total = %v, want 1", got)
		}
	})
}

// heldStore holds the first Put whose bytes are hold until release is
// closed, and tells entered when it holds it.
type heldStore struct {
	offload.Store
	hold             []byte
	entered, release chan struct{}
	held             int
}

func (s *heldStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if bytes.Equal(data, s.hold) {
		s.held++
		if s.held == 1 {
			close(s.entered)
			select {
			case <-s.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return s.Store.Put(ctx, key, bytes.NewReader(data), size)
}
