package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	clog "github.com/chronos-go/chronos/log"
)

// The generation document lives in a NATS KV bucket, next to the log it
// describes, rather than in MongoDB: it says which databases hold the read
// model, so keeping it inside one of them would be circular; a KV watch
// pushes a switch to every process at once (no polling, no restart); and
// KV revisions make every change a compare-and-set, so two admins cannot
// both start a rebuild.
const (
	// SystemBucket is the KV bucket of Chronos' system documents.
	SystemBucket = "CHRONOS_SYSTEM"
	// GenerationsKey is the key of the generation document in SystemBucket.
	GenerationsKey = "projection.generations"
	// DefaultDurable is the projector consumer of generation 1.
	DefaultDurable = "projector"
)

// Errors of generation changes.
var (
	// ErrRebuildInProgress: a generation is already building.
	ErrRebuildInProgress = errors.New("chronos: a rebuild is already in progress")
	// ErrGenerationState: the generation is not in a state that allows the
	// change (switch to a generation that is not building, drop of the
	// active one, ...).
	ErrGenerationState = errors.New("chronos: generation is not in a state that allows this")
)

// GenState is the life stage of a projection generation.
type GenState string

// Generation states: building (projected from sequence 1, not served),
// active (projected and served; exactly one), retired (neither, kept
// until dropped).
const (
	GenBuilding GenState = "building"
	GenActive   GenState = "active"
	GenRetired  GenState = "retired"
)

// Generation is one projection of the whole log into its own databases,
// by its own durable consumers.
type Generation struct {
	N     int      `json:"n"`
	State GenState `json:"state"`
	// Durable is its consumer name on every partition (and its progress
	// key prefix): DurableOf(N).
	Durable    string     `json:"durable"`
	StartedAt  time.Time  `json:"startedAt"`
	SwitchedAt *time.Time `json:"switchedAt,omitempty"`
	RetiredAt  *time.Time `json:"retiredAt,omitempty"`
}

// Generations is the generation document: every generation not dropped,
// and which one is served.
type Generations struct {
	Active int          `json:"active"`
	List   []Generation `json:"generations"`
	// Revision is the KV revision the document was read at (0: never
	// written, the default of a fresh deployment).
	Revision uint64 `json:"-"`
}

// DurableOf returns the consumer name of generation n: "projector" for
// generation 1 (the projection that existed before any rebuild), else
// "projector_g<n>".
func DurableOf(n int) string {
	if n <= 1 {
		return DefaultDurable
	}
	return DefaultDurable + "_g" + strconv.Itoa(n)
}

// defaultGenerations is the document of a deployment that never rebuilt.
func defaultGenerations() Generations {
	return Generations{Active: 1, List: []Generation{{N: 1, State: GenActive, Durable: DurableOf(1)}}}
}

// Get returns generation n.
func (g Generations) Get(n int) (Generation, bool) {
	i := slices.IndexFunc(g.List, func(x Generation) bool { return x.N == n })
	if i < 0 {
		return Generation{}, false
	}
	return g.List[i], true
}

// Building returns the generation being built, if any.
func (g Generations) Building() (Generation, bool) {
	i := slices.IndexFunc(g.List, func(x Generation) bool { return x.State == GenBuilding })
	if i < 0 {
		return Generation{}, false
	}
	return g.List[i], true
}

// Projected returns the generations a projector runs: active and building.
func (g Generations) Projected() []Generation {
	var out []Generation
	for _, x := range g.List {
		if x.State == GenActive || x.State == GenBuilding {
			out = append(out, x)
		}
	}
	return out
}

// GenerationRegistry reads, changes and watches the generation document.
type GenerationRegistry struct {
	kv jetstream.KeyValue
}

// OpenGenerations binds to SystemBucket, creating it with replicas
// replicas (0: as many as the log's partition streams) if it does not
// exist; see log.EnsureKV.
func OpenGenerations(ctx context.Context, js jetstream.JetStream, replicas int) (*GenerationRegistry, error) {
	kv, err := clog.EnsureKV(ctx, js, jetstream.KeyValueConfig{
		Bucket:      SystemBucket,
		Description: "Chronos system documents (projection generations)",
		History:     8,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, err
	}
	return &GenerationRegistry{kv: kv}, nil
}

// Get returns the document; a deployment that never rebuilt has
// generation 1 active.
func (r *GenerationRegistry) Get(ctx context.Context) (Generations, error) {
	e, err := r.kv.Get(ctx, GenerationsKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return defaultGenerations(), nil
	}
	if err != nil {
		return Generations{}, fmt.Errorf("chronos: read generations: %w", err)
	}
	return decodeGenerations(e)
}

func decodeGenerations(e jetstream.KeyValueEntry) (Generations, error) {
	var g Generations
	if err := json.Unmarshal(e.Value(), &g); err != nil {
		return Generations{}, fmt.Errorf("chronos: generation document: %w", err)
	}
	g.Revision = e.Revision()
	return g, nil
}

// update applies change to the current document with a compare-and-set,
// retrying when another writer got there first.
func (r *GenerationRegistry) update(ctx context.Context, change func(*Generations) error) (Generations, error) {
	for {
		g, err := r.Get(ctx)
		if err != nil {
			return Generations{}, err
		}
		if err := change(&g); err != nil {
			return Generations{}, err
		}
		body, err := json.Marshal(g)
		if err != nil {
			return Generations{}, err
		}
		var rev uint64
		if g.Revision == 0 {
			rev, err = r.kv.Create(ctx, GenerationsKey, body)
		} else {
			rev, err = r.kv.Update(ctx, GenerationsKey, body, g.Revision)
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue // lost the race: read again
		}
		if err != nil {
			return Generations{}, fmt.Errorf("chronos: write generations: %w", err)
		}
		g.Revision = rev
		return g, nil
	}
}

// Start adds a new generation in state building, numbered after every
// generation so far. Only one generation builds at a time.
func (r *GenerationRegistry) Start(ctx context.Context, now time.Time) (Generation, error) {
	var out Generation
	_, err := r.update(ctx, func(g *Generations) error {
		if b, ok := g.Building(); ok {
			return fmt.Errorf("%w: generation %d", ErrRebuildInProgress, b.N)
		}
		n := 0
		for _, x := range g.List {
			n = max(n, x.N)
		}
		n = max(n, g.Active) + 1
		out = Generation{N: n, State: GenBuilding, Durable: DurableOf(n), StartedAt: now.UTC()}
		g.List = append(g.List, out)
		return nil
	})
	return out, err
}

// Switch makes building generation n the active one and retires the
// previous active generation.
func (r *GenerationRegistry) Switch(ctx context.Context, n int, now time.Time) (Generations, error) {
	return r.update(ctx, func(g *Generations) error {
		i := slices.IndexFunc(g.List, func(x Generation) bool { return x.N == n })
		if i < 0 || g.List[i].State != GenBuilding {
			return fmt.Errorf("%w: generation %d is not building", ErrGenerationState, n)
		}
		t := now.UTC()
		for j := range g.List {
			if g.List[j].State == GenActive {
				g.List[j].State, g.List[j].RetiredAt = GenRetired, &t
			}
		}
		g.List[i].State, g.List[i].SwitchedAt = GenActive, &t
		g.Active = n
		return nil
	})
}

// Remove takes generation n out of the document: it must be retired, or
// building (an abandoned rebuild). Its databases and consumers are the
// caller's to delete (after, so a crash leaves nothing served that is
// half-deleted).
func (r *GenerationRegistry) Remove(ctx context.Context, n int) (Generations, error) {
	return r.update(ctx, func(g *Generations) error {
		i := slices.IndexFunc(g.List, func(x Generation) bool { return x.N == n })
		if i < 0 {
			return fmt.Errorf("%w: no generation %d", ErrGenerationState, n)
		}
		if g.List[i].State == GenActive {
			return fmt.Errorf("%w: generation %d is active; switch to another first", ErrGenerationState, n)
		}
		g.List = slices.Delete(g.List, i, i+1)
		return nil
	})
}

// Watch calls f with the document now and after every change, until ctx
// ends or f returns an error. It returns f's error, or nil when ctx ends.
func (r *GenerationRegistry) Watch(ctx context.Context, f func(Generations) error) error {
	w, err := r.kv.Watch(ctx, GenerationsKey)
	if err != nil {
		return fmt.Errorf("chronos: watch generations: %w", err)
	}
	defer func() { _ = w.Stop() }()
	sent := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			var g Generations
			switch {
			case e == nil: // end of the initial values
				if sent {
					continue
				}
				g = defaultGenerations()
			case e.Operation() != jetstream.KeyValuePut:
				g = defaultGenerations()
			default:
				if g, err = decodeGenerations(e); err != nil {
					return err
				}
			}
			sent = true
			if err := f(g); err != nil {
				return err
			}
		}
	}
}

// GenerationPosition sums, over the log's partitions, the sequence the
// generation's projector has applied (its progress) and the log's last
// sequence: applied == end means caught up.
func GenerationPosition(ctx context.Context, l *clog.Log, prog *clog.Progress, gen Generation) (applied, end uint64, err error) {
	for part := range l.Partitions() {
		pos, err := prog.Get(ctx, gen.Durable, part)
		if err != nil {
			return 0, 0, err
		}
		s, err := l.JetStream().Stream(ctx, clog.StreamName(part))
		if err != nil {
			return 0, 0, fmt.Errorf("chronos: stream %s: %w", clog.StreamName(part), err)
		}
		last := s.CachedInfo().State.LastSeq
		applied += min(pos, last)
		end += last
	}
	return applied, end, nil
}

// DropGenerationConsumers deletes generation gen's durable consumer on
// every partition, and its progress keys (generation 1's, "projector",
// are kept: the active generation publishes under them).
func DropGenerationConsumers(ctx context.Context, l *clog.Log, gen Generation) error {
	js := l.JetStream()
	for part := range l.Partitions() {
		err := js.DeleteConsumer(ctx, clog.StreamName(part), gen.Durable)
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("chronos: delete consumer %s on %s: %w", gen.Durable, clog.StreamName(part), err)
		}
	}
	if gen.Durable == DefaultDurable {
		return nil
	}
	kv, err := js.KeyValue(ctx, clog.ProgressBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("chronos: progress bucket: %w", err)
	}
	for part := range l.Partitions() {
		// The key format is log.Progress's: "<consumer>.p<k>".
		if err := kv.Purge(ctx, gen.Durable+".p"+strconv.Itoa(part)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("chronos: delete progress of %s: %w", gen.Durable, err)
		}
	}
	return nil
}
