package bench

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidConfig wraps every error of Config.Validate.
var ErrInvalidConfig = errors.New("chronos bench: invalid config")

// Scenario names.
const (
	ScenarioIoT     = "iot"
	ScenarioTrading = "trading"
	ScenarioMixed   = "mixed"
)

// Write paths.
const (
	ViaProducer = "producer"
	ViaHTTP     = "http"
)

// Config of one run. Zero values take the defaults.
type Config struct {
	// Scenario is iot, trading or mixed; default iot.
	Scenario string
	// Via is producer or http; default producer.
	Via string
	// Duration of the load; default 10s unless Events is set.
	Duration time.Duration
	// Events, when set, ends the load after that many operations (writes
	// for iot and trading, reads plus writes for mixed) instead of after
	// Duration.
	Events int64
	// Concurrency is the number of goroutines issuing operations; default 8.
	Concurrency int
	// Devices is the number of distinct devices of iot readings; default
	// 10,000.
	Devices int
	// Instruments is the hot set of trading; default 50.
	Instruments int
	// Items is the number of items mixed reads and updates; default 1,000.
	Items int
	// ReadRatio is the share of reads in mixed; default 0.8.
	ReadRatio float64
	// Baseline runs the raw baselines after the load (see Baselines).
	Baseline bool
	// BaselineMax bounds the events each baseline replays; default
	// 50,000 (the Mongo bulkWrite and findOne baselines: 5,000).
	BaselineMax int
	// DrainTimeout bounds the wait, after the load, for the projection and
	// the offload to catch up; default 2m.
	DrainTimeout time.Duration
	// Interval of the lag and RSS samples; default 250ms.
	Interval time.Duration
	// Rate, when positive, paces the load to that many operations per
	// second across all workers (open loop: operations start on schedule
	// whatever the latency of earlier ones, as long as a worker is free).
	// Zero runs as fast as the workers can. A sustained-load run uses a
	// rate the pipeline keeps up with, so that memory measures the steady
	// state and not a growing backlog.
	Rate float64
}

// SetDefaults fills the zero fields with their defaults (Run does).
func (c *Config) SetDefaults() {
	if c.Scenario == "" {
		c.Scenario = ScenarioIoT
	}
	if c.Via == "" {
		c.Via = ViaProducer
	}
	if c.Duration == 0 && c.Events == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Concurrency == 0 {
		c.Concurrency = 8
	}
	if c.Devices == 0 {
		c.Devices = 10_000
	}
	if c.Instruments == 0 {
		c.Instruments = 50
	}
	if c.Items == 0 {
		c.Items = 1000
	}
	if c.ReadRatio == 0 {
		c.ReadRatio = 0.8
	}
	if c.BaselineMax == 0 {
		c.BaselineMax = 50_000
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 2 * time.Minute
	}
	if c.Interval == 0 {
		c.Interval = 250 * time.Millisecond
	}
}

// Validate names the first bad field and why.
func (c *Config) Validate() error {
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: "+f, append([]any{ErrInvalidConfig}, a...)...) }
	switch c.Scenario {
	case ScenarioIoT, ScenarioTrading, ScenarioMixed:
	default:
		return bad("scenario %q: want iot, trading or mixed", c.Scenario)
	}
	switch c.Via {
	case ViaProducer, ViaHTTP:
	default:
		return bad("via %q: want producer or http", c.Via)
	}
	switch {
	case c.Duration < 0:
		return bad("duration must not be negative")
	case c.Events < 0:
		return bad("events must not be negative")
	case c.Concurrency < 1 || c.Concurrency > 4096:
		return bad("concurrency %d: want 1..4096", c.Concurrency)
	case c.Devices < 1, c.Instruments < 1, c.Items < 1:
		return bad("devices, instruments and items must be at least 1")
	case c.ReadRatio < 0 || c.ReadRatio > 1:
		return bad("read ratio %v: want 0..1", c.ReadRatio)
	case c.BaselineMax < 1:
		return bad("baseline max must be at least 1")
	case c.Rate < 0:
		return bad("rate %v: want operations per second >= 0 (0: unpaced)", c.Rate)
	}
	return nil
}
