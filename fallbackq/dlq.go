package fallbackq

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
	clog "github.com/chronos-go/chronos/log"
)

// Streams and subjects of the dead-letter queue.
const (
	// DLQStream holds one entry per dead-lettered event and consumer.
	DLQStream = "CHRONOS_DLQ"
	// DLQPrefix starts every DLQ subject:
	// chronos.dlq.<consumer>.<original subject without "chronos.evt.">.
	DLQPrefix = "chronos.dlq"
	// ReplayStream is the work queue through which entries go back to their
	// consumer (see the package documentation).
	ReplayStream = "CHRONOS_REPLAY"
	// ReplayPrefix starts every replay subject:
	// chronos.replay.<consumer>.<original subject without "chronos.evt.">.
	ReplayPrefix = "chronos.replay"
)

// Headers of a DLQ entry. The original message's headers are kept, except
// the JetStream control headers (Nats-*), which would act on the DLQ
// stream; the original Nats-Msg-Id is kept as HeaderOrigMsgID.
const (
	HeaderError       = "Chronos-Error"
	HeaderErrorClass  = "Chronos-Error-Class"
	HeaderAttempts    = "Chronos-Attempts"
	HeaderConsumer    = "Chronos-Consumer"
	HeaderOrigSeq     = "Chronos-Orig-Seq"
	HeaderOrigSubject = "Chronos-Orig-Subject"
	HeaderOrigStream  = "Chronos-Orig-Stream"
	HeaderOrigTime    = "Chronos-Orig-Time"
	HeaderOrigMsgID   = "Chronos-Orig-Msg-Id"
	HeaderFailedAt    = "Chronos-Failed-At"
	// HeaderDLQSeq is set on replay messages: the DLQ entry they replay.
	HeaderDLQSeq = "Chronos-Dlq-Seq"
)

// maxErrorLen bounds the Chronos-Error header; NATS headers are not meant
// for stack traces.
const maxErrorLen = 2048

// ErrNotReady is returned when the DLQ or replay stream does not exist.
// EnsureDLQ creates them; every consumer using a Handler calls it on start.
var ErrNotReady = httpapi.Sentinel("chronos: the DLQ streams are not set up (a consumer creates them when it starts)", http.StatusServiceUnavailable, "dlq_not_ready")

// ErrEntryNotFound is returned for a DLQ sequence that holds no entry.
var ErrEntryNotFound = httpapi.Sentinel("chronos: DLQ entry not found", http.StatusNotFound, "not_found")

// ErrNoReplayConsumer is returned when replaying an entry of a consumer that
// does not take replays (it runs no replay consumer, e.g. the projector,
// whose dead letters are undecodable events).
var ErrNoReplayConsumer = httpapi.Sentinel("chronos: this consumer takes no replays", http.StatusConflict, "no_replay_consumer")

// DLQSubject returns the DLQ subject of an event of subject orig that
// consumer failed on.
func DLQSubject(consumer, orig string) string {
	return DLQPrefix + "." + consumer + "." + subjectTail(orig)
}

// ReplaySubject returns the subject on which an event of subject orig is
// replayed to consumer.
func ReplaySubject(consumer, orig string) string {
	return ReplayPrefix + "." + consumer + "." + subjectTail(orig)
}

func subjectTail(orig string) string {
	return strings.TrimPrefix(orig, events.SubjectPrefix+".")
}

// EnsureDLQ creates the DLQ stream (file storage, subjects chronos.dlq.>,
// entries kept until purged or replayed) and the replay work queue, with
// replicas replicas; 0 means as many as the log's first partition stream
// (1 if it has none). A stream that exists is left as it is: its replicas
// and limits are the operator's.
func EnsureDLQ(ctx context.Context, js jetstream.JetStream, replicas int) error {
	if replicas <= 0 {
		replicas = clog.Replicas(ctx, js)
	}
	cfgs := []jetstream.StreamConfig{{
		Name:        DLQStream,
		Description: "Chronos dead letters: events a consumer gave up on",
		Subjects:    []string{DLQPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Duplicates:  clog.DefaultDuplicateWindow,
		Discard:     jetstream.DiscardOld,
		AllowDirect: true,
	}, {
		Name:        ReplayStream,
		Description: "Chronos DLQ entries on their way back to their consumer",
		Subjects:    []string{ReplayPrefix + ".>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Discard:     jetstream.DiscardOld,
	}}
	for _, cfg := range cfgs {
		_, err := js.CreateStream(ctx, cfg)
		if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("chronos: ensure stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// DLQ reads and writes the dead-letter queue. It is safe for concurrent use.
type DLQ struct {
	js      jetstream.JetStream
	metrics *Metrics
}

// NewDLQ returns the DLQ on js. m, if not nil, counts dead letters and
// retries of the handlers using this DLQ, and reports its depth.
func NewDLQ(js jetstream.JetStream, m *Metrics) *DLQ {
	if m != nil {
		m.watch(js)
	}
	return &DLQ{js: js, metrics: m}
}

// Add copies msg, which consumer failed on with cause, to the DLQ. It
// does not acknowledge msg: the caller terminates it once Add succeeded.
// Add is idempotent per consumer and original message (the entry's
// Nats-Msg-Id is consumer:stream:seq), so a crash between Add and Term does
// not create a second entry. It returns the entry's sequence.
func (d *DLQ) Add(ctx context.Context, consumer string, msg jetstream.Msg, cause error) (uint64, error) {
	md, err := msg.Metadata()
	if err != nil {
		return 0, fmt.Errorf("chronos: dead-letter %s: message has no JetStream metadata: %w", msg.Subject(), err)
	}
	return d.add(ctx, consumer, msg, md, cause, Classify(cause))
}

func (d *DLQ) add(ctx context.Context, consumer string, msg jetstream.Msg, md *jetstream.MsgMetadata, cause error, class Class) (uint64, error) {
	if err := events.ValidateToken("consumer", consumer); err != nil {
		return 0, err
	}
	out := nats.NewMsg(DLQSubject(consumer, msg.Subject()))
	out.Data = msg.Data()
	for k, vs := range msg.Headers() {
		if len(vs) == 0 {
			continue
		}
		if k == jetstream.MsgIDHeader {
			out.Header.Set(HeaderOrigMsgID, vs[0])
		}
		if strings.HasPrefix(k, "Nats-") {
			continue // control headers (expected sequences, batches, ...) would act on the DLQ
		}
		out.Header[k] = append([]string(nil), vs...)
	}
	out.Header.Set(HeaderError, headerValue(cause.Error()))
	out.Header.Set(HeaderErrorClass, class.String())
	out.Header.Set(HeaderAttempts, strconv.FormatUint(md.NumDelivered, 10))
	out.Header.Set(HeaderConsumer, consumer)
	out.Header.Set(HeaderOrigSeq, strconv.FormatUint(md.Sequence.Stream, 10))
	out.Header.Set(HeaderOrigSubject, msg.Subject())
	out.Header.Set(HeaderOrigStream, md.Stream)
	out.Header.Set(HeaderOrigTime, md.Timestamp.UTC().Format(time.RFC3339Nano))
	out.Header.Set(HeaderFailedAt, time.Now().UTC().Format(time.RFC3339Nano))
	id := consumer + ":" + md.Stream + ":" + strconv.FormatUint(md.Sequence.Stream, 10)
	pa, err := d.js.PublishMsg(ctx, out, jetstream.WithMsgID(id), jetstream.WithExpectStream(DLQStream))
	if err != nil {
		return 0, fmt.Errorf("chronos: publish to %s: %w", DLQStream, err)
	}
	if pa.Duplicate {
		// Within the duplicate window the first copy answers for this one,
		// unless it was purged or replayed meanwhile: then store it anew.
		if _, gerr := d.get(ctx, pa.Sequence); !errors.Is(gerr, ErrEntryNotFound) {
			return pa.Sequence, nil
		}
		id += ":" + strconv.FormatInt(time.Now().UnixNano(), 36)
		if pa, err = d.js.PublishMsg(ctx, out, jetstream.WithMsgID(id), jetstream.WithExpectStream(DLQStream)); err != nil {
			return 0, fmt.Errorf("chronos: publish to %s: %w", DLQStream, err)
		}
	}
	d.metrics.deadLettered(consumer)
	return pa.Sequence, nil
}

// headerValue makes s safe as a NATS header value: one line, bounded.
func headerValue(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
	if len(s) > maxErrorLen {
		s = strings.ToValidUTF8(s[:maxErrorLen], "") + "…"
	}
	return s
}

func (d *DLQ) stream(ctx context.Context, name string) (jetstream.Stream, error) {
	s, err := d.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("%w: stream %s does not exist", ErrNotReady, name)
	}
	if err != nil {
		return nil, fmt.Errorf("chronos: read stream %s: %w", name, err)
	}
	return s, nil
}

// remove deletes entry seq; an entry already gone is not an error.
func (d *DLQ) remove(ctx context.Context, seq uint64) error {
	s, err := d.stream(ctx, DLQStream)
	if err != nil {
		return err
	}
	if err := s.DeleteMsg(ctx, seq); err != nil && !isNoMessage(err) {
		return fmt.Errorf("chronos: remove DLQ entry %d: %w", seq, err)
	}
	return nil
}

// isNoMessage reports JetStream's answer to deleting a sequence that holds
// no message.
func isNoMessage(err error) bool {
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return true
	}
	const streamMsgDeleteFailed jetstream.ErrorCode = 10057 // nats-server JSStreamMsgDeleteFailedF
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeMessageNotFound ||
		apiErr.ErrorCode == streamMsgDeleteFailed && strings.Contains(apiErr.Description, "no message found"))
}
