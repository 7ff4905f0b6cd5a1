package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// expect returns what a store must return for the version ch writes: as
// a head (with Data when inline) or as a version (Data nil). limit is the
// store's inline limit, or -1 when the store does not say (then every
// payload of the suite is expected inline).
func expect(ch projection.Change, head bool, limit int) projection.Doc {
	e := ch.Event
	sys := projection.System{
		OV: e.OV, CV: ch.Seq, Seq: ch.Seq,
		InsertedAt: e.InsertedAt, UpdatedAt: e.At,
		Deleted:     e.Deleted(),
		FunctionIDs: e.FunctionIDs,
		Creator:     e.Creator, Updater: e.Actor,
		Op: e.Op, Reason: e.Reason,
		RestoredFrom: e.RestoredFrom,
		PayloadRef:   e.PayloadRef,
	}
	if sys.Deleted {
		at := e.At
		sys.DeletedAt = &at
	}
	if l := e.Lineage; l != nil {
		sys.ParentID, sys.ParentColl = l.ParentID, l.ParentCollection
		sys.OriginID, sys.OriginColl = l.OriginID, l.OriginCollection
	}
	switch {
	case e.PayloadRef != nil:
		sys.Size, sys.SHA256 = e.PayloadRef.Size, e.PayloadRef.SHA256
	case len(e.Payload) > 0:
		sum := sha256.Sum256(e.Payload)
		sys.Size, sys.SHA256 = int64(len(e.Payload)), hex.EncodeToString(sum[:])
	}
	d := projection.Doc{ID: ch.Ref.ID, Meta: e.Meta, System: sys}
	if head && e.PayloadRef == nil && len(e.Payload) > 0 && (limit < 0 || len(e.Payload) <= limit) {
		d.Data = e.Payload
	}
	return d
}

// diffDoc lists how got differs from want.
func diffDoc(got *projection.Doc, want projection.Doc) []string {
	var d []string
	if got == nil {
		return []string{"nil document"}
	}
	if got.ID != want.ID {
		d = append(d, fmt.Sprintf("ID = %q, want %q", got.ID, want.ID))
	}
	switch {
	case (got.Data == nil) != (want.Data == nil) || !jsonEqual(got.Data, want.Data):
		d = append(d, fmt.Sprintf("Data = %s, want %s", orNil(got.Data), orNil(want.Data)))
	case want.Data != nil && !slices.Equal(topKeys(got.Data), topKeys(want.Data)):
		d = append(d, fmt.Sprintf("Data keys in order %q, want %q (the payload's order)", topKeys(got.Data), topKeys(want.Data)))
	}
	if !metaEqual(got.Meta, want.Meta) {
		d = append(d, fmt.Sprintf("Meta = %s, want %s", showMeta(got.Meta), showMeta(want.Meta)))
	}
	return append(d, diffSystem(got.System, want.System)...)
}

func diffSystem(g, w projection.System) []string {
	var d []string
	add := func(field string, got, want any) {
		d = append(d, fmt.Sprintf("System.%s = %v, want %v", field, got, want))
	}
	if g.OV != w.OV {
		add("OV", g.OV, w.OV)
	}
	if g.CV != w.CV {
		add("CV", g.CV, w.CV)
	}
	if g.Seq != w.Seq {
		add("Seq", g.Seq, w.Seq)
	}
	if !g.InsertedAt.Equal(w.InsertedAt) {
		add("InsertedAt", g.InsertedAt, w.InsertedAt)
	}
	if !g.UpdatedAt.Equal(w.UpdatedAt) {
		add("UpdatedAt", g.UpdatedAt, w.UpdatedAt)
	}
	if (g.DeletedAt == nil) != (w.DeletedAt == nil) || g.DeletedAt != nil && !g.DeletedAt.Equal(*w.DeletedAt) {
		add("DeletedAt", g.DeletedAt, w.DeletedAt)
	}
	if g.Deleted != w.Deleted {
		add("Deleted", g.Deleted, w.Deleted)
	}
	if !slices.Equal(g.FunctionIDs, w.FunctionIDs) {
		add("FunctionIDs", g.FunctionIDs, w.FunctionIDs)
	}
	if g.ParentID != w.ParentID || g.ParentColl != w.ParentColl || g.OriginID != w.OriginID || g.OriginColl != w.OriginColl {
		add("lineage", []string{g.ParentID, g.ParentColl, g.OriginID, g.OriginColl},
			[]string{w.ParentID, w.ParentColl, w.OriginID, w.OriginColl})
	}
	if !actorEqual(g.Creator, w.Creator) {
		add("Creator", showActor(g.Creator), showActor(w.Creator))
	}
	if !actorEqual(g.Updater, w.Updater) {
		add("Updater", showActor(g.Updater), showActor(w.Updater))
	}
	if g.Op != w.Op {
		add("Op", g.Op, w.Op)
	}
	if g.Reason != w.Reason {
		add("Reason", g.Reason, w.Reason)
	}
	if (g.RestoredFrom == nil) != (w.RestoredFrom == nil) || g.RestoredFrom != nil && *g.RestoredFrom != *w.RestoredFrom {
		add("RestoredFrom", deref(g.RestoredFrom), deref(w.RestoredFrom))
	}
	if (g.PayloadRef == nil) != (w.PayloadRef == nil) || g.PayloadRef != nil && *g.PayloadRef != *w.PayloadRef {
		add("PayloadRef", g.PayloadRef, w.PayloadRef)
	}
	if g.Size != w.Size {
		add("Size", g.Size, w.Size)
	}
	if g.SHA256 != w.SHA256 {
		add("SHA256", g.SHA256, w.SHA256)
	}
	return d
}

// checkDoc reports, as test errors, how a read differs from want.
func checkDoc(t testing.TB, what string, got *projection.Doc, err error, want projection.Doc) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	for _, line := range diffDoc(got, want) {
		t.Errorf("%s: %s", what, line)
	}
}

// checkNotFound reports a test error unless err matches
// projection.ErrNotFound.
func checkNotFound(t testing.TB, what string, got *projection.Doc, err error) {
	t.Helper()
	switch {
	case err == nil && got != nil:
		t.Errorf("%s: got ov %d of %s, want an error matching projection.ErrNotFound", what, got.System.OV, got.ID)
	case !errors.Is(err, projection.ErrNotFound):
		t.Errorf("%s: got error %v, want one matching projection.ErrNotFound", what, err)
	}
}

// checkCounters compares a collection's counters with want.
func checkCounters(ctx context.Context, t testing.TB, s projection.Store, c events.Collection, want projection.Counters) {
	t.Helper()
	got, err := s.Counters(ctx, c)
	if err != nil {
		t.Errorf("Counters(%s): %v", c, err)
		return
	}
	if got.Created != want.Created || got.Updated != want.Updated || got.Deleted != want.Deleted ||
		got.LastSeq != want.LastSeq || !got.LastAt.Equal(want.LastAt) {
		t.Errorf("Counters(%s) = %+v, want %+v", c, *got, want)
	}
}

// countersOf computes a collection's counters from a log.
func countersOf(log []projection.Change, c events.Collection) projection.Counters {
	var n projection.Counters
	for _, ch := range log {
		if ch.Ref.Collection != c || ch.Seq <= n.LastSeq {
			continue
		}
		switch op := ch.Event.Op; {
		case op == events.OpCreate:
			n.Created++
		case op.Deletes():
			n.Deleted++
		default:
			n.Updated++
		}
		n.LastSeq, n.LastAt = ch.Seq, ch.Event.At
	}
	return n
}

// jsonEqual compares two JSON texts by meaning: object keys in any order,
// whitespace ignored. Numbers compare exactly when both are integers (a
// store keeps integers exact, at least within int64) and as float64
// otherwise (a store may hold them as doubles).
func jsonEqual(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	va, errA := decodeJSON(a)
	vb, errB := decodeJSON(b)
	return errA == nil && errB == nil && valueEqual(va, vb)
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func valueEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !valueEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, valueEqual)
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numberEqual(x, y)
	default:
		return a == b
	}
}

func numberEqual(a, b json.Number) bool {
	ra, okA := new(big.Rat).SetString(string(a))
	rb, okB := new(big.Rat).SetString(string(b))
	if okA && okB && ra.Cmp(rb) == 0 {
		return true
	}
	if isInteger(a) && isInteger(b) {
		return false
	}
	fa, errA := a.Float64()
	fb, errB := b.Float64()
	return errA == nil && errB == nil && fa == fb
}

func isInteger(n json.Number) bool { return !strings.ContainsAny(string(n), ".eE") }

// topKeys returns the keys of a JSON object in their order.
func topKeys(b []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys
		}
	}
	return keys
}

func metaEqual(a, b map[string]json.RawMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !jsonEqual(v, w) {
			return false
		}
	}
	return true
}

func actorEqual(a, b *events.Actor) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Type == b.Type && a.Identifier == b.Identifier && a.Name == b.Name && jsonEqual(a.Metadata, b.Metadata)
}

func showActor(a *events.Actor) string {
	if a == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s:%s (%s) %s", a.Type, a.Identifier, a.Name, a.Metadata)
}

func showMeta(m map[string]json.RawMessage) string {
	if m == nil {
		return "<nil>"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func orNil(b []byte) string {
	if b == nil {
		return "<nil>"
	}
	return string(b)
}

func deref(p *uint64) any {
	if p == nil {
		return "<nil>"
	}
	return *p
}
