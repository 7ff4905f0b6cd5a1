package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/testenv"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/projection/mongostore"
	"github.com/chronos-go/chronos/tenancy"
)

// faultRules are the counter rules of the fault tests: one distinct count
// over every event, one rule with $in.
var faultRules = tenancy.CounterRules{Rules: []tenancy.CounterRule{
	{Name: "users", Scope: "payload", When: map[string]json.RawMessage{"n": json.RawMessage(`{"$gte":0}`)}, CountUnique: []string{"user"}},
	{Name: "vip", On: []string{"UPDATE"}, Scope: "payload", When: map[string]json.RawMessage{"tier": json.RawMessage(`{"$in":["gold","platinum"]}`)}, CountUnique: []string{"user"}},
}}

var faultColl = events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "faults"}

// openFaultStore opens the read model the fault tests' projectors write.
func openFaultStore(ctx context.Context, t testing.TB, uri, prefix string) *mongostore.Store {
	t.Helper()
	st, err := dialFaultStore(ctx, uri, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func dialFaultStore(ctx context.Context, uri, prefix string) (*mongostore.Store, error) {
	rules, err := projection.CompileRules(faultRules)
	if err != nil {
		return nil, err
	}
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri).SetServerSelectionTimeout(5*time.Second).SetTimeout(20*time.Second))
	if err != nil {
		return nil, err
	}
	return mongostore.New(ctx, client, mongostore.Options{DatabasePrefix: prefix, CounterRules: rules, Owner: true})
}

// faultLoad writes creates and updates of faultColl and remembers what it
// wrote, so the projection can be checked against a brute-force count.
type faultLoad struct {
	svc *ingest.Service
	mu  sync.Mutex
	ovs map[string]uint64 // last acknowledged ov per item
	// users and vips are the distinct users of the two rules; created and
	// updated count the events.
	users, vips      map[string]bool
	vipCount         int64
	created, updated int64
}

func newFaultLoad(l *clog.Log) *faultLoad {
	return &faultLoad{svc: ingest.New(l, ingest.Options{}), ovs: map[string]uint64{}, users: map[string]bool{}, vips: map[string]bool{}}
}

// write makes n writes: a new item one time in four, else an update of a
// random item.
func (f *faultLoad) write(ctx context.Context, t testing.TB, rng *rand.Rand, n int) {
	tiers := []string{"gold", "silver", "platinum"}
	for range n {
		user := fmt.Sprintf("u%d", rng.IntN(25))
		tier := tiers[rng.IntN(len(tiers))]
		doc := []byte(fmt.Sprintf(`{"user":%q,"tier":%q,"n":%d}`, user, tier, rng.IntN(100)))
		f.mu.Lock()
		var id string
		create := len(f.ovs) == 0 || rng.IntN(4) == 0
		if create {
			id = fmt.Sprintf("f-%03d", len(f.ovs))
		} else {
			id = fmt.Sprintf("f-%03d", rng.IntN(len(f.ovs)))
		}
		f.mu.Unlock()
		var err error
		if create {
			_, err = f.svc.Create(ctx, faultColl, id, doc, ingest.Write{})
		} else {
			_, err = f.svc.Update(ctx, faultColl.Item(id), doc, ingest.Write{})
		}
		if err != nil {
			t.Errorf("write %s: %v", id, err)
			return
		}
		f.mu.Lock()
		if create {
			f.ovs[id] = 0
			f.created++
		} else {
			f.ovs[id]++
			f.updated++
			if tier == "gold" || tier == "platinum" {
				f.vips[user] = true
				f.vipCount++
			}
		}
		f.users[user] = true
		f.mu.Unlock()
	}
}

// waitProjected waits until durable has applied the whole log.
func waitProjected(t testing.TB, l *clog.Log, prog *clog.Progress, durable string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		behind := false
		for part := range l.Partitions() {
			last, err := l.LastSeq(context.Background(), part)
			if err != nil {
				t.Fatal(err)
			}
			pos, err := prog.Get(context.Background(), durable, part)
			if err != nil {
				t.Fatal(err)
			}
			behind = behind || pos < last
		}
		if !behind {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has not applied the log after %v", durable, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// check compares the projection with what the load wrote: every version
// once, heads at the last ov, counters and distinct counts exact.
func (f *faultLoad) check(ctx context.Context, t *testing.T, st projection.Store) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, ov := range f.ovs {
		ref := faultColl.Item(id)
		hist, err := st.History(ctx, ref, projection.HistoryQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(hist)) != ov+1 {
			t.Errorf("%s: %d versions, want %d", id, len(hist), ov+1)
		}
		for i, v := range hist {
			if v.System.OV != uint64(i) {
				t.Errorf("%s: version %d has ov %d", id, i, v.System.OV)
				break
			}
		}
		head, err := st.Head(ctx, ref)
		if err != nil || head.System.OV != ov {
			t.Errorf("%s: head %v, %v; want ov %d", id, head, err, ov)
		}
	}
	cnt, err := st.Counters(ctx, faultColl)
	if err != nil {
		t.Fatal(err)
	}
	if cnt.Created != f.created || cnt.Updated != f.updated || cnt.Deleted != 0 {
		t.Errorf("counters %+v, want created %d updated %d", cnt, f.created, f.updated)
	}
	users, vip := cnt.Rules["users"], cnt.Rules["vip"]
	if users.Count != f.created+f.updated || users.Unique["user"] != int64(len(f.users)) {
		t.Errorf("rule users %+v, want count %d, %d distinct users", users, f.created+f.updated, len(f.users))
	}
	if vip.Count != f.vipCount || vip.Updated != f.vipCount || vip.Unique["user"] != int64(len(f.vips)) {
		t.Errorf("rule vip %+v, want count %d, %d distinct users", vip, f.vipCount, len(f.vips))
	}
}

// projectorHelperEnv names the NATS server of a projector child process;
// TestMain runs runProjectorHelper instead of the tests when it is set.
const projectorHelperEnv = "CHRONOS_HELPER_NATS"

// runProjectorHelper is the projector process of TestProjectorKill9MidBatch:
// it projects until it is killed.
func runProjectorHelper() error {
	ctx := context.Background()
	nc, err := nats.Connect(os.Getenv(projectorHelperEnv))
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	l, err := clog.Open(ctx, js, events.Limits{})
	if err != nil {
		return err
	}
	st, err := dialFaultStore(ctx, os.Getenv("CHRONOS_HELPER_MONGO"), os.Getenv("CHRONOS_HELPER_PREFIX"))
	if err != nil {
		return err
	}
	p := projection.NewProjector(l, st, projection.ProjectorOptions{BatchSize: 16})
	fmt.Println("projector running")
	return p.Run(ctx) // until killed
}

// startProjectorProcess runs the projector in a child process (this test
// binary, dispatched by TestMain to runProjectorHelper).
func startProjectorProcess(t *testing.T, natsURL, mongoURI, prefix string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), projectorHelperEnv+"="+natsURL, "CHRONOS_HELPER_MONGO="+mongoURI, "CHRONOS_HELPER_PREFIX="+prefix)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("projector process output:\n%s", out.String())
		}
	})
	return cmd
}

// kill -9 of the projector process mid-batch under load, twice, then a
// restart: no duplicate versions, counters and distinct counts exact.
func TestProjectorKill9MidBatch(t *testing.T) {
	ctx := context.Background()
	m := testenv.StartMongo(t)
	n, _, l, prog := startLog(t, 2)
	prefix := strings.TrimSuffix(m.Prefix, "_")
	load := newFaultLoad(l)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	part := l.Partition(faultColl)

	load.write(ctx, t, rng, 40)
	for round := range 2 {
		proc := startProjectorProcess(t, n.URL, m.URI, prefix)
		done := make(chan struct{})
		go func() { // load goes on while the projector works and dies
			defer close(done)
			load.write(ctx, t, rand.New(rand.NewPCG(seed, uint64(round))), 40)
		}()
		// Kill once it has applied something, while it is applying more.
		from, _ := prog.Get(ctx, "projector", part)
		deadline := time.Now().Add(time.Minute)
		for {
			pos, _ := prog.Get(ctx, "projector", part)
			if pos > from {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the projector process applied nothing in a minute")
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = proc.Wait()
		pos, _ := prog.Get(ctx, "projector", part)
		last, _ := l.LastSeq(ctx, part)
		t.Logf("round %d: killed at position %d of %d", round, pos, last)
		<-done
	}
	startProjectorProcess(t, n.URL, m.URI, prefix)
	waitProjected(t, l, prog, "projector", 3*time.Minute)

	st := openFaultStore(ctx, t, m.URI, prefix)
	defer st.Close(ctx)
	load.check(ctx, t, st)
}
