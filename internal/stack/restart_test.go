package stack_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chronos-go/chronos/internal/stack"
)

// devBinary builds cmd/chronos once per test run.
var devBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "chronos-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "chronos")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/chronos-go/chronos/cmd/chronos").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

type devProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
	exited chan error
}

// startDev runs `chronos dev` as a real process on dataDir, with the read
// model cfg names (see forEachStore: --store for MongoDB, none for the
// embedded SQLite store), and waits for it to print its endpoint.
func startDev(t *testing.T, dataDir string, cfg stack.Config) *devProc {
	t.Helper()
	bin, err := devBinary()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:0"
	args := []string{"dev", "--data", dataDir, "--addr", addr, "--partitions", "4"}
	if cfg.MongoURI != "" && cfg.MongoURI != sqliteStore {
		args = append(args, "--store", cfg.MongoURI)
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &devProc{cmd: cmd, stderr: &stderr, exited: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() {
		// The listener is bound by chronos dev itself (port 0): the URL it
		// prints is the one to use, with no window for another process to
		// take the port.
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			if _, url, ok := strings.Cut(sc.Text(), "API:"); ok {
				once.Do(func() { ready <- strings.TrimSpace(url) })
			}
		}
	}()
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case p.url = <-ready:
	case err := <-p.exited:
		t.Fatalf("chronos dev exited before it was ready: %v\n%s", err, stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("chronos dev not ready after 2 minutes\n%s", stderr.String())
	}
	return p
}

func (p *devProc) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if sig == syscall.SIGINT && err != nil {
			t.Fatalf("chronos dev did not exit cleanly on Ctrl-C: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("chronos dev did not exit after %v\n%s", sig, p.stderr.String())
	}
}

// (d) restart `chronos dev` on the same --data: everything written before
// is still readable; a kill -9 loses no acknowledged write either.
func TestDevRestartKeepsData(t *testing.T) { forEachStore(t, testDevRestartKeepsData) }

func testDevRestartKeepsData(t *testing.T, cfg stack.Config) {
	data := t.TempDir()
	base := ordersPath + "/items"
	p := startDev(t, data, cfg)
	mustStatus(t, call(t, "POST", p.url+base+"?id=keep", `{"v":0}`), 201)
	mustStatus(t, call(t, "PUT", p.url+base+"/keep", `{"v":1}`, "If-Match", `"0"`), 200)
	eventually(t, "the projection of v1", func() bool {
		r := call(t, "GET", p.url+base+"/keep", "")
		return r.Status == 200 && jsonEqual(t, userData(t, r.Body), []byte(`{"v":1}`))
	})
	p.stop(t, syscall.SIGINT)

	p = startDev(t, data, cfg)
	r := mustStatus(t, call(t, "GET", p.url+base+"/keep", ""), 200)
	if !jsonEqual(t, userData(t, r.Body), []byte(`{"v":1}`)) {
		t.Fatalf("after restart: %s", r.Body)
	}
	mustStatus(t, call(t, "GET", p.url+base+"/keep?ov=0", ""), 200)
	// Writes acknowledged just before a kill -9 survive it.
	for i := 2; i <= 6; i++ {
		mustStatus(t, call(t, "PUT", p.url+base+"/keep", fmt.Sprintf(`{"v":%d}`, i), "If-Match", fmt.Sprintf(`"%d"`, i-1)), 200)
	}
	p.stop(t, syscall.SIGKILL)

	p = startDev(t, data, cfg)
	eventually(t, "the projection of v6 after kill -9", func() bool {
		r := call(t, "GET", p.url+base+"/keep", "")
		return r.Status == 200 && jsonEqual(t, userData(t, r.Body), []byte(`{"v":6}`))
	})
	for ov := 0; ov <= 6; ov++ {
		r := mustStatus(t, call(t, "GET", fmt.Sprintf("%s%s/keep?ov=%d", p.url, base, ov), ""), 200)
		if !jsonEqual(t, userData(t, r.Body), []byte(fmt.Sprintf(`{"v":%d}`, ov))) {
			t.Fatalf("v%d after kill -9: %s", ov, r.Body)
		}
	}
	// The next version is 7: no version was lost or duplicated.
	mustStatus(t, call(t, "PUT", p.url+base+"/keep", `{"v":7}`, "If-Match", `"6"`), 200)
	p.stop(t, syscall.SIGINT)
}
