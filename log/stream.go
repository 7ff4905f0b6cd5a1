package log

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/events"
)

// Defaults of Config.
const (
	DefaultPartitions      = 8
	DefaultDuplicateWindow = 2 * time.Minute
	// MetaPartitions is the stream metadata key that records P.
	MetaPartitions = "chronos.partitions"
	// MetaPartition is the stream metadata key that records k.
	MetaPartition = "chronos.partition"
	streamPrefix  = "CHRONOS_P"
)

// ErrNotReady is returned when the partition streams do not exist or do not
// agree with each other: run EnsureStreams (chronos dev does).
var ErrNotReady = errors.New("chronos: log streams are not set up")

// ErrPartitionMismatch is returned by EnsureStreams when the streams exist
// with another partition count. Changing P means replaying into new streams.
var ErrPartitionMismatch = errors.New("chronos: partition count differs from the existing streams")

// Config describes the partition streams.
type Config struct {
	// Partitions is P, the number of partition streams; default 8. Fixed at
	// creation.
	Partitions int
	// Replicas per stream; default 1 (dev). Production uses 3.
	Replicas int
	// DuplicateWindow is how long a Nats-Msg-Id is remembered for
	// deduplication; default 2 minutes.
	DuplicateWindow time.Duration
	// MaxAge bounds how long events are kept; 0 keeps them forever (the log
	// is the source of truth: only set this once blobs are the archive).
	MaxAge time.Duration
	// MemoryStorage keeps the streams in memory instead of files (tests and
	// benchmarks only: nothing survives a restart).
	MemoryStorage bool
}

func (c *Config) setDefaults() {
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
}

// Validate reports the first invalid field of c, after defaults.
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case c.Partitions < 1 || c.Partitions > 1024:
		return fmt.Errorf("chronos: log config: partitions must be between 1 and 1024, got %d", c.Partitions)
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("chronos: log config: replicas must be between 1 and 5, got %d", c.Replicas)
	case c.DuplicateWindow < time.Second:
		return fmt.Errorf("chronos: log config: duplicateWindow must be at least 1s, got %s", c.DuplicateWindow)
	case c.MaxAge < 0:
		return fmt.Errorf("chronos: log config: maxAge must not be negative, got %s", c.MaxAge)
	}
	return nil
}

// StreamName returns the name of partition k's stream: CHRONOS_P<k>.
func StreamName(k int) string { return streamPrefix + strconv.Itoa(k) }

func streamConfig(c Config, k int) jetstream.StreamConfig {
	storage := jetstream.FileStorage
	if c.MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	return jetstream.StreamConfig{
		Name:        StreamName(k),
		Description: "Chronos event log, partition " + strconv.Itoa(k),
		Subjects:    []string{events.PartitionFilter(k)},
		Retention:   jetstream.LimitsPolicy,
		Storage:     storage,
		Replicas:    c.Replicas,
		Duplicates:  c.DuplicateWindow,
		MaxAge:      c.MaxAge,
		Discard:     jetstream.DiscardOld,
		AllowDirect: true,
		// Atomic multi-item batches (one partition) need this.
		AllowAtomicPublish: true,
		Metadata: map[string]string{
			MetaPartitions: strconv.Itoa(c.Partitions),
			MetaPartition:  strconv.Itoa(k),
		},
	}
}

// EnsureStreams creates the partition streams, or updates them to cfg. It is
// idempotent. It refuses to change the partition count of existing streams.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if p, err := readPartitions(ctx, js); err == nil && p != cfg.Partitions {
		return fmt.Errorf("%w: the streams have %d partitions, the config asks for %d", ErrPartitionMismatch, p, cfg.Partitions)
	} else if err != nil && !errors.Is(err, ErrNotReady) {
		return err
	}
	for k := 0; k < cfg.Partitions; k++ {
		if _, err := js.CreateOrUpdateStream(ctx, streamConfig(cfg, k)); err != nil {
			return fmt.Errorf("chronos: ensure stream %s: %w", StreamName(k), err)
		}
	}
	return nil
}

// readPartitions returns P as recorded in CHRONOS_P0's metadata.
func readPartitions(ctx context.Context, js jetstream.JetStream) (int, error) {
	s, err := js.Stream(ctx, StreamName(0))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, fmt.Errorf("%w: stream %s does not exist", ErrNotReady, StreamName(0))
	}
	if err != nil {
		return 0, fmt.Errorf("chronos: read stream %s: %w", StreamName(0), err)
	}
	v := s.CachedInfo().Config.Metadata[MetaPartitions]
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 {
		return 0, fmt.Errorf("%w: stream %s has no valid %q metadata (%q)", ErrNotReady, StreamName(0), MetaPartitions, v)
	}
	return p, nil
}
