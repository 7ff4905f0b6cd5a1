package stack_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/stack"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/offload/local"
	"github.com/chronos-go/chronos/query"
)

// createItem creates id in the collection at base and returns its seq.
func createItem(t *testing.T, base, id, doc string) uint64 {
	t.Helper()
	r := mustStatus(t, call(t, "POST", base+"/items?id="+id, doc), 201).json(t)
	return uint64(r["seq"].(float64))
}

// Read-your-writes: a read with the seq a write returned sees that write;
// a seq the projection never reaches is a 504 naming the position.
func TestQueryMinSeq(t *testing.T) {
	s := startStack(t, stack.Config{})
	base := s.URL() + ordersPath
	for i := range 20 {
		id := fmt.Sprintf("rw-%d", i)
		seq := createItem(t, base, id, fmt.Sprintf(`{"n":%d}`, i))
		hdr := []string{}
		url := base + "/items/" + id + "?minSeq=" + strconv.FormatUint(seq, 10)
		if i%2 == 1 { // the header form
			url, hdr = base+"/items/"+id, []string{query.MinSeqHeader, strconv.FormatUint(seq, 10)}
		}
		mustStatus(t, call(t, "GET", url, "", hdr...), 200)
		r := mustStatus(t, call(t, "POST", base+"/query?minSeq="+strconv.FormatUint(seq, 10), `{"count":true,"limit":1}`), 200).json(t)
		if r["total"].(float64) != float64(i+1) {
			t.Fatalf("after minSeq %d the list counts %v items, want %d", seq, r["total"], i+1)
		}
	}
	mustStatus(t, call(t, "GET", base+"/items/rw-0?minSeq=abc", ""), 400)

	// A short bound on a query service of its own.
	ctx := context.Background()
	prog, err := clog.OpenProgress(ctx, s.Log.JetStream(), 0)
	if err != nil {
		t.Fatal(err)
	}
	f, err := prog.Follow(ctx, "projector")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	svc := query.New(s.Store, s.Log, s.Blobs.ReadOnly(), query.Options{Progress: f, MinSeqWait: 300 * time.Millisecond})
	mux := http.NewServeMux()
	query.NewHandler(svc, nil).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	start := time.Now()
	r := mustStatus(t, call(t, "GET", srv.URL+ordersPath+"/items/rw-0?minSeq=1000000", ""), 504)
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Fatalf("the wait took %v, want about 300ms", d)
	}
	e := r.json(t)["error"].(map[string]any)
	if e["code"] != "min_seq_timeout" || e["minSeq"].(float64) != 1000000 || e["position"].(float64) < 1 {
		t.Fatalf("504 body: %s", r.Body)
	}
	// Without progress, minSeq is refused rather than ignored.
	mustStatus(t, call(t, "GET", queryServer(t, s, nil)+ordersPath+"/items/rw-0?minSeq=1", ""), 501)
}

// sseEvent is one decoded change-feed message.
type sseEvent struct {
	id, event string
	data      map[string]any
}

// openFeed opens a change feed and returns its messages as they come.
func openFeed(t *testing.T, ctx context.Context, url string, hdr ...string) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("watch: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 100)
	go func() {
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.id != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &ev.data)
			}
		}
	}()
	return out
}

func nextEvent(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the feed ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no change-feed message in 10s")
	}
	return sseEvent{}
}

func TestQueryWatchResumes(t *testing.T) {
	s := startStack(t, stack.Config{})
	base := s.URL() + ordersPath
	seqs := []uint64{createItem(t, base, "w-1", `{"a":1}`), createItem(t, base, "w-2", `{"a":2}`)}
	mustStatus(t, call(t, "DELETE", base+"/items/w-1", ""), 200)

	ctx, cancel := context.WithCancel(context.Background())
	feed := openFeed(t, ctx, base+"/watch?fromSeq="+strconv.FormatUint(seqs[0], 10))
	var got []sseEvent
	for range 3 {
		got = append(got, nextEvent(t, feed))
	}
	if got[0].data["itemId"] != "w-1" || got[0].event != "create" || got[1].data["itemId"] != "w-2" || got[2].event != "delete" {
		t.Fatalf("feed: %+v", got)
	}
	if got[0].id != strconv.FormatUint(seqs[0], 10) || got[1].id != strconv.FormatUint(seqs[1], 10) {
		t.Fatalf("ids %s %s, want the seqs %v", got[0].id, got[1].id, seqs)
	}
	// Live: a write after the feed caught up arrives.
	seq3 := createItem(t, base, "w-3", `{"a":3}`)
	if ev := nextEvent(t, feed); ev.id != strconv.FormatUint(seq3, 10) || ev.data["payload"].(map[string]any)["a"].(float64) != 3 {
		t.Fatalf("live event: %+v", ev)
	}
	cancel() // the client goes away

	// Resume after the second message with Last-Event-ID.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	feed2 := openFeed(t, ctx2, base+"/watch?fromSeq=1", "Last-Event-ID", got[1].id)
	if ev := nextEvent(t, feed2); ev.id != got[2].id {
		t.Fatalf("resumed at %s, want %s", ev.id, got[2].id)
	}
	if ev := nextEvent(t, feed2); ev.id != strconv.FormatUint(seq3, 10) {
		t.Fatalf("then %s, want %d", ev.id, seq3)
	}
	mustStatus(t, call(t, "GET", base+"/watch?fromSeq=x", ""), 400)
	mustStatus(t, call(t, "GET", base+"/watch", "", "Last-Event-ID", "nope"), 400)
}

func TestQueryTiered(t *testing.T) {
	s := startStack(t, stack.Config{})
	put := func(path, doc string) {
		mustStatus(t, call(t, "POST", s.URL()+path+"/items?id=flags", doc), 201)
	}
	put("/v1/knowledge/generic/_/appconfig", `{"key":"flags","theme":"light","features":["basic","standard"],"settings":{"timeout":30}}`)
	put("/v1/knowledge/domain/prod/appconfig", `{"key":"flags","features":["advanced"],"settings":{"maxRetries":3}}`)
	put("/v1/knowledge/tenant/acme/appconfig", `{"key":"flags","theme":"dark","features":["premium","basic"],"settings":{"timeout":60}}`)
	url := s.URL() + "/v1/knowledge/tiered/appconfig"
	var res struct {
		Data        map[string]any             `json:"data"`
		Tier        string                     `json:"tier"`
		TiersFound  []string                   `json:"tiersFound"`
		TierRecords map[string]json.RawMessage `json:"tierRecords"`
	}
	get := func(q string) {
		res.Data, res.Tier, res.TiersFound, res.TierRecords = nil, "", nil, nil
		eventuallyStatus(t, url+"?"+q, 200, func(b []byte) {
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatal(err)
			}
		})
	}
	eventually(t, "three tiers merged", func() bool {
		get(`tenant=acme&domain=prod&merge=true&filter={"key":"flags"}`)
		return len(res.TiersFound) == 3
	})
	get("tenant=acme&domain=prod&id=flags")
	if res.Tier != "tenant" || res.Data["theme"] != "dark" {
		t.Fatalf("first found: %+v", res)
	}
	get("tenant=other&domain=prod&id=flags")
	if res.Tier != "domain" {
		t.Fatalf("fallback to domain: %+v", res)
	}
	get("id=flags")
	if res.Tier != "generic" {
		t.Fatalf("fallback to generic: %+v", res)
	}
	get(`tenant=acme&domain=prod&merge=true&filter={"key":"flags"}`)
	want := `{"key":"flags","theme":"dark","features":["basic","standard","advanced","premium"],"settings":{"timeout":60,"maxRetries":3}}`
	got, _ := json.Marshal(res.Data)
	if !jsonEqual(t, got, []byte(want)) || strings.Join(res.TiersFound, ",") != "generic,domain,tenant" || len(res.TierRecords) != 3 {
		t.Fatalf("merge: %s %v %d records", got, res.TiersFound, len(res.TierRecords))
	}
	mustStatus(t, call(t, "GET", url+"?id=nope", ""), 404)
	mustStatus(t, call(t, "GET", url+"?tenant=acme", ""), 400)
	mustStatus(t, call(t, "GET", url+`?filter={"x":{"$where":"1"}}`, ""), 400)
}

// eventuallyStatus GETs url until it answers want, then hands the body on.
func eventuallyStatus(t *testing.T, url string, want int, fn func([]byte)) {
	t.Helper()
	var last apiResp
	eventually(t, url, func() bool {
		last = call(t, "GET", url, "")
		return last.Status == want
	})
	fn(last.Body)
}

// presign=true returns a URL of the version blob, which a client fetches
// without credentials; a tampered URL is refused. The URL is signed by a
// local store that serves it with ServePresigned, routed there by
// Options.Presign (the stack's own presigning: TestPresignLocalDev).
func TestQueryPresignLocal(t *testing.T) {
	s := startStack(t, stack.Config{})
	base := s.URL() + ordersPath
	doc := `{"big":"` + strings.Repeat("x", 100) + `"}`
	createItem(t, base, "p-1", doc)
	mux := http.NewServeMux()
	blobSrv := httptest.NewServer(mux)
	defer blobSrv.Close()
	signer, err := local.OpenWith(t.TempDir(), local.Options{PresignBaseURL: blobSrv.URL + "/blobs"})
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("/blobs/", signer.ServePresigned)
	stackBlobs, err := s.Blobs(orders)
	if err != nil {
		t.Fatal(err)
	}
	svc := query.New(s.Store, s.Log, s.Blobs.ReadOnly(), query.Options{
		// Sign with the serving store after copying the object there.
		Presign: func(ctx context.Context, c events.Collection, key string, ttl time.Duration) (string, error) {
			rc, info, err := stackBlobs.Get(ctx, key)
			if err != nil {
				return "", err
			}
			defer rc.Close()
			if err := signer.Put(ctx, key, rc, info.Size); err != nil {
				return "", err
			}
			return signer.Presign(ctx, key, ttl)
		},
	})
	qmux := http.NewServeMux()
	query.NewHandler(svc, nil).Register(qmux)
	qsrv := httptest.NewServer(qmux)
	defer qsrv.Close()
	var pu query.PayloadURL
	eventually(t, "a presigned read", func() bool {
		r := call(t, "GET", qsrv.URL+ordersPath+"/items/p-1?ov=0&presign=true&ttl=60s", "")
		var body struct {
			Big     *string           `json:"big"`
			Payload *query.PayloadURL `json:"_payload"`
		}
		_ = json.Unmarshal(r.Body, &body)
		if r.Status != 200 || body.Payload == nil {
			return false
		}
		if body.Big != nil {
			t.Fatalf("a presigned read also returned the body: %s", r.Body)
		}
		pu = *body.Payload
		return true
	})
	if pu.Size == 0 || pu.ExpiresAt.Before(time.Now().Add(50*time.Second)) {
		t.Fatalf("payload url: %+v", pu)
	}
	r := mustStatus(t, call(t, "GET", pu.URL, ""), 200)
	codec, err := offload.ParseCodec(pu.Codec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := offload.Decompress(codec, r.Body, 1<<20)
	if err != nil || !jsonEqual(t, got, []byte(doc)) {
		t.Fatalf("fetched %s (%v), want %s", got, err, doc)
	}
	mustStatus(t, call(t, "GET", strings.Replace(pu.URL, "signature=", "signature=00", 1), ""), 403)
	mustStatus(t, call(t, "GET", qsrv.URL+ordersPath+"/items/p-1?ov=0&presign=true&ttl=200h", ""), 400)
	mustStatus(t, call(t, "GET", qsrv.URL+ordersPath+"/items/p-1?ov=0&presign=true&fields=big", ""), 400)
	mustStatus(t, call(t, "GET", qsrv.URL+ordersPath+"/items/p-1?ov=0&ttl=60", ""), 400)
	mustStatus(t, call(t, "GET", base+"/items/p-1?ov=0&presign=true", ""), 200)
}
