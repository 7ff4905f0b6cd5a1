package query

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/chronos-go/chronos/events"
	clog "github.com/chronos-go/chronos/log"
)

// DefaultMinSeqWait bounds a read-your-writes wait when Options.MinSeqWait
// is zero.
const DefaultMinSeqWait = 5 * time.Second

// MinSeqHeader carries the minSeq of a read, as the minSeq query parameter
// does (the parameter wins when both are given).
const MinSeqHeader = "Chronos-Min-Seq"

// Progress is what the query service needs of a consumer's published
// positions: *log.Follower of the projector's durable.
type Progress interface {
	// WaitFor blocks until the position on part reaches seq or ctx ends,
	// and returns the position then.
	WaitFor(ctx context.Context, part int, seq uint64) (uint64, error)
}

var _ Progress = (*clog.Follower)(nil)

// ErrMinSeqUnavailable: the read asked for minSeq but the service follows
// no projection progress.
var ErrMinSeqUnavailable = errors.New("chronos: this query service cannot wait for minSeq (no projection progress configured)")

// BehindError is returned when the projection had not applied MinSeq of
// the read's collection partition within the wait: 504 min_seq_timeout,
// with the position reached in the body.
type BehindError struct {
	Partition int
	MinSeq    uint64
	Position  uint64
	Waited    time.Duration
}

func (e *BehindError) Error() string {
	return fmt.Sprintf("chronos: the projection of partition %d is at seq %d, short of minSeq %d after waiting %v; retry later",
		e.Partition, e.Position, e.MinSeq, e.Waited)
}

// Unwrap matches log.ErrBehind.
func (e *BehindError) Unwrap() error { return clog.ErrBehind }

// HTTPStatus maps the error to 504.
func (e *BehindError) HTTPStatus() (int, string) { return http.StatusGatewayTimeout, "min_seq_timeout" }

// ErrorFields adds the position to the JSON error body.
func (e *BehindError) ErrorFields() map[string]any {
	return map[string]any{"partition": e.Partition, "minSeq": e.MinSeq, "position": e.Position}
}

// WaitMinSeq returns once the projection has applied seq on c's partition
// (the cv an ingest response returned), or a *BehindError after the bound
// (Options.MinSeqWait, or ctx's deadline if earlier). seq 0 returns at
// once.
func (s *Service) WaitMinSeq(ctx context.Context, c events.Collection, seq uint64) error {
	if seq == 0 {
		return nil
	}
	if s.opts.Progress == nil {
		return errMinSeqUnavailable
	}
	part := s.log.Partition(c)
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, s.opts.MinSeqWait)
	defer cancel()
	pos, err := s.opts.Progress.WaitFor(wctx, part, seq)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err() // the client went away: not a timeout of ours
	}
	return &BehindError{Partition: part, MinSeq: seq, Position: pos, Waited: time.Since(start).Round(time.Millisecond)}
}

var errMinSeqUnavailable = &minSeqUnavailable{}

type minSeqUnavailable struct{}

func (*minSeqUnavailable) Error() string { return ErrMinSeqUnavailable.Error() }
func (*minSeqUnavailable) Unwrap() error { return ErrMinSeqUnavailable }
func (*minSeqUnavailable) HTTPStatus() (int, string) {
	return http.StatusNotImplemented, "min_seq_unavailable"
}

// minSeqParam reads ?minSeq= or the Chronos-Min-Seq header.
func minSeqParam(r *http.Request) (uint64, error) {
	v, field := "", "minSeq"
	if r.URL.RawQuery != "" {
		v = r.URL.Query().Get("minSeq")
	}
	if v == "" {
		v, field = r.Header.Get(MinSeqHeader), MinSeqHeader
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, invalid(field, "must be a sequence (a non-negative integer), got %s", strconv.Quote(v))
	}
	return n, nil
}

// awaitMinSeq applies the minSeq of r, if any, before a read of c.
func (h *Handler) awaitMinSeq(r *http.Request, c events.Collection) error {
	seq, err := minSeqParam(r)
	if err != nil || seq == 0 {
		return err
	}
	return h.svc.WaitMinSeq(r.Context(), c, seq)
}
