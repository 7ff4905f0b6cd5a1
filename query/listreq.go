package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/chronos-go/chronos/projection"
)

// ListRequest is a listByMeta request, the body of POST {base}/query:
//
//	{"filter": {"status": "paid", "total": {"$gte": 10}},
//	 "sort": {"total": -1, "_system.updatedAt": 1},
//	 "limit": 50, "cursor": "...", "fields": ["status", "total"],
//	 "projection": "minimal", "includeHidden": false,
//	 "includeDeleted": false, "count": true}
//
// A filter member is {"field": value} (an equality) or {"field":
// {"$op": value, ...}}; the members are ANDed. Fields are "_id", the
// top-level user props (only the collection map's indexedProps when it
// names some) and projection.SystemFields; operators are
// projection.Operators, with the semantics documented on
// projection.ListQuery. Sort is an ordered object of field: 1 (ascending)
// or -1 (descending); "_id" breaks ties, ascending unless it is the last
// key.
type ListRequest struct {
	Filter []projection.Clause
	Sort   []projection.SortKey
	// Limit is the page size: 0 means projection.DefaultListLimit; at
	// most projection.MaxListLimit.
	Limit int
	// Cursor continues after the page that returned it; it is only valid
	// with the same filter, sort and IncludeDeleted.
	Cursor string
	Shape
	// IncludeDeleted also lists items whose latest version is a deletion.
	IncludeDeleted bool
	// Count asks for the total number of matching items.
	Count bool
}

// listKeys are the keys of a request body, in the documented order.
var listKeys = []string{"filter", "sort", "limit", "cursor", "fields", "projection", "includeHidden", "includeDeleted", "count"}

// decodeListRequest reads a request body strictly (an empty body is
// {}): an unknown or repeated
// key, a value of the wrong JSON type or trailing data is an *InputError
// naming the key. Filter and sort keep the order of the body. Values are
// checked against fields and operators later, by the service.
func decodeListRequest(body []byte) (*ListRequest, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return &ListRequest{}, nil // no body lists everything
	}
	members, err := objectMembers("body", body)
	if err != nil {
		return nil, err
	}
	req := &ListRequest{}
	for _, m := range members {
		switch m.key {
		case "filter":
			req.Filter, err = decodeFilter(m.value)
		case "sort":
			req.Sort, err = decodeSort(m.value)
		case "limit":
			req.Limit, err = decodeLimit(m.value)
		case "cursor":
			err = decodeNullable(m.key, m.value, &req.Cursor, "a string")
		case "fields":
			err = decodeNullable(m.key, m.value, &req.Fields, "an array of strings")
		case "projection":
			err = decodeNullable(m.key, m.value, &req.Projection, "a string")
		case "includeHidden":
			err = decodeNullable(m.key, m.value, &req.IncludeHidden, "true or false")
		case "includeDeleted":
			err = decodeNullable(m.key, m.value, &req.IncludeDeleted, "true or false")
		case "count":
			err = decodeNullable(m.key, m.value, &req.Count, "true or false")
		default:
			err = invalid(m.key, "unknown key; a query has %s", strings.Join(listKeys, ", "))
		}
		if err != nil {
			return nil, err
		}
	}
	return req, nil
}

// member is one member of a JSON object.
type member struct {
	key   string
	value json.RawMessage
}

// objectMembers splits a JSON object into its members, in order. path
// names the object in errors; a repeated key is an error.
func objectMembers(path string, data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, invalid(path, "is not valid JSON: %v", syntaxReason(err))
	}
	if tok != json.Delim('{') {
		return nil, invalid(path, "must be a JSON object")
	}
	var out []member
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalid(path, "is not valid JSON: %v", syntaxReason(err))
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, invalid(join(path, k), "is not valid JSON: %v", syntaxReason(err))
		}
		if seen[k] {
			return nil, invalid(join(path, k), "the key is repeated")
		}
		seen[k] = true
		out = append(out, member{key: k, value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, invalid(path, "is not valid JSON: %v", syntaxReason(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid(path, "has data after the JSON object")
	}
	return out, nil
}

// join appends a key to a path; the body's own keys have no prefix.
func join(path, key string) string {
	if path == "body" {
		return key
	}
	return path + "." + key
}

func syntaxReason(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end"
	}
	return err.Error()
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// decodeNullable decodes v into dst; null leaves dst as is.
func decodeNullable(key string, v json.RawMessage, dst any, want string) error {
	if isNull(v) {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return invalid(key, "must be %s", want)
	}
	return nil
}

func decodeLimit(v json.RawMessage) (int, error) {
	if isNull(v) {
		return 0, nil
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
	if err != nil || n < 1 || n > projection.MaxListLimit {
		return 0, invalid("limit", "must be an integer between 1 and %d, got %.40s", projection.MaxListLimit, v)
	}
	return n, nil
}

// decodeFilter reads the filter object into clauses, in order.
func decodeFilter(v json.RawMessage) ([]projection.Clause, error) {
	if isNull(v) {
		return nil, nil
	}
	members, err := objectMembers("filter", v)
	if err != nil {
		return nil, err
	}
	var out []projection.Clause
	for _, m := range members {
		path := "filter." + m.key
		if strings.HasPrefix(m.key, "$") {
			return nil, topLevelOperator(path, m.key)
		}
		switch firstByte(m.value) {
		case '[':
			return nil, invalid(path, `comparing with an array is not supported; to match any of several values use {"$in": [...]}`)
		case '{':
		default:
			out = append(out, projection.Clause{Field: m.key, Op: projection.OpEq, Value: compact(m.value)})
			continue
		}
		ops, err := objectMembers(path, m.value)
		if err != nil {
			return nil, err
		}
		if len(ops) == 0 {
			return nil, invalid(path, "an empty object; give a value or operators such as {\"$gt\": 1}")
		}
		for _, op := range ops {
			if !strings.HasPrefix(op.key, "$") {
				return nil, invalid(path+"."+op.key, `comparing with an object is not supported; give operators such as {"$eq": 1}`)
			}
			out = append(out, projection.Clause{Field: m.key, Op: op.key, Value: compact(op.value)})
		}
	}
	return out, nil
}

// topLevelOperator explains why an operator cannot be a filter key.
func topLevelOperator(path, op string) error {
	switch op {
	case "$and", "$or", "$nor", "$not":
		return invalid(path, `%s is not supported: the conditions of a filter are always ANDed; to match any of several values use {"field": {"$in": [...]}}`, op)
	default:
		return invalid(path, "%s is not supported: a filter holds only field conditions with the operators %s", op, strings.Join(projection.Operators, " "))
	}
}

// decodeSort reads the sort object into keys, in order.
func decodeSort(v json.RawMessage) ([]projection.SortKey, error) {
	if isNull(v) {
		return nil, nil
	}
	members, err := objectMembers("sort", v)
	if err != nil {
		return nil, err
	}
	out := make([]projection.SortKey, 0, len(members))
	for _, m := range members {
		switch string(bytes.TrimSpace(m.value)) {
		case "1":
			out = append(out, projection.SortKey{Field: m.key})
		case "-1":
			out = append(out, projection.SortKey{Field: m.key, Desc: true})
		default:
			return nil, invalid("sort."+m.key, "must be 1 (ascending) or -1 (descending), got %.40s", m.value)
		}
	}
	return out, nil
}

func firstByte(v json.RawMessage) byte {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

func compact(v json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return v
	}
	return b.Bytes()
}
