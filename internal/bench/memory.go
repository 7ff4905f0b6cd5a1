package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/client"
	"github.com/chronos-go/chronos/events"
	clog "github.com/chronos-go/chronos/log"
)

// SubjectMemory is what n distinct item subjects cost a JetStream server:
// measured on a server of its own, in this process, before and after
// publishing one small message to each subject of one partition stream.
type SubjectMemory struct {
	Subjects int `json:"subjects"`
	// HeapDelta is the growth of the Go heap in use after a GC: the
	// server's per-subject state, its caches and indexes (the client holds
	// nothing once every ack is in).
	HeapDelta      int64   `json:"heapDeltaBytes"`
	HeapPerSubject float64 `json:"heapPerSubjectBytes"`
	// RSSDelta is the growth of the process's resident set (the server's
	// varz "mem"), which also holds memory the runtime has not returned.
	RSSDelta      int64   `json:"rssDeltaBytes"`
	RSSPerSubject float64 `json:"rssPerSubjectBytes"`
	// StoreBytes is the stream's size on disk.
	StoreBytes uint64  `json:"storeBytes"`
	PublishSec float64 `json:"publishSec"`
}

// MeasureSubjects starts a JetStream server of its own under dir (file
// storage, one partition stream of the real configuration), publishes one
// ~100 B message to each of n distinct item subjects, and reports the
// memory they cost. Run it while nothing else allocates in this process.
func MeasureSubjects(ctx context.Context, dir string, n int) (SubjectMemory, error) {
	res := SubjectMemory{Subjects: n}
	sdir := filepath.Join(dir, fmt.Sprintf("subjects-%d", n))
	defer os.RemoveAll(sdir)
	srv, err := clog.StartEmbedded(clog.EmbeddedOptions{StoreDir: sdir})
	if err != nil {
		return res, err
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return res, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4000))
	if err != nil {
		return res, err
	}
	if err := clog.EnsureStreams(ctx, js, clog.Config{Partitions: 1}); err != nil {
		return res, err
	}
	heap0, rss0 := settle(srv.Server())
	coll := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "bench", Name: "subjects"}
	body := []byte(`{"v":1,"op":"create","ov":0,"payload":{"deviceId":"dev-000001","temperature":21.5,"humidity":40.2,"ok":true}}`)
	begin := time.Now()
	for i := range n {
		m := &nats.Msg{Subject: events.Subject(coll.Item(client.NewID()), 1), Data: body}
		if _, err := js.PublishMsgAsync(m); err != nil {
			return res, fmt.Errorf("publish %d: %w", i, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return res, ctx.Err()
	}
	res.PublishSec = time.Since(begin).Seconds()
	s, err := js.Stream(ctx, clog.StreamName(0))
	if err != nil {
		return res, err
	}
	if got := s.CachedInfo().State.NumSubjects; got != uint64(n) {
		return res, fmt.Errorf("the stream has %d subjects, want %d", got, n)
	}
	res.StoreBytes = s.CachedInfo().State.Bytes
	heap1, rss1 := settle(srv.Server())
	res.HeapDelta, res.RSSDelta = heap1-heap0, rss1-rss0
	res.HeapPerSubject = float64(res.HeapDelta) / float64(n)
	res.RSSPerSubject = float64(res.RSSDelta) / float64(n)
	return res, nil
}

// settle collects garbage, returns freed memory to the OS, and reads the
// heap in use and the server's view of the process RSS.
func settle(srv *server.Server) (heap, rss int64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap = int64(ms.HeapInuse)
	if v, err := srv.Varz(nil); err == nil {
		rss = v.Mem
	}
	return heap, rss
}
