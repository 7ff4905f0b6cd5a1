package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// partitions is the partition count of the suite's log.
const partitions = 8

// indexedProps are the props ingest extracts into Event.Meta in the suite.
var indexedProps = []string{"status", "n"}

// start is the time of the suite's first event. It has a sub-millisecond
// part: stores keep event times exactly.
var start = time.Date(2025, 3, 1, 9, 0, 0, 400_500, time.UTC)

// defaultGap separates consecutive events unless a case sets ingest.gap.
const defaultGap = time.Second + 1500*time.Nanosecond

// Actors of the suite.
var (
	alice = &events.Actor{Type: "user", Identifier: "u-1", Name: "Alice"}
	bob   = &events.Actor{Type: "user", Identifier: "u-2", Name: "Bob"}
	bot   = &events.Actor{Type: "agent", Identifier: "enricher", Name: "Enricher",
		Metadata: json.RawMessage(`{"model":"v2","tags":["fast","cheap"]}`)}
)

// ingest plays the ingest service: it writes valid v1 events (every one
// goes through events.Encode and events.Decode, as the projector receives
// them), carries forward what ingest carries forward (insertedAt, creator,
// lineage, functionIds), materialises delete and restore, and numbers each
// event with its partition's stream sequence.
type ingest struct {
	t     testing.TB
	clock time.Time
	// gap is the time between consecutive events.
	gap   time.Duration
	seq   map[int]uint64
	items map[events.ItemRef][]*events.Event // every event of an item, by ov
	logs  map[int][]projection.Change
}

// write carries what a caller of ingest chooses about one write.
type write struct {
	actor   *events.Actor
	reason  string
	lineage *events.Lineage
	// claim makes ingest upload the payload and send a PayloadRef instead.
	claim bool
}

func newIngest(t testing.TB) *ingest {
	return &ingest{
		t: t, clock: start, gap: defaultGap,
		seq:   make(map[int]uint64),
		items: make(map[events.ItemRef][]*events.Event),
		logs:  make(map[int][]projection.Change),
	}
}

// log returns the changes of partition part, in stream order.
func (in *ingest) log(part int) []projection.Change { return slices.Clone(in.logs[part]) }

// parts returns the partitions written to, in increasing order.
func (in *ingest) parts() []int {
	var ps []int
	for p := range in.logs {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// last returns the item's latest event.
func (in *ingest) last(ref events.ItemRef) *events.Event {
	evs := in.items[ref]
	if len(evs) == 0 {
		in.t.Fatalf("storetest: %s has no event yet", ref)
	}
	return evs[len(evs)-1]
}

func (in *ingest) create(ref events.ItemRef, payload string, w write) projection.Change {
	if len(in.items[ref]) > 0 {
		in.t.Fatalf("storetest: %s exists", ref)
	}
	e := &events.Event{Op: events.OpCreate, Actor: w.actor, Reason: w.reason, Lineage: w.lineage, Creator: w.actor}
	setPayload(e, ref, payload, w.claim)
	return in.append(ref, e)
}

func (in *ingest) update(ref events.ItemRef, payload string, w write) projection.Change {
	e := in.next(ref, events.OpUpdate, w)
	setPayload(e, ref, payload, w.claim)
	return in.append(ref, e)
}

// enrich writes payload, the deep merge ingest materialised, and records
// functionID.
func (in *ingest) enrich(ref events.ItemRef, payload, functionID string, w write) projection.Change {
	e := in.next(ref, events.OpEnrich, w)
	e.FunctionID = functionID
	if !slices.Contains(e.FunctionIDs, functionID) {
		e.FunctionIDs = append(slices.Clone(e.FunctionIDs), functionID)
	}
	setPayload(e, ref, payload, w.claim)
	return in.append(ref, e)
}

// delete carries the last payload, as ingest does.
func (in *ingest) delete(ref events.ItemRef, w write) projection.Change {
	last := in.last(ref)
	e := in.next(ref, events.OpDelete, w)
	e.Payload, e.PayloadRef, e.Meta = last.Payload, last.PayloadRef, last.Meta
	return in.append(ref, e)
}

// restore writes version from's payload as a new version.
func (in *ingest) restore(ref events.ItemRef, from uint64, w write) projection.Change {
	old := in.items[ref][from]
	e := in.next(ref, events.OpRestore, w)
	e.Payload, e.PayloadRef, e.Meta = old.Payload, old.PayloadRef, old.Meta
	e.RestoredFrom = &from
	return in.append(ref, e)
}

// erase removes the item's content: the event carries no payload.
func (in *ingest) erase(ref events.ItemRef, w write) projection.Change {
	return in.append(ref, in.next(ref, events.OpErase, w))
}

// next starts the event after the item's last one.
func (in *ingest) next(ref events.ItemRef, op events.Op, w write) *events.Event {
	last := in.last(ref)
	lineage := last.Lineage
	if w.lineage != nil {
		lineage = w.lineage
	}
	return &events.Event{
		Op: op, OV: last.OV + 1, Actor: w.actor, Reason: w.reason, Lineage: lineage,
		InsertedAt: last.InsertedAt, Creator: last.Creator, FunctionIDs: last.FunctionIDs,
	}
}

// setPayload sets the payload, or its claim check, and the indexed props
// extracted from it.
func setPayload(e *events.Event, ref events.ItemRef, payload string, claim bool) {
	e.Payload = json.RawMessage(payload)
	var root map[string]json.RawMessage
	if err := json.Unmarshal(e.Payload, &root); err == nil {
		for _, k := range indexedProps {
			if v, ok := root[k]; ok {
				if e.Meta == nil {
					e.Meta = make(map[string]json.RawMessage)
				}
				e.Meta[k] = v
			}
		}
	}
	if claim {
		sum := sha256.Sum256(e.Payload)
		e.PayloadRef = &events.BlobRef{
			Key:   ref.Name + "/" + ref.ID + "/v" + strconv.FormatUint(e.OV, 10) + "/item.json",
			Codec: "none", Size: int64(len(e.Payload)), SHA256: hex.EncodeToString(sum[:]),
		}
		e.Payload = nil
	}
}

// append stamps e, sends it through the codec and logs it.
func (in *ingest) append(ref events.ItemRef, e *events.Event) projection.Change {
	in.t.Helper()
	in.clock = in.clock.Add(in.gap)
	e.V, e.At = events.Version, in.clock
	if e.Op == events.OpCreate {
		e.InsertedAt = e.At
	}
	if err := ref.Validate(); err != nil {
		in.t.Fatalf("storetest: %v", err)
	}
	body, err := events.Encode(e)
	if err != nil {
		in.t.Fatalf("storetest: encode %s ov %d: %v", ref, e.OV, err)
	}
	dec, err := events.Decode(body, events.Limits{})
	if err != nil {
		in.t.Fatalf("storetest: the suite built an invalid event for %s ov %d: %v", ref, e.OV, err)
	}
	part := events.Partition(ref.Collection, partitions)
	in.seq[part]++
	ch := projection.Change{Ref: ref, Part: part, Seq: in.seq[part], Event: dec}
	in.items[ref] = append(in.items[ref], dec)
	in.logs[part] = append(in.logs[part], ch)
	return ch
}

// inPartition returns a collection like c, in partition part: c itself or
// c with a digit suffix on its name.
func inPartition(t testing.TB, c events.Collection, part int) events.Collection {
	name := c.Name
	for i := 0; i < 1000; i++ {
		if events.Partition(c, partitions) == part {
			return c
		}
		c.Name = name + strconv.Itoa(i)
	}
	t.Fatalf("storetest: no collection like %s in partition %d", c, part)
	return c
}

// notInPartition returns a collection like c outside partition part.
func notInPartition(t testing.TB, c events.Collection, part int) events.Collection {
	name := c.Name
	for i := 0; i < 1000; i++ {
		if events.Partition(c, partitions) != part {
			return c
		}
		c.Name = name + strconv.Itoa(i)
	}
	t.Fatalf("storetest: no collection like %s outside partition %d", c, part)
	return c
}
