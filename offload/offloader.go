package offload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/fallbackq"
	clog "github.com/chronos-go/chronos/log"
)

// OffloaderOptions configure an Offloader. Zero values take the defaults.
type OffloaderOptions struct {
	// Durable is the consumer name on every partition; default "offloader".
	Durable string
	// Codec compresses payloads of at least MinCompress bytes; default zstd.
	Codec Codec
	// MinCompress is the smallest payload worth compressing; smaller ones are
	// stored as CodecNone (measured: zstd and s2 make a single 300-600 B JSON
	// document 0.95-1.45x, often larger). Default 1 KiB.
	MinCompress int
	// Concurrency bounds uploads in flight across all partitions; default 8.
	Concurrency int
	// Retry is the retry policy of failed uploads (the configuration's
	// `fallback` block); zero values take fallbackq's defaults. An upload
	// that fails for good is copied to the DLQ.
	Retry fallbackq.Config
	// Metrics counts retries and dead letters; nil counts nothing.
	Metrics *fallbackq.Metrics
	// OffloadMetrics counts objects, bytes and failed attempts, and
	// samples the lag of every partition; nil counts nothing.
	OffloadMetrics *Metrics
	// LagInterval is how often OffloadMetrics' lag is sampled; default 5s.
	LagInterval time.Duration
	// Content resolves the bucket of a collection's base64 content (the
	// route's content bucket). Nil, or a nil Base64Props, writes no
	// content.
	Content Resolver
	// Base64Props returns the base64 properties of a collection by name
	// (its collection map's base64Props); nil or empty: none.
	Base64Props func(events.Collection) map[string]ContentProp
	// Heads resolves the store of a collection's head records (HeadKey:
	// the latest payload of every item; see Heads in the package
	// documentation): the route's
	// records bucket when it is not its versions bucket. Nil writes no
	// head records; so does a nil Store, returned for a collection whose
	// records and versions share a bucket (the read model holds heads).
	Heads Resolver
	// Partitions to offload; default all of the log's.
	Partitions []int
	// Logger; default slog.Default().
	Logger *slog.Logger
}

func (o *OffloaderOptions) setDefaults(p int) {
	if o.Durable == "" {
		o.Durable = "offloader"
	}
	if o.Codec == "" {
		o.Codec = CodecZstd
	}
	if o.MinCompress == 0 {
		o.MinCompress = 1024
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if len(o.Partitions) == 0 {
		for k := range p {
			o.Partitions = append(o.Partitions, k)
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.LagInterval <= 0 {
		o.LagInterval = 5 * time.Second
	}
}

// Offloader writes every version's payload to the blob store of its
// collection at VersionKey(collection, item, ov, codec), the decoded
// content of each of its base64 properties to the collection's content
// store at ContentKey, and, where OffloaderOptions.Heads names a store,
// the item's latest payload at HeadKey. It is order-free: the keys are deterministic and
// Put is idempotent, so a redelivered event rewrites the same bytes.
// Failures go through a fallbackq.Handler: a failed upload (payload or
// content alike) is redelivered by JetStream (NakWithDelay) on the retry
// policy's schedule, and an event that can never be offloaded, or whose
// retries are used up, is copied to the DLQ (consumer name Durable) and
// can be replayed from there once the cause is fixed.
type Offloader struct {
	log     *clog.Log
	resolve Resolver
	opts    OffloaderOptions
	handler *fallbackq.Handler
}

// NewOffloader returns an offloader of l into the stores of resolve.
func NewOffloader(l *clog.Log, resolve Resolver, o OffloaderOptions) (*Offloader, error) {
	o.setDefaults(l.Partitions())
	if _, err := ParseCodec(string(o.Codec)); err != nil {
		return nil, err
	}
	if err := events.ValidateToken("durable", o.Durable); err != nil {
		return nil, err
	}
	policy, err := fallbackq.NewPolicy(o.Retry)
	if err != nil {
		return nil, err
	}
	h := &fallbackq.Handler{
		DLQ:      fallbackq.NewDLQ(l.JetStream(), o.Metrics),
		Policy:   policy,
		Consumer: o.Durable,
		Logger:   o.Logger,
	}
	return &Offloader{log: l, resolve: resolve, opts: o, handler: h}, nil
}

// Run offloads every configured partition, and the DLQ entries replayed
// to it, until ctx ends. It creates the DLQ streams if they are missing.
func (o *Offloader) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := fallbackq.EnsureDLQ(ctx, o.log.JetStream(), 0); err != nil {
		return err
	}
	// A fixed pool of Concurrency uploaders takes the messages of every
	// partition: long-lived goroutines, because a goroutine per message
	// regrew its stack through the S3 client's deep middleware chain on
	// every upload (runtime.copystack was ~15% of the offloader's CPU).
	work := make(chan jetstream.Msg)
	var uploaders sync.WaitGroup
	for range o.opts.Concurrency {
		uploaders.Go(func() {
			for m := range work {
				o.handle(ctx, m)
			}
		})
	}
	defer uploaders.Wait()
	var wg sync.WaitGroup
	defer close(work) // after wg.Wait: no partition sends any more
	errs := make(chan error, len(o.opts.Partitions)+1)
	if o.opts.OffloadMetrics != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.sampleLag(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := o.handler.RunReplay(ctx, o.process); err != nil && ctx.Err() == nil {
			errs <- fmt.Errorf("offloader replays: %w", err)
			cancel()
		}
	}()
	for _, part := range o.opts.Partitions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := o.runPartition(ctx, part, work); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("offloader partition %d: %w", part, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// runPartition hands the messages of partition part to the uploaders
// until ctx ends.
func (o *Offloader) runPartition(ctx context.Context, part int, work chan<- jetstream.Msg) error {
	// MaxDeliver stays unlimited: the handler counts deliveries itself, so
	// that an event whose DLQ copy failed on its last delivery comes back.
	c, err := o.log.EnsureConsumer(ctx, part, clog.ConsumerOptions{
		Durable:       o.opts.Durable,
		MaxAckPending: 4 * o.opts.Concurrency,
	})
	if err != nil {
		return err
	}
	it, err := c.Messages(jetstream.PullMaxMessages(2 * o.opts.Concurrency))
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			o.opts.Logger.Warn("offloader fetch", "partition", part, "err", err)
			continue
		}
		select {
		case work <- m:
		case <-ctx.Done():
			return nil // m is redelivered after AckWait
		}
	}
}

// sampleLag samples the lag of every partition every LagInterval until
// ctx ends: on a timer rather than at each scrape, so that the cost to the
// server (two requests per partition) does not depend on how many
// scrapers there are.
func (o *Offloader) sampleLag(ctx context.Context) {
	t := time.NewTicker(o.opts.LagInterval)
	defer t.Stop()
	for {
		o.opts.OffloadMetrics.sampleLag(ctx, o.log, o.opts.Durable, o.opts.Partitions)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (o *Offloader) handle(ctx context.Context, m jetstream.Msg) {
	_ = o.handler.Process(ctx, m, o.process) // Process logs, settles and retries
}

// process offloads one message. Undecodable events (events.ErrInvalid) and
// invalid keys or sizes can never succeed: they are terminal failures.
func (o *Offloader) process(ctx context.Context, m jetstream.Msg) error {
	rec, err := clog.DecodeMsg(m, o.log.Limits())
	if err != nil {
		o.opts.OffloadMetrics.failed()
		return err
	}
	err = o.Offload(ctx, rec)
	if err != nil {
		o.opts.OffloadMetrics.failed()
	}
	if errors.Is(err, ErrInvalidKey) || errors.Is(err, ErrSizeMismatch) {
		return fallbackq.MarkTerminal(err)
	}
	return err
}

// Offload writes rec's payload to its blob key, then the content of each
// base64 property of its collection to its content key, then brings the
// item's head record, if its collection has one, up to date with its
// last event in the log.
// An erase has no version to write; a claim-checked payload is already
// stored, but its base64 content is read from the claim and written. It
// is idempotent, and safe to call concurrently and out of order.
func (o *Offloader) Offload(ctx context.Context, rec *clog.Record) error {
	ev := rec.Event
	if len(ev.Payload) > 0 {
		if err := o.offloadVersion(ctx, rec); err != nil {
			return err
		}
	}
	if err := o.offloadContent(ctx, rec); err != nil {
		return err
	}
	return o.offloadHead(ctx, rec)
}

func (o *Offloader) offloadVersion(ctx context.Context, rec *clog.Record) error {
	ev := rec.Event
	store, err := o.resolve(rec.Ref.Collection)
	if err != nil {
		return err
	}
	codec := o.codecFor(len(ev.Payload))
	data, err := Compress(codec, ev.Payload)
	if err != nil {
		return err
	}
	key := VersionKey(rec.Ref.Name, rec.Ref.ID, ev.OV, codec)
	if err := store.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("chronos: offload %s v%d: %w", rec.Ref, ev.OV, err)
	}
	o.opts.OffloadMetrics.stored(KindVersion, len(ev.Payload), len(data))
	return nil
}

// codecFor returns the codec of a payload of n bytes: Codec, or CodecNone
// below MinCompress.
func (o *Offloader) codecFor(n int) Codec {
	if n < o.opts.MinCompress {
		return CodecNone
	}
	return o.opts.Codec
}

// ReadVersion returns the payload of version ov of ref from its blob, trying
// every codec's key (the default may have changed since it was written).
// It returns ErrNotFound when no blob holds it (yet).
func ReadVersion(ctx context.Context, r Reader, ref events.ItemRef, ov uint64, maxSize int64) ([]byte, error) {
	for _, c := range []Codec{CodecZstd, CodecNone, CodecS2} {
		rc, _, err := r.Get(ctx, VersionKey(ref.Name, ref.ID, ov, c))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("chronos: read blob of %s v%d: %w", ref, ov, err)
		}
		return Decompress(c, buf.Bytes(), maxSize)
	}
	return nil, fmt.Errorf("%w: no blob for %s v%d", ErrNotFound, ref, ov)
}

// ReadRef returns the payload a claim-check reference points to.
func ReadRef(ctx context.Context, r Reader, ref *events.BlobRef, maxSize int64) ([]byte, error) {
	codec, err := ParseCodec(ref.Codec)
	if err != nil {
		return nil, err
	}
	rc, _, err := r.Get(ctx, ref.Key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rc); err != nil {
		return nil, fmt.Errorf("chronos: read blob %s: %w", ref.Key, err)
	}
	return Decompress(codec, buf.Bytes(), maxSize)
}
