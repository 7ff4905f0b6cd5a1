package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/chronos-go/chronos/client"
	"github.com/chronos-go/chronos/events"
)

// opTimeout bounds one operation; the load's end does not cancel an
// operation in flight (it would count as an error).
const opTimeout = 30 * time.Second

// maxConflictRetries bounds the retries of one update losing races.
const maxConflictRetries = 100

var benchActor = events.Actor{Type: "service", Identifier: "chronos-bench"}

// writer writes to one collection through the producer or HTTP.
type writer struct {
	coll events.Collection
	col  *client.Collection
	p    *client.Producer
	env  *Env
}

func newWriter(ctx context.Context, e *Env, via string, coll events.Collection) (*writer, error) {
	w := &writer{coll: coll, env: e, col: e.hc.Collection(coll.DBType, coll.Tier, coll.Scope, coll.Name)}
	if via == ViaProducer {
		if e.js == nil {
			return nil, fmt.Errorf("%w: --via producer needs NATS (--nats or --embedded)", ErrInvalidConfig)
		}
		p, err := client.NewProducer(ctx, e.js)
		if err != nil {
			return nil, err
		}
		w.p = p
	}
	return w, nil
}

func (w *writer) close() error {
	if w.p == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	return w.p.Close(ctx)
}

func (w *writer) meta() client.WriteMeta { return client.WriteMeta{Actor: &benchActor} }

// update writes doc as the next version of id, expecting expected (nil:
// any), and waits for the log's acknowledgement.
func (w *writer) update(ctx context.Context, id string, doc []byte, expected *uint64) (client.Result, error) {
	if w.p == nil {
		opts := []client.WriteOption{client.WithActor(benchActor)}
		if expected != nil {
			opts = append(opts, client.WithExpectedOV(*expected))
		}
		return w.col.Update(ctx, id, json.RawMessage(doc), opts...)
	}
	pw, err := w.p.Update(ctx, w.coll.Item(id), doc, expected, w.meta())
	if err != nil {
		return client.Result{}, err
	}
	return pw.Ack(ctx)
}

// current re-reads the version of id after a conflict that did not say it:
// from the log for the producer, from the query service for HTTP.
func (w *writer) current(ctx context.Context, id string) (uint64, error) {
	if w.p != nil {
		rec, err := w.env.log.Last(ctx, w.coll.Item(id))
		if err != nil {
			return 0, err
		}
		return rec.Event.OV, nil
	}
	it, err := w.col.Get(ctx, id)
	if err != nil {
		return 0, err
	}
	return it.System.OV, nil
}

// conflictOV tells whether err is a lost race, and the current version if
// the error carries it.
func conflictOV(err error) (ov uint64, known, conflict bool) {
	var ce *client.ConflictError
	if errors.As(err, &ce) {
		return ce.CurrentOV, true, true
	}
	return 0, false, errors.Is(err, client.ErrConflict)
}

// createAll creates one item per id with doc(i), not measured: the set up
// of trading and mixed. It returns the first error.
func (w *writer) createAll(ctx context.Context, ids []string, doc func(i int) []byte, concurrency int) error {
	if w.p != nil {
		for i, id := range ids {
			if _, err := w.p.Create(ctx, w.coll.Item(id), doc(i), w.meta()); err != nil {
				return err
			}
		}
		return w.p.Flush(ctx)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan int)
	for range concurrency {
		wg.Go(func() {
			for i := range next {
				if _, err := w.col.Create(ctx, json.RawMessage(doc(i)), client.WithID(ids[i]), client.WithActor(benchActor)); err != nil {
					mu.Lock()
					first = cmpOr(first, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
