package bench_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/internal/bench"
	"github.com/chronos-go/chronos/internal/testenv"
)

// TestScenarios runs each scenario through each write path, briefly,
// against the embedded stack (real NATS, Mongo-compatible store, local
// blobs), and checks that the report's counts add up.
func TestScenarios(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env, err := bench.Open(ctx, bench.Target{
		Embedded: true, DataDir: t.TempDir(), Partitions: 2, MongoURI: testenv.StartMongo(t).URI,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	for _, tc := range []struct {
		name string
		cfg  bench.Config
	}{
		{"iot/producer", bench.Config{Scenario: bench.ScenarioIoT, Via: bench.ViaProducer, Events: 300}},
		{"iot/http", bench.Config{Scenario: bench.ScenarioIoT, Via: bench.ViaHTTP, Events: 200}},
		{"trading/producer", bench.Config{Scenario: bench.ScenarioTrading, Via: bench.ViaProducer, Events: 200, Instruments: 5}},
		{"trading/http", bench.Config{Scenario: bench.ScenarioTrading, Via: bench.ViaHTTP, Events: 200, Instruments: 5}},
		{"mixed/producer", bench.Config{Scenario: bench.ScenarioMixed, Via: bench.ViaProducer, Events: 300, Items: 40}},
		{"mixed/http", bench.Config{Scenario: bench.ScenarioMixed, Via: bench.ViaHTTP, Events: 300, Items: 40}},
		{"trading/producer/paced", bench.Config{Scenario: bench.ScenarioTrading, Via: bench.ViaProducer, Events: 100, Instruments: 5, Rate: 200}},
		{"iot/producer/baseline", bench.Config{Scenario: bench.ScenarioIoT, Via: bench.ViaProducer, Events: 300, Baseline: true, BaselineMax: 300}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Concurrency = 4
			tc.cfg.DrainTimeout = time.Minute
			r, err := env.Run(ctx, tc.cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Errors != 0 || r.ReadErrors != 0 || len(r.ErrorSamples) > 0 {
				t.Fatalf("errors: %d writes, %d reads: %q", r.Errors, r.ReadErrors, r.ErrorSamples)
			}
			if r.Written+r.Errors != r.Attempted {
				t.Errorf("written %d + errors %d != attempted %d", r.Written, r.Errors, r.Attempted)
			}
			if ops := r.Attempted + r.Reads + r.ReadErrors; ops != tc.cfg.Events {
				t.Errorf("operations %d (attempted %d, reads %d), want %d", ops, r.Attempted, r.Reads, tc.cfg.Events)
			}
			if r.WriteLatency.Count != int(r.Written) {
				t.Errorf("write latencies %d, writes %d", r.WriteLatency.Count, r.Written)
			}
			if tc.cfg.Scenario == bench.ScenarioMixed {
				if r.ReadLatency == nil || r.ReadLatency.Count != int(r.Reads) || r.Reads == 0 || r.Written == 0 {
					t.Errorf("mixed: reads %d, writes %d, read latency %+v", r.Reads, r.Written, r.ReadLatency)
				}
			} else if r.Reads != 0 || r.ReadLatency != nil {
				t.Errorf("%s: reads %d", tc.cfg.Scenario, r.Reads)
			}
			if tc.cfg.Rate > 0 {
				// The last of n operations is scheduled (n-1)/rate after the
				// first: pacing cannot finish sooner.
				if min := float64(tc.cfg.Events-1) / tc.cfg.Rate; r.DurationSec < min || r.Rate != tc.cfg.Rate {
					t.Errorf("paced at %v ops/s: %d operations took %.3fs (at least %.3fs), report rate %v", tc.cfg.Rate, tc.cfg.Events, r.DurationSec, min, r.Rate)
				}
			}
			if r.Projection.CaughtUpSec == nil || r.Offload.CaughtUpSec == nil {
				t.Errorf("not caught up: projection %+v, offload %+v", r.Projection, r.Offload)
			}
			if r.EventsPerSec <= 0 || len(r.Series) == 0 || r.RSS.MaxMiB <= 0 || r.RSS.HeapLiveEndMiB <= 0 {
				t.Errorf("rate %v, %d samples, rss %+v", r.EventsPerSec, len(r.Series), r.RSS)
			}
			if tc.cfg.Baseline {
				b := r.Baseline
				if b == nil || b.RawPublish == nil || b.BulkWrite == nil || b.Put == nil || b.FindOne == nil || b.FindOne.Latency == nil {
					t.Fatalf("baseline incomplete: %+v", b)
				}
				if b.RawPublish.N != 300 || b.Put.N != 300 {
					t.Errorf("baseline counts: raw %d, put %d", b.RawPublish.N, b.Put.N)
				}
				// FerretDB under a loaded machine may not write 300 head+ver
				// pairs within the baseline's time budget: then the report
				// says so, and nothing else may be noted.
				notes := b.Notes
				if b.BulkWrite.N != 300 {
					cut := fmt.Sprintf("bulkWrite replayed %d of 300 events", b.BulkWrite.N)
					if b.BulkWrite.N == 0 || len(notes) == 0 || !strings.HasPrefix(notes[0], cut) {
						t.Errorf("bulkWrite baseline %d of 300 events, notes %q", b.BulkWrite.N, notes)
					}
					notes = notes[min(1, len(notes)):]
				}
				if len(notes) > 0 {
					t.Errorf("baseline notes: %q", notes)
				}
			}
			var buf jsonBuf
			if err := r.WriteTable(&buf); err != nil || buf.n == 0 {
				t.Errorf("table: %v", err)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Error(err)
			}
		})
	}
}

type jsonBuf struct{ n int }

func (b *jsonBuf) Write(p []byte) (int, error) { b.n += len(p); return len(p), nil }

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     bench.Config
		wantErr error
	}{
		{"defaults", bench.Config{}, nil},
		{"scenario", bench.Config{Scenario: "nope"}, bench.ErrInvalidConfig},
		{"via", bench.Config{Via: "grpc"}, bench.ErrInvalidConfig},
		{"concurrency", bench.Config{Concurrency: -1}, bench.ErrInvalidConfig},
		{"read ratio", bench.Config{ReadRatio: 1.5}, bench.ErrInvalidConfig},
		{"events", bench.Config{Events: -3}, bench.ErrInvalidConfig},
		{"rate", bench.Config{Rate: -1}, bench.ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.SetDefaults()
			if err := c.Validate(); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Validate() = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestMeasureSubjects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := bench.MeasureSubjects(ctx, t.TempDir(), 2000)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subjects != 2000 || m.StoreBytes == 0 || m.PublishSec <= 0 {
		t.Fatalf("%+v", m)
	}
}
