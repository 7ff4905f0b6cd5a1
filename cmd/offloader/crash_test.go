package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/testenv"
	"github.com/chronos-go/chronos/internal/wiring"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/tenancy"
)

// kill -9 of the offloader process during uploads, then a restart: every
// version's blob is present and holds exactly its payload.
func TestOffloaderKill9DuringUploads(t *testing.T) {
	n := testenv.StartNATS(t)
	_, js := n.Connect(t)
	ctx := context.Background()
	if err := clog.EnsureStreams(ctx, js, clog.Config{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	l, err := clog.Open(ctx, js, events.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// The configuration the process runs with: chronos dev's default on a
	// temp directory, pointed at this NATS server.
	dir := t.TempDir()
	cfg := tenancy.DevDefault(dir)
	cfg.NATS.URL = tenancy.ConnString(n.URL)
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "chronos.config.json")
	if err := os.WriteFile(cfgPath, cfgJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	// 300 versions of 20 KiB documents (compressed: real zstd work).
	svc := ingest.New(l, ingest.Options{})
	c := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "docs"}
	type version struct {
		id  string
		ov  uint64
		doc []byte
	}
	var want []version
	for i := range 100 {
		id := fmt.Sprintf("d%03d", i)
		for ov := range 3 {
			doc := []byte(fmt.Sprintf(`{"i":%d,"ov":%d,"text":%q}`, i, ov, strings.Repeat(fmt.Sprintf("line %d of item %d; ", ov, i), 900)))
			var err error
			if ov == 0 {
				_, err = svc.Create(ctx, c, id, doc, ingest.Write{})
			} else {
				_, err = svc.Update(ctx, c.Item(id), doc, ingest.Write{})
			}
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, version{id, uint64(ov), doc})
		}
	}

	bin := filepath.Join(t.TempDir(), "offloader")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/chronos-go/chronos/cmd/offloader").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "--config", cfgPath, "--metrics", "", "--concurrency", "4")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	deps, err := wiring.Open(tenancy.DevDefault(dir), wiring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := deps.Blobs()(c)
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		n := 0
		for _, v := range want {
			if _, err := store.Stat(ctx, offload.VersionKey(c.Name, v.id, v.ov, offload.CodecZstd)); err == nil {
				n++
			}
		}
		return n
	}

	p := start()
	deadline := time.Now().Add(60 * time.Second)
	for count() < 20 {
		if time.Now().After(deadline) {
			t.Fatal("the offloader wrote fewer than 20 blobs in 60s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.Wait()
	killedAt := count()
	if killedAt >= len(want) {
		t.Fatalf("all %d blobs were written before the kill: the test needs a kill mid-stream", killedAt)
	}
	t.Logf("killed after %d of %d blobs", killedAt, len(want))

	p = start()
	defer func() { _ = p.Process.Signal(syscall.SIGTERM); _ = p.Wait() }()
	deadline = time.Now().Add(120 * time.Second)
	for count() < len(want) {
		if time.Now().After(deadline) {
			t.Fatalf("after the restart only %d of %d blobs exist", count(), len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, v := range want {
		got, err := offload.ReadVersion(ctx, store, c.Item(v.id), v.ov, 1<<20)
		if err != nil {
			t.Fatalf("%s v%d: %v", v.id, v.ov, err)
		}
		if string(got) != string(v.doc) {
			t.Fatalf("%s v%d: blob differs from the payload (%d vs %d bytes)", v.id, v.ov, len(got), len(v.doc))
		}
	}
}
