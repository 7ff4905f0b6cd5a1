package log

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/events"
)

// Message headers Chronos sets on every event.
const (
	HeaderMsgID = jetstream.MsgIDHeader // "Nats-Msg-Id": the idempotency key
	HeaderOV    = "Chronos-Ov"
	HeaderOp    = "Chronos-Op"
)

// ErrNotFound is returned when the log holds no event for an item or at a
// sequence.
var ErrNotFound = errors.New("chronos: not found in the log")

// ErrConflict is returned by Append when the item's last event is not the one
// the writer expected: another writer won the race.
var ErrConflict = errors.New("chronos: version conflict")

// Record is one event read from the log, with its place in it.
type Record struct {
	Ref  events.ItemRef
	Part int
	// Seq is the event's sequence in its partition stream (its cv).
	Seq uint64
	// Time is when the stream stored the event.
	Time time.Time
	// MsgID is the event's Nats-Msg-Id: its idempotency key scoped to the
	// item (MsgIDFor). Use HasKey to compare with a key.
	MsgID string
	Event *events.Event
}

// Log appends to and reads from the partition streams.
type Log struct {
	js      jetstream.JetStream
	p       int
	streams []jetstream.Stream
	lim     events.Limits
}

// Open binds to existing partition streams (see EnsureStreams), reading P
// from their metadata. lim bounds the events it decodes.
func Open(ctx context.Context, js jetstream.JetStream, lim events.Limits) (*Log, error) {
	p, err := readPartitions(ctx, js)
	if err != nil {
		return nil, err
	}
	l := &Log{js: js, p: p, lim: lim, streams: make([]jetstream.Stream, p)}
	for k := range p {
		s, err := js.Stream(ctx, StreamName(k))
		if err != nil {
			return nil, fmt.Errorf("%w: stream %s: %v", ErrNotReady, StreamName(k), err)
		}
		if got := s.CachedInfo().Config.Metadata[MetaPartitions]; got != strconv.Itoa(p) {
			return nil, fmt.Errorf("%w: stream %s records %q partitions, %s records %d", ErrNotReady, StreamName(k), got, StreamName(0), p)
		}
		l.streams[k] = s
	}
	return l, nil
}

// Partitions returns P.
func (l *Log) Partitions() int { return l.p }

// JetStream returns the JetStream context the log uses.
func (l *Log) JetStream() jetstream.JetStream { return l.js }

// Limits returns the limits events are decoded with.
func (l *Log) Limits() events.Limits { return l.lim }

// Partition returns the partition of collection c.
func (l *Log) Partition(c events.Collection) int { return events.Partition(c, l.p) }

// Subject returns the subject of item ref.
func (l *Log) Subject(ref events.ItemRef) string { return events.Subject(ref, l.p) }

// AppendOptions control one append.
type AppendOptions struct {
	// ExpectSeq, when set, is the sequence the item's last event must have
	// (0: the item must have no event). A mismatch fails with ErrConflict.
	ExpectSeq *uint64
	// MsgID is the idempotency key: a second append with the same MsgID
	// within the duplicate window stores nothing and returns the first
	// append's sequence with Duplicate set. With ExpectSeq set as well, the
	// first append is recognised only while it is still the item's last
	// event; after a later write the retry is an ErrConflict.
	MsgID string
}

// MsgIDFor returns the Nats-Msg-Id of an append to ref with idempotency
// key key. JetStream deduplicates per stream, and a stream holds many
// items: scoping the key to the item keeps one item's key from swallowing
// another item's write.
func MsgIDFor(ref events.ItemRef, key string) string { return ref.String() + "|" + key }

// HasKey reports whether r was appended with idempotency key key.
func (r *Record) HasKey(key string) bool { return key != "" && r.MsgID == MsgIDFor(r.Ref, key) }

// Ack is the log's acknowledgement of an append: the event is stored.
type Ack struct {
	Part      int
	Seq       uint64
	Duplicate bool
}

// Expect returns a pointer to seq, for AppendOptions.ExpectSeq.
func Expect(seq uint64) *uint64 { return &seq }

// NewMsg builds the message that Append publishes for ev on ref. It is
// exported for producers that publish asynchronously themselves.
func (l *Log) NewMsg(ref events.ItemRef, ev *events.Event, o AppendOptions) (*nats.Msg, error) {
	body, err := events.Encode(ev)
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(l.Subject(ref))
	m.Data = body
	m.Header.Set(HeaderOV, strconv.FormatUint(ev.OV, 10))
	m.Header.Set(HeaderOp, string(ev.Op))
	if o.MsgID != "" {
		m.Header.Set(jetstream.MsgIDHeader, MsgIDFor(ref, o.MsgID))
	}
	if o.ExpectSeq != nil {
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(*o.ExpectSeq, 10))
	}
	return m, nil
}

// Append validates ev and stores it as ref's next event. It returns once the
// stream has stored it (or found it a duplicate).
func (l *Log) Append(ctx context.Context, ref events.ItemRef, ev *events.Event, o AppendOptions) (Ack, error) {
	if err := ref.Validate(); err != nil {
		return Ack{}, err
	}
	if err := ev.Validate(l.lim); err != nil {
		return Ack{}, err
	}
	m, err := l.NewMsg(ref, ev, o)
	if err != nil {
		return Ack{}, err
	}
	pa, err := l.js.PublishMsg(ctx, m)
	if err != nil {
		if IsConflict(err) {
			// The server checks the expected sequence before the duplicate
			// window, so a retried append whose first attempt landed looks
			// like a conflict. If the item's last event carries our MsgID,
			// it is our own first attempt: answer as a duplicate.
			if o.MsgID != "" {
				if last, lerr := l.Last(ctx, ref); lerr == nil && last.HasKey(o.MsgID) {
					return Ack{Part: last.Part, Seq: last.Seq, Duplicate: true}, nil
				}
			}
			return Ack{}, fmt.Errorf("%w: %s was changed by another writer", ErrConflict, ref)
		}
		return Ack{}, fmt.Errorf("chronos: append to %s: %w", ref, err)
	}
	return Ack{Part: l.Partition(ref.Collection), Seq: pa.Sequence, Duplicate: pa.Duplicate}, nil
}

// IsConflict reports whether err is JetStream's "wrong last sequence"
// answer to an append with an expected sequence.
func IsConflict(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return false
}

// Last returns the last event of item ref, read by direct get (any replica
// may answer). ErrNotFound if the item has no event.
func (l *Log) Last(ctx context.Context, ref events.ItemRef) (*Record, error) {
	part := l.Partition(ref.Collection)
	raw, err := l.streams[part].GetLastMsgForSubject(ctx, l.Subject(ref))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("chronos: read last event of %s: %w", ref, err)
	}
	return l.decodeRaw(part, raw)
}

// LastFromLeader is Last read from the partition stream's leader. Last
// uses a direct get, which any replica of a replicated stream may answer,
// possibly one that has not stored the newest events yet; a reader that
// must see every event acknowledged before the call (the offloader's head
// records) asks the leader. It costs a JSON API round trip with the
// message base64-encoded, so Last stays the default.
func (l *Log) LastFromLeader(ctx context.Context, ref events.ItemRef) (*Record, error) {
	part := l.Partition(ref.Collection)
	req, err := json.Marshal(map[string]string{"last_by_subj": l.Subject(ref)})
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	msg, err := l.js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+StreamName(part), req)
	if err != nil {
		return nil, fmt.Errorf("chronos: read last event of %s from the leader: %w", ref, err)
	}
	var resp struct {
		Message *struct {
			Subject  string    `json:"subject"`
			Sequence uint64    `json:"seq"`
			Header   []byte    `json:"hdrs"`
			Data     []byte    `json:"data"`
			Time     time.Time `json:"time"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, fmt.Errorf("chronos: read last event of %s from the leader: %w", ref, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == int(jetstream.JSErrCodeMessageNotFound):
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	case resp.Error != nil:
		return nil, fmt.Errorf("chronos: read last event of %s from the leader: %s (%d)", ref, resp.Error.Description, resp.Error.ErrCode)
	case resp.Message == nil:
		return nil, fmt.Errorf("chronos: read last event of %s from the leader: empty response", ref)
	}
	var h nats.Header
	if len(resp.Message.Header) > 0 {
		if h, err = nats.DecodeHeadersMsg(resp.Message.Header); err != nil {
			return nil, fmt.Errorf("chronos: read last event of %s from the leader: headers: %w", ref, err)
		}
	}
	return decode(part, resp.Message.Subject, resp.Message.Sequence, resp.Message.Time, h, resp.Message.Data, l.lim)
}

// Get returns the event at sequence seq of partition part.
func (l *Log) Get(ctx context.Context, part int, seq uint64) (*Record, error) {
	if part < 0 || part >= l.p {
		return nil, fmt.Errorf("%w: partition %d is not in [0,%d)", events.ErrInvalid, part, l.p)
	}
	raw, err := l.streams[part].GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("%w: %s seq %d", ErrNotFound, StreamName(part), seq)
	}
	if err != nil {
		return nil, fmt.Errorf("chronos: read %s seq %d: %w", StreamName(part), seq, err)
	}
	return l.decodeRaw(part, raw)
}

// LastSeq returns the last sequence stored in partition part (0 if empty).
func (l *Log) LastSeq(ctx context.Context, part int) (uint64, error) {
	info, err := l.streams[part].Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("chronos: stream info %s: %w", StreamName(part), err)
	}
	return info.State.LastSeq, nil
}

func (l *Log) decodeRaw(part int, raw *jetstream.RawStreamMsg) (*Record, error) {
	return decode(part, raw.Subject, raw.Sequence, raw.Time, raw.Header, raw.Data, l.lim)
}

// DecodeMsg decodes a consumed message into a Record. An error wraps
// events.ErrInvalid: the message can never be applied (a terminal failure).
func DecodeMsg(m jetstream.Msg, lim events.Limits) (*Record, error) {
	md, err := m.Metadata()
	if err != nil {
		return nil, fmt.Errorf("%w: message has no JetStream metadata: %v", events.ErrInvalid, err)
	}
	part, err := partitionOfStream(md.Stream)
	if err != nil {
		return nil, err
	}
	return decode(part, m.Subject(), md.Sequence.Stream, md.Timestamp, m.Headers(), m.Data(), lim)
}

func partitionOfStream(name string) (int, error) {
	k, err := strconv.Atoi(name[min(len(name), len(streamPrefix)):])
	if err != nil || len(name) <= len(streamPrefix) || name[:len(streamPrefix)] != streamPrefix {
		return 0, fmt.Errorf("%w: %q is not a partition stream", events.ErrInvalid, name)
	}
	return k, nil
}

func decode(part int, subject string, seq uint64, t time.Time, h nats.Header, data []byte, lim events.Limits) (*Record, error) {
	spart, ref, err := events.ParseSubject(subject)
	if err != nil {
		return nil, err
	}
	if spart != part {
		return nil, fmt.Errorf("%w: subject %q of partition %d found in stream %s", events.ErrInvalid, subject, spart, StreamName(part))
	}
	ev, err := events.Decode(data, lim)
	if err != nil {
		return nil, fmt.Errorf("%s seq %d: %w", StreamName(part), seq, err)
	}
	return &Record{Ref: ref, Part: part, Seq: seq, Time: t, MsgID: h.Get(jetstream.MsgIDHeader), Event: ev}, nil
}

// NextOfItem returns the first event of item ref at or after sequence
// from (from 0 or 1 = the item's first event). ErrNotFound when there is
// none. Walking an item's history costs one direct get per event.
func (l *Log) NextOfItem(ctx context.Context, ref events.ItemRef, from uint64) (*Record, error) {
	part := l.Partition(ref.Collection)
	raw, err := l.streams[part].GetMsg(ctx, max(from, 1), jetstream.WithGetMsgSubject(l.Subject(ref)))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("%w: %s after seq %d", ErrNotFound, ref, from)
	}
	if err != nil {
		return nil, fmt.Errorf("chronos: read events of %s: %w", ref, err)
	}
	return l.decodeRaw(part, raw)
}

// FindVersion walks item ref's events and returns the first one for which
// match returns true, or ErrNotFound. stop, when it returns true for an
// event, ends the walk early with ErrNotFound.
func (l *Log) FindVersion(ctx context.Context, ref events.ItemRef, match, stop func(*events.Event) bool) (*Record, error) {
	for seq := uint64(1); ; {
		rec, err := l.NextOfItem(ctx, ref, seq)
		if err != nil {
			return nil, err
		}
		if match(rec.Event) {
			return rec, nil
		}
		if stop != nil && stop(rec.Event) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
		}
		seq = rec.Seq + 1
	}
}
