package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chronos-go/chronos/events"
)

// Option configures a Client. An option checks its own argument and
// returns an error wrapping ErrInvalidOption.
type Option func(*Client) error

// WithHTTPClient sends requests through hc (its Transport, Timeout and
// cookie jar). Default: a client whose transport keeps up to 64 idle
// connections per host, so concurrent callers reuse connections.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return fmt.Errorf("%w: WithHTTPClient(nil)", ErrInvalidOption)
		}
		c.hc = hc
		return nil
	}
}

// WithAPIKey sends key as "Authorization: Bearer <key>" on every request.
func WithAPIKey(key string) Option {
	return func(c *Client) error {
		if key == "" || strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return fmt.Errorf("%w: the API key must be printable ASCII without spaces", ErrInvalidOption)
		}
		c.apiKey = key
		return nil
	}
}

// WithUserAgent sets the User-Agent header; default "chronos-go-client/1".
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		if ua == "" || strings.ContainsAny(ua, "\r\n") {
			return fmt.Errorf("%w: the user agent must be one non-empty line", ErrInvalidOption)
		}
		c.userAgent = ua
		return nil
	}
}

// WithRetry sets the retry policy (see RetryPolicy); NoRetry disables
// retries.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) error {
		if err := p.validate(); err != nil {
			return err
		}
		c.retry = p.withDefaults()
		return nil
	}
}

// WithTimeout bounds a call, retries included, when the caller's context
// has no deadline of its own; default 30 seconds. A context with a
// deadline is used as it is.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return fmt.Errorf("%w: timeout must be positive, got %s", ErrInvalidOption, d)
		}
		c.timeout = d
		return nil
	}
}

// RetryPolicy says how often and how patiently a call is retried after a
// 5xx (except 501 and 505), a 408 or 429, or a transport failure (timeout,
// reset or closed connection). Only safe calls are retried: every read,
// and every write, since each carries an idempotency key (one the caller
// gave, or a generated ULID); an atomic batch, which the server does not
// deduplicate, is retried only when the connection was refused. Waits grow
// exponentially with jitter (cenkalti/backoff); a Retry-After header
// lengthens a wait. Zero fields take the defaults.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt; 1 disables retries. Default 4.
	MaxAttempts int
	// InitialInterval is the first wait; default 100ms.
	InitialInterval time.Duration
	// MaxInterval caps a wait; default 2s.
	MaxInterval time.Duration
}

// NoRetry sends every request once.
var NoRetry = RetryPolicy{MaxAttempts: 1}

func (p RetryPolicy) validate() error {
	if p.MaxAttempts < 0 || p.InitialInterval < 0 || p.MaxInterval < 0 {
		return fmt.Errorf("%w: retry policy fields must not be negative: %+v", ErrInvalidOption, p)
	}
	if p.MaxInterval > 0 && p.InitialInterval > p.MaxInterval {
		return fmt.Errorf("%w: retry InitialInterval %s exceeds MaxInterval %s", ErrInvalidOption, p.InitialInterval, p.MaxInterval)
	}
	return nil
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 4
	}
	if p.InitialInterval == 0 {
		p.InitialInterval = 100 * time.Millisecond
	}
	if p.MaxInterval == 0 {
		p.MaxInterval = max(2*time.Second, p.InitialInterval)
	}
	return p
}

// WriteOption sets the metadata of one write.
type WriteOption func(*writeOptions) error

type writeOptions struct {
	id, reason, key, functionID string
	actor                       *events.Actor
	expectedOV                  *uint64
}

// WithID names the item a Create makes; default: the server generates a
// ULID. Create only.
func WithID(id string) WriteOption {
	return func(o *writeOptions) error {
		if err := events.ValidateToken("id", id); err != nil {
			return err
		}
		o.id = id
		return nil
	}
}

// WithActor records who makes the write (_system.creator / updater); it
// is sent as the Chronos-Actor header.
func WithActor(a events.Actor) WriteOption {
	return func(o *writeOptions) error {
		if err := events.ValidateToken("actor.type", a.Type); err != nil {
			return err
		}
		o.actor = &a
		return nil
	}
}

// WithReason records why the write is made (at most 1024 bytes, one line).
func WithReason(reason string) WriteOption {
	return func(o *writeOptions) error {
		if len(reason) > 1024 || strings.ContainsFunc(reason, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return fmt.Errorf("%w: the reason must be one line of at most 1024 bytes", ErrInvalidOption)
		}
		o.reason = reason
		return nil
	}
}

// WithIdempotencyKey sets the write's idempotency key (1-256 printable
// ASCII characters): repeating a write with the same key within the
// server's duplicate window (2 minutes by default) returns the first
// result and writes nothing. Default: a new ULID per call, which makes the
// client's own retries safe; give a key to make your retries safe too.
// The log deduplicates keys per partition stream, not per item: a key
// reused for another item of the same partition within the window makes
// that write a "duplicate" of the first one, and it is not stored. Keys
// must therefore be unique, e.g. a ULID or "<item id>:<request id>".
func WithIdempotencyKey(key string) WriteOption {
	return func(o *writeOptions) error {
		if !validKey(key) {
			return fmt.Errorf("%w: an idempotency key is 1-256 printable ASCII characters without spaces", ErrInvalidOption)
		}
		o.key = key
		return nil
	}
}

func validKey(k string) bool {
	return k != "" && len(k) <= 256 && !strings.ContainsFunc(k, func(r rune) bool { return r < 0x21 || r > 0x7e })
}

// WithExpectedOV makes the write conditional on the item's current
// version being ov (optimistic concurrency); otherwise it fails with a
// *ConflictError and writes nothing. Not for Create or Batch (a record
// carries its own ExpectedOV).
func WithExpectedOV(ov uint64) WriteOption {
	return func(o *writeOptions) error {
		o.expectedOV = &ov
		return nil
	}
}

// WithFunctionID names the function that computed an enrichment; it is
// appended to the item's _system.functionIds. Enrich only.
func WithFunctionID(id string) WriteOption {
	return func(o *writeOptions) error {
		if id == "" || len(id) > 256 || strings.ContainsFunc(id, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return fmt.Errorf("%w: a function id is one line of 1-256 bytes", ErrInvalidOption)
		}
		o.functionID = id
		return nil
	}
}

// op names the write an option list is applied to, for the checks of
// which option fits which write.
type op string

func applyWrite(o op, opts []WriteOption) (writeOptions, error) {
	var w writeOptions
	for _, f := range opts {
		if f == nil {
			continue
		}
		if err := f(&w); err != nil {
			return w, err
		}
	}
	switch {
	case w.id != "" && o != "create":
		return w, fmt.Errorf("%w: WithID applies to Create only, not %s", ErrInvalidOption, o)
	case w.expectedOV != nil && (o == "create" || o == "batch"):
		return w, fmt.Errorf("%w: WithExpectedOV does not apply to %s", ErrInvalidOption, o)
	case w.functionID != "" && o != "enrich":
		return w, fmt.Errorf("%w: WithFunctionID applies to Enrich only, not %s", ErrInvalidOption, o)
	}
	if w.key == "" {
		w.key = NewID()
	}
	return w, nil
}

// header returns the request headers of w.
func (w writeOptions) header() (http.Header, error) {
	h := make(http.Header, 5)
	h.Set("Idempotency-Key", w.key)
	if w.actor != nil {
		b, err := json.Marshal(w.actor)
		if err != nil {
			return nil, fmt.Errorf("%w: actor: %v", ErrInvalidOption, err)
		}
		h.Set("Chronos-Actor", string(b))
	}
	if w.reason != "" {
		h.Set("Chronos-Reason", w.reason)
	}
	if w.functionID != "" {
		h.Set("Chronos-Function-Id", w.functionID)
	}
	if w.expectedOV != nil {
		h.Set("If-Match", strconv.Quote(strconv.FormatUint(*w.expectedOV, 10)))
	}
	return h, nil
}

// ReadOption modifies a read: Get, GetVersion, GetAsOf, List, ListAll,
// History, AllVersions and Counters take them (Counters only MinSeq and
// AfterWrite).
type ReadOption func(*readOptions)

type readOptions struct {
	includeDeleted bool
	minSeq         uint64
	fields         []string // nil: not set
	projection     string
	includeHidden  bool
}

func applyRead(opts []ReadOption) readOptions {
	var o readOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// IncludeDeleted returns a deleted item (its last document, with
// System.Deleted set) instead of ErrNotFound; List and ListAll also list
// items whose latest version is a deletion.
func IncludeDeleted() ReadOption { return func(o *readOptions) { o.includeDeleted = true } }

// MinSeq makes the read wait until the read model has applied sequence seq
// of the collection's partition: the Seq of a write's Result, so that the
// read sees that write (read-your-writes). The server waits a bounded time
// (5 seconds by default), then fails with a *BehindError holding the
// position it reached; such a failure is not retried. 0 waits for nothing.
// It is sent as the Chronos-Min-Seq header.
func MinSeq(seq uint64) ReadOption {
	return func(o *readOptions) { o.minSeq = max(o.minSeq, seq) }
}

// AfterWrite is MinSeq(res.Seq): the read sees the write res reports, and
// everything written to the collection before it. Several AfterWrite and
// MinSeq options of one collection wait for the highest sequence.
func AfterWrite(res Result) ReadOption { return MinSeq(res.Seq) }

// Fields returns only these parts of each item besides "_id": top-level
// props, "_system" (the whole block) or "_system.<key>". System is then
// zero unless "_system" or some of its keys are named.
func Fields(names ...string) ReadOption {
	return func(o *readOptions) { o.fields = append([]string{}, names...) }
}

// Projection returns the parts of each item that the collection map's
// projection preset name lists; it cannot be combined with Fields.
func Projection(name string) ReadOption { return func(o *readOptions) { o.projection = name } }

// IncludeHidden also returns the collection map's hidden fields, which
// every read leaves out otherwise.
func IncludeHidden() ReadOption { return func(o *readOptions) { o.includeHidden = true } }

// query sets the URL parameters of o on q (a GET of an item or its
// versions).
func (o readOptions) query(q url.Values) {
	if o.includeDeleted {
		q.Set("includeDeleted", "true")
	}
	if o.fields != nil {
		q.Set("fields", strings.Join(o.fields, ","))
	}
	if o.projection != "" {
		q.Set("projection", o.projection)
	}
	if o.includeHidden {
		q.Set("includeHidden", "true")
	}
}

// header returns the request headers of o (nil when none).
func (o readOptions) header() http.Header {
	if o.minSeq == 0 {
		return nil
	}
	return http.Header{minSeqHeader: {strconv.FormatUint(o.minSeq, 10)}}
}

// minSeqHeader carries MinSeq.
const minSeqHeader = "Chronos-Min-Seq"
