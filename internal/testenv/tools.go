package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// toolsDir returns where `make tools` installs the test servers:
// $CHRONOS_TOOLS_DIR, else <module root>/.tools, else "" when no go.mod is
// found above the working directory.
func toolsDir() string {
	if d := os.Getenv("CHRONOS_TOOLS_DIR"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".tools")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// findTool returns the path of the executable name, looked up in
// <toolsDir>/<sub>/name and then in PATH. Its error says how to install it.
func findTool(sub, name string) (string, error) {
	dir := toolsDir()
	if dir != "" {
		p := filepath.Join(dir, sub, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	where := "$CHRONOS_TOOLS_DIR/" + sub
	if dir != "" {
		where = filepath.Join(dir, sub)
	}
	return "", fmt.Errorf("%s not found in %s ($CHRONOS_TOOLS_DIR/%s, default <repo>/.tools/%s) or PATH: run `make tools` at the repository root",
		name, where, sub, sub)
}

// mustFindTool is findTool that fails the test; hint names the variable
// that would point the test at an external server instead.
func mustFindTool(t testing.TB, sub, name, hint string) string {
	t.Helper()
	p, err := findTool(sub, name)
	if err != nil {
		t.Fatalf("testenv: %v (or set %s to use an external server)", err, hint)
	}
	return p
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process may take it before the server binds it; callers retry
// on "address in use".
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: no free port on 127.0.0.1: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// randomHex returns n random bytes, hex encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// serverSpec describes a child-process server started by startServer.
type serverSpec struct {
	name    string                    // for messages, e.g. "versitygw"
	path    string                    // executable
	dir     string                    // working directory (data lives below it)
	args    func(port int) []string   // command line for a given port
	readyAt func(port int) string     // URL polled until ready says so
	ready   func(*http.Response) bool // nil: any HTTP answer
	timeout time.Duration             // bound on the wait for readiness
}

// startServer starts the server on a free port, waits until it answers and
// registers its stop in t.Cleanup. It retries on a new port when the chosen
// one was taken meanwhile, and fails the test with the server's output on
// any other error.
func startServer(t testing.TB, s serverSpec) (port int) {
	t.Helper()
	const attempts = 3
	for i := 1; ; i++ {
		port = freePort(t)
		begin := time.Now()
		p, err := startProcess(s.path, s.dir, s.args(port))
		if err != nil {
			t.Fatalf("testenv: start %s: %v", s.name, err)
		}
		err = p.waitHTTP(s.readyAt(port), s.ready, s.timeout)
		if err == nil {
			t.Cleanup(func() {
				p.stop()
				if t.Failed() {
					if out := p.output(); out != "" {
						t.Logf("testenv: %s output:\n%s", s.name, out)
					}
				}
			})
			t.Logf("testenv: %s ready on 127.0.0.1:%d in %s", s.name, port, time.Since(begin).Round(time.Millisecond))
			return port
		}
		p.stop()
		if i < attempts && p.addrInUse() {
			continue
		}
		t.Fatalf("testenv: %s on 127.0.0.1:%d: %v\ncommand: %s\noutput:\n%s",
			s.name, port, err, strings.Join(p.cmd.Args, " "), p.output())
	}
}

// process is a child process in its own process group, with its stdout
// and stderr captured.
type process struct {
	cmd    *exec.Cmd
	out    *tailBuffer
	exited chan struct{} // closed once Wait has returned
	err    error         // Wait's result, set before exited is closed
	once   sync.Once
}

func startProcess(path, dir string, args []string) (*process, error) {
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	out := &tailBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
	// Bounds Wait when a grandchild keeps the output pipes open.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// setParentDeathSignal asks Linux to SIGKILL the child if the test binary
// dies without running its cleanups (a go test -timeout panic, a crash).
// The field exists on Linux only; reflection keeps the package building on
// the other Unix systems, where the cleanup alone stops the child.
func setParentDeathSignal(attr *syscall.SysProcAttr) {
	f := reflect.ValueOf(attr).Elem().FieldByName("Pdeathsig")
	if f.IsValid() && f.Type() == reflect.TypeOf(syscall.SIGKILL) {
		f.Set(reflect.ValueOf(syscall.SIGKILL))
	}
}

// stop sends SIGTERM to the process group, then SIGKILL if the process has
// not exited within 5s, and returns once it has been waited for.
func (p *process) stop() {
	p.once.Do(func() {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.exited
		}
	})
}

// waitHTTP polls url until ready accepts the response (any response when
// ready is nil), the process exits, or timeout passes.
func (p *process) waitHTTP(url string, ready func(*http.Response) bool, timeout time.Duration) error {
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		resp, err := client.Get(url)
		if err == nil {
			ok := ready == nil || ready(resp)
			last = "last answer: " + resp.Status
			resp.Body.Close()
			if ok {
				return nil
			}
		} else {
			last = "last error: " + err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s (GET %s, %s)", timeout, url, last)
		}
		select {
		case <-p.exited:
			return fmt.Errorf("exited before it was ready: %v", p.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *process) output() string { return p.out.String() }

func (p *process) addrInUse() bool {
	out := p.output()
	return strings.Contains(out, "address already in use") || strings.Contains(out, "EADDRINUSE")
}

// tailBuffer is a concurrency-safe writer that keeps the last max bytes.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
