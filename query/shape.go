package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/offload"
)

// CollectionMap is what a collection's configuration says about reads (the
// seed's collectionMaps entry). The zero value is "no map": every
// top-level prop is filterable and sortable, nothing is hidden, there are
// no presets.
type CollectionMap struct {
	// IndexedProps, when not empty, are the only user props a list may
	// filter and sort on (besides "_id" and the `_system` fields). Only
	// they get store indexes; with none, every top-level prop is
	// filterable, without an index.
	IndexedProps []string
	// HiddenFields are top-level props removed from every returned item
	// unless the read sets IncludeHidden; a list may filter or sort on
	// them only with IncludeHidden.
	HiddenFields []string
	// Projections are named presets of Shape.Fields ("minimal": ["name"]);
	// a nil list means every field (the config's include "*").
	Projections map[string][]string
	// Excludes are the fields a preset leaves out (the config's exclude),
	// by preset name.
	Excludes map[string][]string
	// Base64Props are the top-level props holding base64 content, by
	// name: the props GET {base}/items/{id}/content/{prop} serves.
	Base64Props map[string]offload.ContentProp
}

// InputError is a request input that is not valid: a 400 invalid_input
// whose body also carries the offending key's path as "field"
// ("filter.status.$regex"). It matches events.ErrInvalid.
type InputError struct {
	// Field is the path of the bad key or value.
	Field  string
	Reason string
}

// Error reads "chronos: invalid <field>: <reason>".
func (e *InputError) Error() string { return fmt.Sprintf("chronos: invalid %s: %s", e.Field, e.Reason) }

// Unwrap returns events.ErrInvalid.
func (e *InputError) Unwrap() error { return events.ErrInvalid }

// HTTPStatus maps the error to 400 invalid_input.
func (e *InputError) HTTPStatus() (int, string) { return http.StatusBadRequest, "invalid_input" }

// ErrorFields adds the path to the error body.
func (e *InputError) ErrorFields() map[string]any { return map[string]any{"field": e.Field} }

func invalid(field, format string, args ...any) error {
	return &InputError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Shape says which parts of an item a read returns. The zero value returns
// the whole item without its hidden fields.
type Shape struct {
	// Fields lists what to return besides "_id" (always returned):
	// top-level props, "_system" (the whole block) or "_system.<key>"
	// (ov, updatedAt, creator, ...). nil returns every prop and the whole
	// `_system`; with Fields, `_system` comes only if named.
	Fields []string
	// Projection names a preset of the collection map (Fields to use); it
	// cannot be combined with Fields.
	Projection string
	// IncludeHidden also returns the collection map's HiddenFields.
	// Whatever Fields say, hidden fields are left out without it.
	IncludeHidden bool
}

// systemKeys are the keys of the `_system` block of an item (the JSON
// names of projection.System).
var systemKeys = []string{"ov", "cv", "seq", "insertedAt", "updatedAt", "deletedAt", "deleted", "functionIds",
	"parentId", "parentCollection", "originId", "originCollection", "creator", "updater", "op", "reason",
	"restoredFrom", "payloadRef", "size", "sha256"}

// maxFields bounds Shape.Fields.
const maxFields = 200

// shaper applies a resolved Shape to items.
type shaper struct {
	// props are the user props returned; nil: all.
	props []string
	// system: nil the whole block; empty non-nil none; else those keys.
	system []string
	hidden []string
}

// resolve checks sh against the collection map and returns its shaper.
func (sh Shape) resolve(m CollectionMap) (*shaper, error) {
	fields, path := sh.Fields, "fields"
	if sh.Projection != "" {
		if sh.Fields != nil {
			return nil, invalid("projection", "give fields or projection, not both")
		}
		preset, ok := m.Projections[sh.Projection]
		if !ok {
			names := slices.Sorted(maps.Keys(m.Projections))
			return nil, invalid("projection", "unknown preset %q; this collection's presets are [%s]", sh.Projection, strings.Join(names, ", "))
		}
		fields, path = preset, "projection."+sh.Projection
	}
	out := &shaper{}
	if !sh.IncludeHidden {
		out.hidden = m.HiddenFields
	}
	if sh.Projection != "" {
		out.hidden = append(slices.Clone(out.hidden), m.Excludes[sh.Projection]...)
	}
	if fields == nil {
		return out, nil
	}
	if len(fields) > maxFields {
		return nil, invalid(path, "names %d fields; at most %d", len(fields), maxFields)
	}
	out.props, out.system = []string{}, []string{}
	whole := false
	for i, f := range fields {
		at := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case f == "_id":
		case f == "_system":
			whole = true
		case strings.HasPrefix(f, "_system."):
			k := strings.TrimPrefix(f, "_system.")
			if !slices.Contains(systemKeys, k) {
				return nil, invalid(at, "%q is not a key of _system; they are %s", f, strings.Join(systemKeys, ", "))
			}
			if !slices.Contains(out.system, k) {
				out.system = append(out.system, k)
			}
		default:
			if err := checkProp(at, f); err != nil {
				return nil, err
			}
			if !slices.Contains(out.props, f) {
				out.props = append(out.props, f)
			}
		}
	}
	if whole {
		out.system = nil
	}
	return out, nil
}

// checkProp checks the name of a top-level user prop.
func checkProp(path, f string) error {
	switch {
	case f == "":
		return invalid(path, "a field name is empty")
	case len(f) > 256:
		return invalid(path, "a field name is longer than 256 bytes")
	case strings.HasPrefix(f, "$"):
		return invalid(path, "%q is not a field name", f)
	case strings.Contains(f, "."):
		return invalid(path, "%q is a nested path; only top-level props are supported", f)
	case strings.HasPrefix(f, "_system") || f == "_id":
		return invalid(path, "%q is reserved", f)
	}
	return nil
}

// storeFields returns the props a store needs to return, nil for all.
func (sh *shaper) storeFields() []string {
	if sh.props == nil {
		return nil
	}
	return slices.DeleteFunc(slices.Clone(sh.props), func(p string) bool { return slices.Contains(sh.hidden, p) })
}

// apply shapes it in place.
func (sh *shaper) apply(it *Item) error {
	if sh.props != nil || len(sh.hidden) > 0 {
		data, err := pickMembers(it.Data, func(k string) bool {
			return (sh.props == nil || slices.Contains(sh.props, k)) && !slices.Contains(sh.hidden, k)
		})
		if err != nil {
			return fmt.Errorf("chronos: shape item %s: %w", it.ID, err)
		}
		it.Data = data
	}
	it.systemKeys = sh.system
	return nil
}

// pickMembers returns the JSON object obj with only the members whose key
// keep accepts, in their order. A value that is not an object is returned
// as is.
func pickMembers(obj json.RawMessage, keep func(string) bool) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return obj, nil
	}
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		k := tok.(string)
		if !keep(k) {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
