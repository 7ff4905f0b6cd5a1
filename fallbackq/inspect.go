package fallbackq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/events"
)

// Entry is one dead-lettered event.
type Entry struct {
	// Seq is the entry's sequence in the DLQ stream: its id.
	Seq uint64 `json:"seq"`
	// Consumer is the consumer that gave up on the event.
	Consumer string `json:"consumer"`
	// Subject is the event's original subject in the log.
	Subject string `json:"subject"`
	// Attempts is how many deliveries the consumer made.
	Attempts uint64 `json:"attempts"`
	// Error is the last error, as the consumer reported it.
	Error string `json:"error"`
	// Class is "terminal" (dead-lettered at once) or "retryable" (retries
	// used up).
	Class string `json:"class,omitempty"`
	// FailedAt is when the event was dead-lettered.
	FailedAt time.Time `json:"failedAt"`
	// OrigSeq and OrigStream locate the event in the log.
	OrigSeq    uint64 `json:"origSeq"`
	OrigStream string `json:"origStream"`
	// Headers and Data are the entry's headers and the event's unchanged
	// body; only Get fills them.
	Headers nats.Header `json:"headers,omitempty"`
	Data    []byte      `json:"-"`
}

// Filter selects entries; its zero value selects all.
type Filter struct {
	// Consumer selects the entries of one consumer.
	Consumer string
	// Tenant selects the entries of one tenant's collections (tier tenant,
	// scope Tenant).
	Tenant string
}

// subject returns the DLQ subject filter of f.
func (f Filter) subject() (string, error) {
	c := "*"
	if f.Consumer != "" {
		if err := events.ValidateToken("consumer", f.Consumer); err != nil {
			return "", err
		}
		c = f.Consumer
	}
	if f.Tenant == "" {
		return DLQPrefix + "." + c + ".>", nil
	}
	if err := events.ValidateToken("tenant", f.Tenant); err != nil {
		return "", err
	}
	// chronos.dlq.<consumer>.<part>.<dbType>.tenant.<scope>.<collection>.<itemId>
	return DLQPrefix + "." + c + ".*.*." + string(events.TierTenant) + "." + f.Tenant + ".>", nil
}

func entryOf(seq uint64, subject string, h nats.Header, stored time.Time) Entry {
	e := Entry{
		Seq:        seq,
		Consumer:   h.Get(HeaderConsumer),
		Subject:    h.Get(HeaderOrigSubject),
		Error:      h.Get(HeaderError),
		Class:      h.Get(HeaderErrorClass),
		OrigStream: h.Get(HeaderOrigStream),
		FailedAt:   stored.UTC(),
	}
	e.Attempts, _ = strconv.ParseUint(h.Get(HeaderAttempts), 10, 64)
	e.OrigSeq, _ = strconv.ParseUint(h.Get(HeaderOrigSeq), 10, 64)
	if t, err := time.Parse(time.RFC3339Nano, h.Get(HeaderFailedAt)); err == nil {
		e.FailedAt = t
	}
	if e.Consumer == "" { // not written by this package: fall back on the subject
		if tok := strings.SplitN(subject, ".", 4); len(tok) == 4 {
			e.Consumer = tok[2]
			if e.Subject == "" {
				e.Subject = events.SubjectPrefix + "." + tok[3]
			}
		}
	}
	return e
}

// List returns the entries f selects, oldest first, without their bodies.
func (d *DLQ) List(ctx context.Context, f Filter) ([]Entry, error) {
	subj, err := f.subject()
	if err != nil {
		return nil, err
	}
	s, err := d.stream(ctx, DLQStream)
	if err != nil {
		return nil, err
	}
	var out []Entry
	err = scan(ctx, s, jetstream.ConsumerConfig{FilterSubjects: []string{subj}}, func(m jetstream.Msg, md *jetstream.MsgMetadata) bool {
		out = append(out, entryOf(md.Sequence.Stream, m.Subject(), m.Headers(), md.Timestamp))
		return true
	})
	return out, err
}

// scan reads the headers of the messages cfg selects, in stream order,
// until fn returns false or none is left, with a short-lived ephemeral
// consumer.
func scan(ctx context.Context, s jetstream.Stream, cfg jetstream.ConsumerConfig, fn func(jetstream.Msg, *jetstream.MsgMetadata) bool) error {
	cfg.AckPolicy = jetstream.AckNonePolicy
	cfg.HeadersOnly = true
	cfg.MemoryStorage = true
	cfg.InactiveThreshold = time.Minute
	c, err := s.CreateConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("chronos: read %s: %w", s.CachedInfo().Config.Name, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = s.DeleteConsumer(dctx, c.CachedInfo().Name) // else the server drops it after InactiveThreshold
	}()
	if c.CachedInfo().NumPending == 0 {
		return nil
	}
	for {
		batch, err := c.FetchNoWait(256)
		if err != nil {
			return fmt.Errorf("chronos: read %s: %w", s.CachedInfo().Config.Name, err)
		}
		got, left := 0, uint64(0)
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("chronos: read %s: %w", s.CachedInfo().Config.Name, err)
			}
			got, left = got+1, md.NumPending
			if !fn(m, md) {
				return nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return fmt.Errorf("chronos: read %s: %w", s.CachedInfo().Config.Name, err)
		}
		if got == 0 || left == 0 {
			return nil
		}
	}
}

// Get returns entry seq with its headers and the event's body, or
// ErrEntryNotFound.
func (d *DLQ) Get(ctx context.Context, seq uint64) (*Entry, error) {
	return d.get(ctx, seq)
}

func (d *DLQ) get(ctx context.Context, seq uint64) (*Entry, error) {
	if seq == 0 {
		return nil, fmt.Errorf("%w: sequences start at 1", ErrEntryNotFound)
	}
	s, err := d.stream(ctx, DLQStream)
	if err != nil {
		return nil, err
	}
	raw, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("%w: %s holds no entry %d", ErrEntryNotFound, DLQStream, seq)
	}
	if err != nil {
		return nil, fmt.Errorf("chronos: read %s entry %d: %w", DLQStream, seq, err)
	}
	e := entryOf(raw.Sequence, raw.Subject, raw.Header, raw.Time)
	e.Headers, e.Data = raw.Header, raw.Data
	return &e, nil
}

// Purge removes the entries dead-lettered more than olderThan ago (all of
// them when olderThan is 0) and returns how many it removed, as counted
// just before removing them.
func (d *DLQ) Purge(ctx context.Context, olderThan time.Duration) (int, error) {
	if olderThan < 0 {
		return 0, fmt.Errorf("%w: olderThan must not be negative, got %s", events.ErrInvalid, olderThan)
	}
	s, err := d.stream(ctx, DLQStream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx, jetstream.WithDeletedDetails(true))
	if err != nil {
		return 0, fmt.Errorf("chronos: read stream %s: %w", DLQStream, err)
	}
	st := info.State
	if st.Msgs == 0 {
		return 0, nil
	}
	until := st.LastSeq + 1 // purge below this sequence
	if cutoff := time.Now().Add(-olderThan); olderThan > 0 && !st.LastTime.Before(cutoff) {
		if until, err = d.firstSince(ctx, s, cutoff, st.LastSeq); err != nil {
			return 0, err
		}
	}
	if until <= st.FirstSeq {
		return 0, nil
	}
	n := until - st.FirstSeq
	for _, del := range st.Deleted {
		if del >= st.FirstSeq && del < until {
			n--
		}
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSequence(until)); err != nil {
		return 0, fmt.Errorf("chronos: purge %s: %w", DLQStream, err)
	}
	return int(n), nil
}

// firstSince returns the sequence of the first entry stored at or after
// t, or lastSeq+1 when there is none.
func (d *DLQ) firstSince(ctx context.Context, s jetstream.Stream, t time.Time, lastSeq uint64) (uint64, error) {
	first := lastSeq + 1
	err := scan(ctx, s, jetstream.ConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime:  &t,
	}, func(_ jetstream.Msg, md *jetstream.MsgMetadata) bool {
		first = md.Sequence.Stream
		return false
	})
	return first, err
}
