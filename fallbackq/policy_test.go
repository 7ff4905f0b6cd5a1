package fallbackq_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/fallbackq"
)

const ms = time.Millisecond

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     fallbackq.Config
		wantErr error
		field   string
	}{
		{name: "defaults", cfg: fallbackq.Config{}},
		{name: "seed example", cfg: fallbackq.Config{MaxRetries: 3, RetryDelayMs: 1000, MaxDelayMs: 60000}},
		{name: "no retries", cfg: fallbackq.Config{MaxRetries: -1}},
		{name: "no jitter", cfg: fallbackq.Config{Jitter: -1}},
		{name: "too many retries", cfg: fallbackq.Config{MaxRetries: 1001}, wantErr: fallbackq.ErrInvalidConfig, field: "maxRetries"},
		{name: "negative delay", cfg: fallbackq.Config{RetryDelayMs: -5}, wantErr: fallbackq.ErrInvalidConfig, field: "retryDelayMs"},
		{name: "delay over a day", cfg: fallbackq.Config{RetryDelayMs: 90_000_000, MaxDelayMs: 90_000_000}, wantErr: fallbackq.ErrInvalidConfig, field: "retryDelayMs"},
		{name: "max below first", cfg: fallbackq.Config{RetryDelayMs: 5000, MaxDelayMs: 1000}, wantErr: fallbackq.ErrInvalidConfig, field: "maxDelayMs"},
		{name: "max over a day", cfg: fallbackq.Config{MaxDelayMs: 90_000_000}, wantErr: fallbackq.ErrInvalidConfig, field: "maxDelayMs"},
		{name: "jitter 1", cfg: fallbackq.Config{Jitter: 1}, wantErr: fallbackq.ErrInvalidConfig, field: "jitter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Validate() = %v, want %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "fallback."+tc.field+" ") {
				t.Fatalf("Validate() = %q does not name fallback.%s", err, tc.field)
			}
			if _, perr := fallbackq.NewPolicy(tc.cfg); !errors.Is(perr, tc.wantErr) || (perr == nil) != (err == nil) {
				t.Fatalf("NewPolicy() = %v, want %v", perr, tc.wantErr)
			}
		})
	}
}

func TestPolicySchedule(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cfg        fallbackq.Config
		maxDeliver int
		schedule   []time.Duration
	}{
		{"defaults", fallbackq.Config{}, 4, []time.Duration{1000 * ms, 2000 * ms, 4000 * ms}},
		{"capped", fallbackq.Config{MaxRetries: 5, RetryDelayMs: 50, MaxDelayMs: 300}, 6, []time.Duration{50 * ms, 100 * ms, 200 * ms, 300 * ms, 300 * ms}},
		{"no retries", fallbackq.Config{MaxRetries: -1}, 1, []time.Duration{}},
		{"first delay only", fallbackq.Config{MaxRetries: 2, RetryDelayMs: 7000}, 3, []time.Duration{7 * time.Second, 14 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := fallbackq.NewPolicy(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if p.MaxDeliver() != tc.maxDeliver || p.MaxRetries() != tc.maxDeliver-1 {
				t.Errorf("MaxDeliver %d, MaxRetries %d; want %d deliveries", p.MaxDeliver(), p.MaxRetries(), tc.maxDeliver)
			}
			if s := p.Schedule(); !slices.Equal(s, tc.schedule) {
				t.Errorf("Schedule() = %v, want %v", s, tc.schedule)
			}
			q := p.WithoutJitter()
			for i, d := range tc.schedule {
				if got := q.Delay(uint64(i + 1)); got != d {
					t.Errorf("Delay(%d) = %s, want %s", i+1, got, d)
				}
			}
		})
	}
	p, _ := fallbackq.NewPolicy(fallbackq.Config{RetryDelayMs: 50, MaxDelayMs: 300, Jitter: -1})
	if d := p.Delay(1_000_000); d != 300*ms {
		t.Errorf("Delay(1e6) = %s, want the cap", d)
	}
	if d := p.Delay(0); d != 50*ms {
		t.Errorf("Delay(0) = %s, want the first delay", d)
	}
	if fallbackq.DefaultPolicy().MaxDeliver() != fallbackq.DefaultMaxRetries+1 {
		t.Error("DefaultPolicy")
	}
}

func TestPolicyJitterStaysInBounds(t *testing.T) {
	p, err := fallbackq.NewPolicy(fallbackq.Config{RetryDelayMs: 100, MaxDelayMs: 250, Jitter: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[time.Duration]bool{}
	for range 500 {
		d := p.Delay(2) // 200ms ± 50%, capped at 250ms
		if d < 100*ms || d > 250*ms {
			t.Fatalf("Delay(2) = %s, outside [100ms, 250ms]", d)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Fatalf("jitter produced only %d distinct delays", len(seen))
	}
}

type statusErr int

func (e statusErr) Error() string       { return fmt.Sprintf("status %d", int(e)) }
func (e statusErr) HTTPStatusCode() int { return int(e) }

type statusCodeErr int

func (e statusCodeErr) Error() string   { return fmt.Sprintf("status %d", int(e)) }
func (e statusCodeErr) StatusCode() int { return int(e) }

type tempErr struct{ statusErr }

func (tempErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	invalid := &events.ValidationError{Field: "payload", Reason: "bad", Err: events.ErrInvalid}
	for _, tc := range []struct {
		name    string
		err     error
		want    fallbackq.Class
		wantErr error // still matched through the classification wrapper
	}{
		{"invalid event", fmt.Errorf("decode: %w", invalid), fallbackq.Terminal, events.ErrInvalid},
		{"too large", events.ErrTooLarge, fallbackq.Terminal, events.ErrInvalid},
		{"marked terminal", fallbackq.MarkTerminal(io.ErrUnexpectedEOF), fallbackq.Terminal, io.ErrUnexpectedEOF},
		{"403", fmt.Errorf("put: %w", statusErr(403)), fallbackq.Terminal, nil},
		{"404 bucket", statusErr(404), fallbackq.Terminal, nil},
		{"400 via StatusCode", statusCodeErr(400), fallbackq.Terminal, nil},
		{"408", statusErr(408), fallbackq.Retryable, nil},
		{"409", statusErr(409), fallbackq.Retryable, nil},
		{"429", statusErr(429), fallbackq.Retryable, nil},
		{"500", statusErr(500), fallbackq.Retryable, nil},
		{"503", statusCodeErr(503), fallbackq.Retryable, nil},
		{"4xx but temporary", tempErr{statusErr(400)}, fallbackq.Retryable, nil},
		{"deadline", fmt.Errorf("put: %w", context.DeadlineExceeded), fallbackq.Retryable, context.DeadlineExceeded},
		{"canceled", context.Canceled, fallbackq.Retryable, context.Canceled},
		{"net timeout", &net.DNSError{Err: "slow", IsTimeout: true}, fallbackq.Retryable, nil},
		{"connection refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, fallbackq.Retryable, nil},
		{"unknown", errors.New("who knows"), fallbackq.Retryable, nil},
		{"joined invalid", errors.Join(errors.New("x"), events.ErrInvalid), fallbackq.Terminal, events.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fallbackq.Classify(tc.err); got != tc.want {
				t.Fatalf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
			}
			if tc.wantErr != nil && !errors.Is(tc.err, tc.wantErr) {
				t.Fatalf("%v does not match %v", tc.err, tc.wantErr)
			}
		})
	}
	if fallbackq.MarkTerminal(nil) != nil {
		t.Error("MarkTerminal(nil) != nil")
	}
	if !errors.Is(fallbackq.MarkTerminal(io.EOF), fallbackq.ErrTerminal) {
		t.Error("MarkTerminal does not match ErrTerminal")
	}
}

func TestNewMetricsTwiceSharesCollectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := fallbackq.NewMetrics(reg)
	b := fallbackq.NewMetrics(reg) // must not panic
	if a == nil || b == nil {
		t.Fatal("nil metrics")
	}
	_ = fallbackq.NewMetrics(nil)
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}
