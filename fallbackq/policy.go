package fallbackq

import (
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Defaults of Config, the seed's fallback defaults.
const (
	DefaultMaxRetries   = 3
	DefaultRetryDelayMs = 1000
	DefaultMaxDelayMs   = 60000
	DefaultJitter       = 0.2
)

// Upper bounds Validate enforces; beyond them a value is almost certainly a
// unit mistake (seconds written as milliseconds) rather than a wish.
const (
	maxMaxRetries = 1000
	maxDelayLimit = 24 * time.Hour
)

// ErrInvalidConfig is matched (errors.Is) by every error of Config.Validate.
var ErrInvalidConfig = errors.New("chronos: invalid fallback config")

// Config is the `fallback` block of the configuration file, in the seed's
// key names. Zero values take the defaults.
type Config struct {
	// MaxRetries is how many times a failed event is redelivered before it is
	// dead-lettered; default 3 (so 4 deliveries). A negative value means no
	// retry: the first failure is dead-lettered.
	MaxRetries int `json:"maxRetries"`
	// RetryDelayMs is the delay before the first redelivery, in
	// milliseconds; default 1000. Each further delay doubles.
	RetryDelayMs int `json:"retryDelayMs"`
	// MaxDelayMs caps every delay, in milliseconds; default 60000.
	MaxDelayMs int `json:"maxDelayMs"`
	// Jitter spreads each delay uniformly over [d*(1-Jitter), d*(1+Jitter)]
	// (never above MaxDelayMs), so that consumers failing together do not
	// retry together; default 0.2. A negative value disables it.
	Jitter float64 `json:"jitter"`
}

func (c *Config) setDefaults() {
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.RetryDelayMs == 0 {
		c.RetryDelayMs = DefaultRetryDelayMs
	}
	if c.MaxDelayMs == 0 {
		c.MaxDelayMs = max(DefaultMaxDelayMs, c.RetryDelayMs)
	}
	switch {
	case c.Jitter == 0:
		c.Jitter = DefaultJitter
	case c.Jitter < 0:
		c.Jitter = 0
	}
}

// Validate reports the first invalid field of c, after defaults, by its
// configuration key. The error matches ErrInvalidConfig.
func (c Config) Validate() error {
	c.setDefaults()
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("%w: fallback.%s %s", ErrInvalidConfig, key, fmt.Sprintf(format, args...))
	}
	switch {
	case c.MaxRetries > maxMaxRetries:
		return bad("maxRetries", "must be at most %d, got %d", maxMaxRetries, c.MaxRetries)
	case c.RetryDelayMs < 0:
		return bad("retryDelayMs", "must not be negative, got %d", c.RetryDelayMs)
	case time.Duration(c.RetryDelayMs)*time.Millisecond > maxDelayLimit:
		return bad("retryDelayMs", "must be at most %d (24h), got %d", maxDelayLimit.Milliseconds(), c.RetryDelayMs)
	case c.MaxDelayMs < c.RetryDelayMs:
		return bad("maxDelayMs", "must be at least retryDelayMs (%d), got %d", c.RetryDelayMs, c.MaxDelayMs)
	case time.Duration(c.MaxDelayMs)*time.Millisecond > maxDelayLimit:
		return bad("maxDelayMs", "must be at most %d (24h), got %d", maxDelayLimit.Milliseconds(), c.MaxDelayMs)
	case c.Jitter >= 1:
		return bad("jitter", "must be below 1, got %g", c.Jitter)
	}
	return nil
}

// Policy is a validated retry policy: how many deliveries an event gets
// and how long it waits before each redelivery. It is a value, safe for
// concurrent use.
type Policy struct {
	maxRetries int
	initial    time.Duration
	maxDelay   time.Duration
	jitter     float64
}

// NewPolicy validates c and returns its policy.
func NewPolicy(c Config) (Policy, error) {
	if err := c.Validate(); err != nil {
		return Policy{}, err
	}
	c.setDefaults()
	return Policy{
		maxRetries: c.MaxRetries,
		initial:    time.Duration(c.RetryDelayMs) * time.Millisecond,
		maxDelay:   time.Duration(c.MaxDelayMs) * time.Millisecond,
		jitter:     c.Jitter,
	}, nil
}

// DefaultPolicy returns the policy of the zero Config.
func DefaultPolicy() Policy {
	p, err := NewPolicy(Config{})
	if err != nil {
		panic(err) // the defaults are valid
	}
	return p
}

// WithoutJitter returns p with jitter disabled: Delay then returns exactly
// the delays of Schedule. For tests.
func (p Policy) WithoutJitter() Policy {
	p.jitter = 0
	return p
}

// MaxRetries returns how many redeliveries a failing event gets.
func (p Policy) MaxRetries() int { return p.maxRetries }

// MaxDeliver returns the number of deliveries an event gets before it is
// dead-lettered: MaxRetries+1. Handler enforces it from NumDelivered; the
// JetStream consumer itself must allow more (see the package documentation).
func (p Policy) MaxDeliver() int { return p.maxRetries + 1 }

// Delay returns how long to wait before redelivering an event whose
// delivery n (1-based, JetStream's NumDelivered) failed: RetryDelay doubled
// n-1 times, capped at MaxDelay, with jitter.
func (p Policy) Delay(n uint64) time.Duration {
	n = max(n, 1)
	b := &backoff.ExponentialBackOff{
		InitialInterval:     p.initial,
		RandomizationFactor: p.jitter,
		Multiplier:          2,
		MaxInterval:         p.maxDelay,
		MaxElapsedTime:      0, // JetStream counts deliveries; time never stops retries
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	b.Reset()
	// From 1ms, 64 doublings pass any MaxDelay: every further step draws
	// from the same capped interval.
	var d time.Duration
	for range min(n, 64) {
		d = b.NextBackOff()
	}
	return min(d, p.maxDelay)
}

// Schedule returns the delays before each redelivery, without jitter:
// Schedule()[i] follows the failure of delivery i+1. Its length is
// MaxRetries. It is also the shape of a JetStream consumer BackOff list.
func (p Policy) Schedule() []time.Duration {
	q := p.WithoutJitter()
	s := make([]time.Duration, p.maxRetries)
	for i := range s {
		s[i] = q.Delay(uint64(i + 1))
	}
	return s
}
