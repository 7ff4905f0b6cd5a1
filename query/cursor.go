package query

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// A cursor is opaque to clients: base64url (no padding) of the JSON
//
//	{"q": "<hash of filter, sort and includeDeleted>", "v": [<sort values>], "id": "<item id>"}
//
// The hash makes a cursor reused with another query a 400 rather than a
// silently wrong page. The position is not secret and not signed: a client
// that forges one only moves its own position in its own query, and every
// value is checked like a filter value by the store.

// maxCursor bounds the length of a cursor.
const maxCursor = 8 << 10

type cursorJSON struct {
	Q  string            `json:"q"`
	V  []json.RawMessage `json:"v"`
	ID string            `json:"id"`
}

// queryHash identifies the order and the set a cursor belongs to.
func queryHash(q projection.ListQuery) string {
	b, _ := json.Marshal(struct {
		F []projection.Clause
		S []projection.SortKey
		D bool
	}{q.Filter, q.Sort, q.IncludeDeleted})
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

func encodeCursor(hash string, c *projection.Cursor) string {
	b, _ := json.Marshal(cursorJSON{Q: hash, V: c.Values, ID: c.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor of the query with hash and sort.
func decodeCursor(s, hash string, sort []projection.SortKey) (*projection.Cursor, error) {
	if len(s) > maxCursor {
		return nil, invalid("cursor", "is longer than %d bytes; it is not a cursor this service returned", maxCursor)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c cursorJSON
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.Q == "" {
		return nil, invalid("cursor", "is not a cursor this service returned")
	}
	if c.Q != hash {
		return nil, invalid("cursor", "belongs to another query: its filter, sort or includeDeleted differ; start again without a cursor")
	}
	keys := len(sort)
	if keys > 0 && sort[keys-1].Field == "_id" {
		keys--
	}
	if len(c.V) != keys || events.ValidateToken("cursor id", c.ID) != nil {
		return nil, invalid("cursor", "is not a cursor this service returned")
	}
	for _, v := range c.V {
		if !json.Valid(v) {
			return nil, invalid("cursor", "is not a cursor this service returned")
		}
	}
	return &projection.Cursor{Values: c.V, ID: c.ID}, nil
}
