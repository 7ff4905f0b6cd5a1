package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what one run measured. Its JSON form is what --json writes.
type Report struct {
	Scenario    string `json:"scenario"`
	Via         string `json:"via"`
	Concurrency int    `json:"concurrency"`
	// Rate is the paced rate of the load in operations/s (0: unpaced).
	Rate    float64   `json:"rate,omitempty"`
	Target  string    `json:"target"`
	Date    time.Time `json:"date"`
	Machine Machine   `json:"machine"`
	// DurationSec is the load's length, from the first operation to the
	// last acknowledgement.
	DurationSec float64 `json:"durationSec"`
	// Attempted writes = Written + Errors. Conflicts are lost races that
	// were retried (not errors, not counted as writes).
	Attempted  int64 `json:"attempted"`
	Written    int64 `json:"written"`
	Errors     int64 `json:"errors"`
	Conflicts  int64 `json:"conflicts"`
	Reads      int64 `json:"reads"`
	ReadErrors int64 `json:"readErrors"`
	// EventsPerSec is Written / DurationSec; ReadsPerSec the same of reads.
	EventsPerSec float64   `json:"eventsPerSec"`
	ReadsPerSec  float64   `json:"readsPerSec,omitempty"`
	WriteLatency Latency   `json:"writeLatency"`
	ReadLatency  *Latency  `json:"readLatency,omitempty"`
	Projection   Lag       `json:"projection"`
	Offload      Lag       `json:"offload"`
	RSS          RSS       `json:"rss"`
	Baseline     *Baseline `json:"baseline,omitempty"`
	// Subjects holds the JetStream server memory probes (MeasureSubjects).
	Subjects     []SubjectMemory `json:"subjects,omitempty"`
	ErrorSamples []string        `json:"errorSamples,omitempty"`
	Series       []Sample        `json:"series"`
}

// Lag of a downstream consumer over the run, in events.
type Lag struct {
	Max int64 `json:"max"`
	// End is the lag when the load ended.
	End int64 `json:"end"`
	// CaughtUpSec is when the lag reached zero, in seconds since the load
	// began (nil: not within the drain timeout, or unknown).
	CaughtUpSec *float64 `json:"caughtUpSec"`
	// EventsPerSec is Written / CaughtUpSec: the rate the consumer
	// sustained (bounded by the write rate when it kept up).
	EventsPerSec float64 `json:"eventsPerSec"`
	Known        bool    `json:"known"`
}

// RSS of this process over the run, in MiB.
type RSS struct {
	Scope    string  `json:"scope"`
	StartMiB float64 `json:"startMiB"`
	// HalfMiB is the RSS at half the load's length: under a load the
	// pipeline keeps up with, End - Half is the growth of the second half.
	HalfMiB float64 `json:"halfMiB"`
	MaxMiB  float64 `json:"maxMiB"`
	EndMiB  float64 `json:"endMiB"`
	// HeapLive* are the Go heap live after GC at the same points: flat
	// when Go code keeps nothing per operation.
	HeapLiveStartMiB float64 `json:"heapLiveStartMiB"`
	HeapLiveHalfMiB  float64 `json:"heapLiveHalfMiB"`
	HeapLiveEndMiB   float64 `json:"heapLiveEndMiB"`
}

// Machine describes where the run ran.
type Machine struct {
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"goVersion"`
	CPU       string `json:"cpu,omitempty"`
}

func newReport(cfg Config, e *Env) *Report {
	r := &Report{Scenario: cfg.Scenario, Via: cfg.Via, Concurrency: cfg.Concurrency, Rate: cfg.Rate, Target: e.url, Date: time.Now().UTC().Truncate(time.Second),
		Machine: Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), CPU: cpuModel()}}
	r.RSS.Scope = "the bench process (remote target: the load generator only)"
	if e.embedded {
		r.Target = "embedded"
		r.RSS.Scope = "the whole embedded stack and the load generator (one process)"
	}
	return r
}

func (r *Report) fill(l *load, elapsed time.Duration, write, read []time.Duration, series []Sample, c caughtUp, rssStart int64) {
	r.DurationSec = elapsed.Seconds()
	r.Attempted, r.Written, r.Errors = l.cnt.attempted.Load(), l.cnt.written.Load(), l.cnt.errors.Load()
	r.Conflicts, r.Reads, r.ReadErrors = l.cnt.conflicts.Load(), l.cnt.reads.Load(), l.cnt.readErrors.Load()
	r.EventsPerSec = float64(r.Written) / r.DurationSec
	r.WriteLatency = summarise(write)
	if l.cfg.Scenario == ScenarioMixed {
		lt := summarise(read)
		r.ReadLatency = &lt
		r.ReadsPerSec = float64(r.Reads) / r.DurationSec
	}
	l.errs.Lock()
	r.ErrorSamples = append([]string(nil), l.errs.samples...)
	l.errs.Unlock()
	r.Series = series
	r.RSS.StartMiB = mib(rssStart)
	for _, s := range series {
		r.RSS.MaxMiB = max(r.RSS.MaxMiB, s.RSSMiB)
		if s.T <= r.DurationSec/2 {
			r.RSS.HalfMiB, r.RSS.HeapLiveHalfMiB = s.RSSMiB, s.HeapLiveMiB
		}
		if s.ProjectionLag >= 0 {
			r.Projection.Known = true
			r.Projection.Max = max(r.Projection.Max, s.ProjectionLag)
			if s.T <= r.DurationSec {
				r.Projection.End = s.ProjectionLag
			}
		}
		if s.OffloadLag >= 0 {
			r.Offload.Known = true
			r.Offload.Max = max(r.Offload.Max, s.OffloadLag)
			if s.T <= r.DurationSec {
				r.Offload.End = s.OffloadLag
			}
		}
	}
	if len(series) > 0 {
		r.RSS.EndMiB, r.RSS.HeapLiveEndMiB = series[len(series)-1].RSSMiB, series[len(series)-1].HeapLiveMiB
		r.RSS.HeapLiveStartMiB = series[0].HeapLiveMiB
	}
	r.Projection.CaughtUpSec, r.Offload.CaughtUpSec = c.projection, c.offload
	if c.projection != nil {
		r.Projection.EventsPerSec = float64(r.Written) / max(*c.projection, r.DurationSec)
	}
	if c.offload != nil {
		r.Offload.EventsPerSec = float64(r.Written) / max(*c.offload, r.DurationSec)
	}
}

// WriteJSON writes the report, indented, to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteTable writes the report as a plain-text table.
func (r *Report) WriteTable(w io.Writer) error {
	paced := "unpaced"
	if r.Rate > 0 {
		paced = fmt.Sprintf("paced at %g ops/s", r.Rate)
	}
	fmt.Fprintf(w, "chronos bench: %s via %s, concurrency %d, %s, target %s, %s (%s/%s, %d CPUs, %s)\n",
		r.Scenario, r.Via, r.Concurrency, paced, r.Target, r.Date.Format(time.RFC3339), r.Machine.OS, r.Machine.Arch, r.Machine.CPUs, r.Machine.GoVersion)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")) }
	row("metric", "chronos", "baseline", "ratio")
	row("------", "-------", "--------", "-----")
	var b Baseline
	if r.Baseline != nil {
		b = *r.Baseline
	}
	row("writes/s ("+fmt.Sprint(r.Written)+" in "+fmt.Sprintf("%.1fs", r.DurationSec)+")", num(r.EventsPerSec), rate(b.RawPublish, "raw JetStream async publish"), ratio(r.EventsPerSec, b.RawPublish))
	row("write latency p50 / p90 / p99 / max ms", lat4(r.WriteLatency), "", "")
	if r.ReadLatency != nil {
		row("reads/s ("+fmt.Sprint(r.Reads)+")", num(r.ReadsPerSec), "", "")
		row("read latency p50 / p90 / p99 / max ms", lat4(*r.ReadLatency), latB(b.FindOne, "findOne"), ratioLat(*r.ReadLatency, b.FindOne))
	} else if b.FindOne != nil {
		row("findOne latency p50 / p90 / p99 / max ms", "", latB(b.FindOne, "findOne"), "")
	}
	row("projection: lag max / at end (events)", lagPair(r.Projection), "", "")
	row("projection: caught up after s / events/s", caught(r.Projection), rate(b.BulkWrite, "bulkWrite head+ver"), ratio(r.Projection.EventsPerSec, b.BulkWrite))
	row("offload: lag max / at end (events)", lagPair(r.Offload), "", "")
	row("offload: caught up after s / events/s", caught(r.Offload), rate(b.Put, "blob PUT"), ratio(r.Offload.EventsPerSec, b.Put))
	row("RSS start / at half / max / end MiB", fmt.Sprintf("%.0f / %.0f / %.0f / %.0f", r.RSS.StartMiB, r.RSS.HalfMiB, r.RSS.MaxMiB, r.RSS.EndMiB), "", "")
	row("Go heap live start / at half / end MiB", fmt.Sprintf("%.0f / %.0f / %.0f", r.RSS.HeapLiveStartMiB, r.RSS.HeapLiveHalfMiB, r.RSS.HeapLiveEndMiB), "", "")
	row("errors (writes / reads); conflicts retried", fmt.Sprintf("%d / %d; %d", r.Errors, r.ReadErrors, r.Conflicts), "", "")
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "RSS is of %s.\n", r.RSS.Scope)
	if r.Baseline != nil {
		for _, n := range r.Baseline.Notes {
			fmt.Fprintln(w, "baseline: "+n)
		}
	}
	for _, s := range r.Subjects {
		fmt.Fprintf(w, "JetStream memory: %d distinct subjects: heap +%.0f MiB (%.0f B/subject), RSS +%.0f MiB (%.0f B/subject), published in %.1fs\n",
			s.Subjects, mib(s.HeapDelta), s.HeapPerSubject, mib(s.RSSDelta), s.RSSPerSubject, s.PublishSec)
	}
	for _, e := range r.ErrorSamples {
		fmt.Fprintln(w, "error: "+e)
	}
	return nil
}

func num(f float64) string {
	if f == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", f)
}

func rate(b *Rate, what string) string {
	if b == nil {
		return ""
	}
	return fmt.Sprintf("%s (%s, n=%d)", num(b.EventsPerSec), what, b.N)
}

func ratio(a float64, b *Rate) string {
	if b == nil || b.EventsPerSec == 0 || a == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f", a/b.EventsPerSec)
}

func lat4(l Latency) string {
	return fmt.Sprintf("%.2f / %.2f / %.2f / %.1f", l.P50, l.P90, l.P99, l.Max)
}

func latB(b *Rate, what string) string {
	if b == nil || b.Latency == nil {
		return ""
	}
	return lat4(*b.Latency) + " (" + what + ")"
}

// ratioLat is baseline p50 over chronos p50 (below 1: chronos is slower).
func ratioLat(l Latency, b *Rate) string {
	if b == nil || b.Latency == nil || l.P50 == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f (p50)", b.Latency.P50/l.P50)
}

func lagPair(l Lag) string {
	if !l.Known {
		return "unknown (no NATS)"
	}
	return fmt.Sprintf("%d / %d", l.Max, l.End)
}

func caught(l Lag) string {
	if l.CaughtUpSec == nil {
		return "not caught up"
	}
	return fmt.Sprintf("%.1f / %s", *l.CaughtUpSec, num(l.EventsPerSec))
}

// cpuModel reads the CPU's model name (Linux), or "".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
