package query

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
	clog "github.com/chronos-go/chronos/log"
)

// watchKeepAlive is the interval of SSE comments sent while no event comes,
// so that proxies keep the connection open and a gone client is noticed.
const watchKeepAlive = 15 * time.Second

// ChangeEvent is the data of one change-feed message: an event of the log
// with its place in it. Seq is also the message's SSE id.
type ChangeEvent struct {
	Seq    uint64    `json:"seq"`
	ItemID string    `json:"itemId"`
	Time   time.Time `json:"time"`
	*events.Event
}

// Watch calls fn with every event of collection c from sequence fromSeq
// (inclusive; 0: only events appended from now on), in log order, until ctx
// ends or fn fails. onIdle runs whenever the feed has caught up.
func (s *Service) Watch(ctx context.Context, c events.Collection, fromSeq uint64, fn func(*ChangeEvent) error, onIdle func() error) error {
	return s.log.Watch(ctx, c, fromSeq, func(r *clog.Record) error {
		return fn(&ChangeEvent{Seq: r.Seq, ItemID: r.Ref.ID, Time: r.Time, Event: r.Event})
	}, onIdle)
}

// watch serves GET {base}/watch?fromSeq=N as Server-Sent Events: one
// message per event, "event: <op>", "id: <seq>", "data: <ChangeEvent>". A
// reconnecting client sends Last-Event-ID and resumes after that seq (the
// header wins over fromSeq). Without either, the feed starts with the
// events appended after the request.
func (h *Handler) watch(w http.ResponseWriter, r *http.Request) {
	c, err := collectionFromPath(r)
	var from uint64
	if err == nil {
		from, err = watchStart(r)
	}
	if err != nil {
		httpapi.WriteError(w, r, h.log, err)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(": chronos change feed of " + c.String() + "\nretry: 2000\n\n"))
	if err := rc.Flush(); err != nil {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var mu sync.Mutex // serializes writes of the feed and the keep-alive
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(watchKeepAlive)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				mu.Lock()
				_, err := w.Write([]byte(": keep-alive\n\n"))
				if err == nil {
					err = rc.Flush()
				}
				mu.Unlock()
				if err != nil {
					cancel()
					return
				}
			}
		}
	}()
	var buf bytes.Buffer
	pending := 0
	flush := func() error {
		mu.Lock()
		defer mu.Unlock()
		_, err := w.Write(buf.Bytes())
		buf.Reset()
		pending = 0
		if err == nil {
			err = rc.Flush()
		}
		return err
	}
	err = h.svc.Watch(ctx, c, from, func(ev *ChangeEvent) error {
		data, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		buf.WriteString("id: " + strconv.FormatUint(ev.Seq, 10) + "\nevent: " + string(ev.Op) + "\ndata: ")
		buf.Write(data)
		buf.WriteString("\n\n")
		if pending++; pending >= 64 {
			return flush()
		}
		return nil
	}, flush)
	cancel()
	wg.Wait()
	if err != nil && r.Context().Err() == nil {
		// The status is sent: report in the stream, then end it; the
		// client reconnects with Last-Event-ID.
		h.log.Warn("change feed stopped", "collection", c.String(), "err", err)
		mu.Lock()
		_, _ = w.Write([]byte("event: error\ndata: {\"error\":{\"code\":\"feed_stopped\"}}\n\n"))
		_ = rc.Flush()
		mu.Unlock()
	}
}

// watchStart returns the first seq a watch sends: after Last-Event-ID,
// else ?fromSeq=, else 0 (new events only).
func watchStart(r *http.Request) (uint64, error) {
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, invalid("Last-Event-ID", "must be the seq of a change-feed message, got %s", strconv.Quote(v))
		}
		return n + 1, nil
	}
	v := r.URL.Query().Get("fromSeq")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return 0, invalid("fromSeq", "must be a sequence ≥ 1, got %s", strconv.Quote(v))
	}
	return n, nil
}
