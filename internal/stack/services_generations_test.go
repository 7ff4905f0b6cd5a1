package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/testenv"
	"github.com/chronos-go/chronos/internal/wiring"
	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/tenancy"
)

// serviceBinaries builds cmd/projector and cmd/query once per test run.
var serviceBinaries = sync.OnceValues(func() (map[string]string, error) {
	dir, err := os.MkdirTemp("", "chronos-svc-bin-")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, name := range []string{"projector", "query"} {
		bin := filepath.Join(dir, name)
		if b, err := exec.Command("go", "build", "-o", bin, "github.com/chronos-go/chronos/cmd/"+name).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build cmd/%s: %v\n%s", name, err, b)
		}
		out[name] = bin
	}
	return out, nil
})

// syncBuffer is a bytes.Buffer a process writes while a test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// svcProc is a standalone service (cmd/projector, cmd/query) running as
// its own process.
type svcProc struct {
	name   string
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan error
}

// startService runs the built binary of cmd/name with args; it is killed
// at cleanup if still running.
func startService(t *testing.T, name string, args ...string) *svcProc {
	t.Helper()
	bins, err := serviceBinaries()
	if err != nil {
		t.Fatal(err)
	}
	p := &svcProc{name: name, cmd: exec.Command(bins[name], args...), log: &syncBuffer{}, exited: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// waitLog waits until the process has logged a line matching re and
// returns the match's groups; it fails the test if the process exits.
func (p *svcProc) waitLog(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(2 * time.Minute)
	for {
		if m := rx.FindStringSubmatch(p.log.String()); m != nil {
			return m
		}
		select {
		case err := <-p.exited:
			t.Fatalf("%s exited (%v) before logging %q:\n%s", p.name, err, re, p.log.String())
		case <-deadline:
			t.Fatalf("%s has not logged %q after 2 minutes:\n%s", p.name, re, p.log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// running fails the test if the process has exited.
func (p *svcProc) running(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.exited:
		t.Fatalf("%s exited: %v\n%s", p.name, err, p.log.String())
	default:
	}
}

// The standalone services follow the projection generations as chronos
// dev does: cmd/projector projects a building generation from sequence 1
// next to the active one, and after `chronos rebuild switch` cmd/query
// answers from the new generation's databases without a restart (shown by
// a document altered in the new generation's database only), while the
// projector stops projecting the retired one. Both start before any
// rebuild, when the generation document does not exist yet.
func TestServicesFollowGenerations(t *testing.T) {
	ctx := context.Background()
	m := testenv.StartMongo(t)
	n, js, l, prog := startLog(t, 2)
	reg, err := projection.OpenGenerations(ctx, js, 0)
	if err != nil {
		t.Fatal(err)
	}

	// The configuration both services run with: the dev default on this
	// NATS server and this MongoDB.
	dir := t.TempDir()
	cfg := tenancy.DevDefault(dir)
	cfg.NATS.URL = tenancy.ConnString(n.URL)
	conn := cfg.DBConnections[tenancy.DevConnRef]
	conn.MongoURI = tenancy.ConnString(m.URI)
	cfg.DBConnections[tenancy.DevConnRef] = conn
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "chronos.config.json")
	if err := os.WriteFile(cfgPath, cfgJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	deps, err := wiring.Open(cfg, wiring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := deps.Router.RouteContext(ctx, orders)
	if err != nil {
		t.Fatal(err)
	}
	heads := func(gen int) int64 {
		t.Helper()
		c, err := m.Client.Database(wiring.GenerationDatabase(rt.DBName, gen)).Collection(orders.Name+"_head").CountDocuments(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	in := ingest.New(l, ingest.Options{Router: deps.Router})
	for i := range 6 {
		if _, err := in.Create(ctx, orders, fmt.Sprintf("s-%d", i), []byte(fmt.Sprintf(`{"i":%d,"v":"one"}`, i)), ingest.Write{}); err != nil {
			t.Fatal(err)
		}
	}
	if g, err := reg.Get(ctx); err != nil || g.Revision != 0 {
		t.Fatalf("generation document before the services start: %+v, %v; want none", g, err)
	}

	proj := startService(t, "projector", "--config", cfgPath, "--metrics", "")
	qry := startService(t, "query", "--config", cfgPath, "--addr", "127.0.0.1:0", "--insecure-no-auth")
	base := "http://" + qry.waitLog(t, `msg=listening .*addr=(\S+)`)[1] + ordersPath + "/items/"
	value := func(id string) string {
		t.Helper()
		r := call(t, "GET", base+id, "")
		if r.Status != 200 {
			return fmt.Sprintf("status %d", r.Status)
		}
		var d struct{ V string }
		if err := json.Unmarshal(userData(t, r.Body), &d); err != nil {
			t.Fatal(err)
		}
		return d.V
	}
	eventually(t, "the query service to answer from generation 1", func() bool { return value("s-5") == "one" })
	if heads(1) != 6 {
		t.Fatalf("generation 1 has %d heads, want 6", heads(1))
	}

	// rebuild start: the standalone projector builds generation 2 from
	// sequence 1 into g2_ databases while generation 1 keeps serving.
	chronosCLI(t, 0, "rebuild", "start", "--no-wait", "--nats", n.URL)
	proj.waitLog(t, `projecting generation.* generation=2 state=building`)
	waitCaughtUp(t, l, reg, prog, 2)
	if got := heads(2); got != 6 {
		t.Fatalf("generation 2 has %d heads after catching up, want 6", got)
	}
	// Mark generation 2's copy of s-0, and only that one: whichever
	// generation the query service reads shows in its answer.
	g2 := m.Client.Database(wiring.GenerationDatabase(rt.DBName, 2)).Collection(orders.Name + "_head")
	if res, err := g2.UpdateOne(ctx, bson.D{{Key: "_id", Value: "s-0"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "v", Value: "from-g2"}}}}); err != nil || res.ModifiedCount != 1 {
		t.Fatalf("mark generation 2's s-0: %+v, %v", res, err)
	}
	if got := value("s-0"); got != "one" {
		t.Fatalf("before the switch the query service answers %q, want generation 1's \"one\"", got)
	}

	// rebuild switch: the running query service answers from generation 2.
	chronosCLI(t, 0, "rebuild", "switch", "--nats", n.URL)
	eventually(t, "the query service to answer from generation 2", func() bool { return value("s-0") == "from-g2" })
	qry.waitLog(t, `now serving generation.* generation=2`)
	qry.running(t)
	if bytes.Contains([]byte(qry.log.String()), []byte("projecting generation")) {
		t.Fatalf("the query service projects:\n%s", qry.log.String())
	}

	// The projector stops projecting generation 1 and goes on with 2.
	proj.waitLog(t, `stopped projecting generation.* generation=1`)
	proj.running(t)
	if _, err := in.Create(ctx, orders, "after-switch", []byte(`{"v":"two"}`), ingest.Write{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a write after the switch to be served", func() bool { return value("after-switch") == "two" })
	if heads(1) != 6 || heads(2) != 7 {
		t.Fatalf("after a write past the switch: generation 1 has %d heads (want 6, retired), generation 2 %d (want 7)", heads(1), heads(2))
	}

	// Drop generation 1: the services, on generation 2, go on answering.
	chronosCLI(t, 0, "rebuild", "drop", "1", "--nats", n.URL, "--mongo", m.URI, "--grace", "1s")
	if heads(1) != 0 {
		t.Fatalf("generation 1 still has %d heads after drop", heads(1))
	}
	if got := value("s-3"); got != "one" {
		t.Fatalf("s-3 after dropping generation 1: %q", got)
	}
	qry.running(t)
	proj.running(t)
}
