package ingest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
)

// Request headers of a write.
const (
	HeaderActor          = "Chronos-Actor"
	HeaderReason         = "Chronos-Reason"
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderFunctionID     = "Chronos-Function-Id"
	HeaderParent         = "Chronos-Parent"
	HeaderOrigin         = "Chronos-Origin"
)

// recordRef is a reference to a record in a header: "<collection>/<id>"
// or {"collection": ..., "id": ...}; an origin may name its external
// system: "<system>:<collection>/<id>" or {"system": ...}.
type recordRef struct {
	ID         string `json:"id"`
	Collection string `json:"collection"`
	System     string `json:"system,omitempty"`
}

func parseRecordRef(header, v string, allowSystem bool) (recordRef, error) {
	var r recordRef
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "{") {
		dec := json.NewDecoder(strings.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return r, httpapi.Invalid(header, "is not a valid record reference object: "+err.Error())
		}
	} else {
		if allowSystem {
			if sys, rest, ok := strings.Cut(v, ":"); ok {
				r.System, v = sys, rest
			}
		}
		coll, id, ok := strings.Cut(v, "/")
		if !ok {
			form := `"<collection>/<id>"`
			if allowSystem {
				form = `"[<system>:]<collection>/<id>"`
			}
			return r, httpapi.Invalid(header, "must be "+form+" or a JSON object")
		}
		r.Collection, r.ID = coll, id
	}
	if r.System != "" && !allowSystem {
		return r, httpapi.Invalid(header, "a parent has no external system")
	}
	if len(r.ID) == 0 || len(r.ID) > 256 || len(r.Collection) == 0 || len(r.Collection) > 256 || len(r.System) > 64 {
		return r, httpapi.Invalid(header, "needs an id and a collection of at most 256 characters (system at most 64)")
	}
	return r, nil
}

var actorRe = regexp.MustCompile(`^([A-Za-z0-9_-]{1,64})(?::([^\s()]{1,256}))?(?: \(([^()]{1,256})\))?$`)

// ParseActor parses the seed's identity string "type:identifier (Name)"
// (identifier and name optional), or a JSON object
// {"type","identifier","name","metadata"}.
func ParseActor(s string) (*events.Actor, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") {
		var a events.Actor
		dec := json.NewDecoder(strings.NewReader(s))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&a); err != nil {
			return nil, httpapi.Invalid(HeaderActor, "is not a valid actor object: "+err.Error())
		}
		if err := events.ValidateToken(HeaderActor+".type", a.Type); err != nil {
			return nil, err
		}
		return &a, nil
	}
	m := actorRe.FindStringSubmatch(s)
	if m == nil {
		return nil, httpapi.Invalid(HeaderActor, `must be "type:identifier (Name)" (e.g. "user:u-123 (John Doe)") or a JSON object`)
	}
	return &events.Actor{Type: m[1], Identifier: m[2], Name: m[3]}, nil
}

// writeFromRequest reads the write metadata headers and the expected ov.
func writeFromRequest(r *http.Request) (Write, error) {
	var w Write
	if v := r.Header.Get(HeaderActor); v != "" {
		a, err := ParseActor(v)
		if err != nil {
			return w, err
		}
		w.Actor = a
	}
	if v := r.Header.Get(HeaderReason); v != "" {
		if len(v) > 1024 {
			return w, httpapi.Invalid(HeaderReason, "is longer than 1024 bytes")
		}
		w.Reason = v
	}
	if v := r.Header.Get(HeaderIdempotencyKey); v != "" {
		if len(v) > 256 || strings.ContainsFunc(v, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			return w, httpapi.Invalid(HeaderIdempotencyKey, "must be 1-256 printable ASCII characters without spaces")
		}
		w.IdempotencyKey = v
	}
	var parent, origin *recordRef
	if v := r.Header.Get(HeaderParent); v != "" {
		p, err := parseRecordRef(HeaderParent, v, false)
		if err != nil {
			return w, err
		}
		parent = &p
	}
	if v := r.Header.Get(HeaderOrigin); v != "" {
		o, err := parseRecordRef(HeaderOrigin, v, true)
		if err != nil {
			return w, err
		}
		origin = &o
	}
	w.Lineage = lineageOf(parent, origin)
	ov, err := expectedOV(r)
	if err != nil {
		return w, err
	}
	w.ExpectedOV = ov
	return w, nil
}

// expectedOV reads If-Match: "<ov>" and ?expectedOv=<ov>; both must agree.
func expectedOV(r *http.Request) (*uint64, error) {
	var fromHeader, fromQuery *uint64
	if v := r.Header.Get("If-Match"); v != "" {
		t := strings.TrimSpace(v)
		if strings.HasPrefix(t, "W/") {
			return nil, httpapi.Invalid("If-Match", `weak tags are not versions; send If-Match: "<ov>"`)
		}
		t = strings.Trim(t, `"`)
		n, err := strconv.ParseUint(t, 10, 64)
		if err != nil {
			return nil, httpapi.Invalid("If-Match", `must be an object version, e.g. If-Match: "3", got `+strconv.Quote(v))
		}
		fromHeader = &n
	}
	if v := r.URL.Query().Get("expectedOv"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, httpapi.Invalid("expectedOv", "must be a non-negative integer, got "+strconv.Quote(v))
		}
		fromQuery = &n
	}
	if fromHeader != nil && fromQuery != nil && *fromHeader != *fromQuery {
		return nil, httpapi.Invalid("expectedOv", "If-Match and ?expectedOv= disagree")
	}
	if fromHeader != nil {
		return fromHeader, nil
	}
	return fromQuery, nil
}

// lineageOf turns the headers into the seed's lineage fields: the origin
// is given explicitly ("<system>:<collection>" when it names a system), or
// else is the parent (Service.resolveLineage may replace it with the
// parent's own origin).
func lineageOf(parent, origin *recordRef) *events.Lineage {
	if parent == nil && origin == nil {
		return nil
	}
	l := &events.Lineage{}
	if parent != nil {
		l.ParentID, l.ParentCollection = parent.ID, parent.Collection
		l.OriginID, l.OriginCollection = parent.ID, parent.Collection
	}
	if origin != nil {
		l.OriginID, l.OriginCollection = origin.ID, origin.Collection
		if origin.System != "" {
			l.OriginCollection = origin.System + ":" + origin.Collection
		}
	}
	return l
}
