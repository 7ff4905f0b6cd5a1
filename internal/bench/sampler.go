package bench

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// counters are the live totals of a run, read by the progress line.
type counters struct {
	attempted, written, errors, conflicts, reads, readErrors atomic.Int64
}

// Sample is one point of the series a run records.
type Sample struct {
	// T is the time since the load began, in seconds.
	T float64 `json:"t"`
	// Written is the total of acknowledged writes so far.
	Written int64 `json:"written"`
	// ProjectionLag and OffloadLag are events still to apply (-1: unknown).
	ProjectionLag int64 `json:"projectionLag"`
	OffloadLag    int64 `json:"offloadLag"`
	// RSSMiB is the resident set size of this process.
	RSSMiB float64 `json:"rssMiB"`
	// HeapLiveMiB is the Go heap found live by the last garbage
	// collection: what Go code holds, without the Go runtime's free
	// pages or memory outside the Go heap (SQLite's page caches).
	HeapLiveMiB float64 `json:"heapLiveMiB"`
}

// sampler records lag and RSS every interval and prints the progress line
// about five times a second.
type sampler struct {
	env      *Env
	cnt      *counters
	out      io.Writer
	label    string
	interval time.Duration
	begin    time.Time
	// tty: the line is redrawn in place ~5 times a second; otherwise (a
	// log file) a new line is written every 5 seconds.
	tty    bool
	stopCh chan struct{}
	wg     sync.WaitGroup
	mu     struct {
		sync.Mutex
		series []Sample
		last   Sample
	}
}

func newSampler(e *Env, cnt *counters, out io.Writer, label string, interval time.Duration) *sampler {
	return &sampler{env: e, cnt: cnt, out: out, label: label, interval: interval, begin: time.Now(), stopCh: make(chan struct{}), tty: isTerminal(out)}
}

func (s *sampler) start() {
	s.wg.Go(s.sampleLoop)
	if s.out != nil {
		s.wg.Go(s.printLoop)
	}
}

// stop ends both loops; the progress line is finished with a newline.
func (s *sampler) stop() {
	close(s.stopCh)
	s.wg.Wait()
	if s.out != nil {
		s.print()
		if s.tty {
			fmt.Fprintln(s.out)
		}
	}
}

func (s *sampler) sampleLoop() {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.sample()
		select {
		case <-s.stopCh:
			return
		case <-t.C:
		}
	}
}

func (s *sampler) sample() Sample {
	sm := Sample{T: time.Since(s.begin).Seconds(), Written: s.cnt.written.Load(), ProjectionLag: -1, OffloadLag: -1, RSSMiB: mib(rssBytes()), HeapLiveMiB: mib(heapLiveBytes())}
	if s.env.log != nil {
		if p, o, err := s.env.lagWithin(2 * time.Second); err == nil {
			sm.ProjectionLag, sm.OffloadLag = p, o
		}
	}
	s.mu.Lock()
	s.mu.series = append(s.mu.series, sm)
	s.mu.last = sm
	s.mu.Unlock()
	return sm
}

func (s *sampler) printLoop() {
	every := 200 * time.Millisecond
	if !s.tty {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var prevN int64
	prevT := time.Now()
	for {
		select {
		case <-s.stopCh:
			return
		case now := <-t.C:
			n := s.cnt.written.Load() + s.cnt.reads.Load()
			rate := float64(n-prevN) / now.Sub(prevT).Seconds()
			prevN, prevT = n, now
			s.printRate(rate)
		}
	}
}

func (s *sampler) print() { s.printRate(-1) }

func (s *sampler) printRate(rate float64) {
	s.mu.Lock()
	last := s.mu.last
	s.mu.Unlock()
	r := "      -"
	if rate >= 0 {
		r = fmt.Sprintf("%7.0f", rate)
	}
	start, end := "\r", "   "
	if !s.tty {
		start, end = "", "\n"
	}
	fmt.Fprintf(s.out, start+"%s %6.1fs  %s ops/s  written %d  reads %d  errors %d  conflicts %d  lag proj %s off %s  rss %.0f MiB  heap %.0f MiB%s",
		s.label, time.Since(s.begin).Seconds(), r, s.cnt.written.Load(), s.cnt.reads.Load(),
		s.cnt.errors.Load()+s.cnt.readErrors.Load(), s.cnt.conflicts.Load(),
		lagText(last.ProjectionLag), lagText(last.OffloadLag), last.RSSMiB, last.HeapLiveMiB, end)
}

func lagText(n int64) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprint(n)
}

func (s *sampler) series() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sample(nil), s.mu.series...)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
