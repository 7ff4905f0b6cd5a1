package events

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var testColl = Collection{DBType: DBRuntime, Tier: TierTenant, Scope: "acme", Name: "orders"}

func TestSubjectRoundTrip(t *testing.T) {
	for _, ref := range []ItemRef{
		testColl.Item("01HX"),
		{Collection: Collection{DBType: DBKnowledge, Tier: TierGeneric, Scope: GenericScope, Name: "topics"}, ID: "a-b_c"},
		{Collection: Collection{DBType: DBLogs, Tier: TierDomain, Scope: "eu-west", Name: "x"}, ID: strings.Repeat("z", MaxTokenLen)},
	} {
		for _, p := range []int{1, 8, 13} {
			subj := Subject(ref, p)
			part, got, err := ParseSubject(subj)
			if err != nil {
				t.Fatalf("ParseSubject(%q): %v", subj, err)
			}
			if got != ref || part != Partition(ref.Collection, p) {
				t.Fatalf("ParseSubject(%q) = %d %+v, want %d %+v", subj, part, got, Partition(ref.Collection, p), ref)
			}
			if part < 0 || part >= p {
				t.Fatalf("partition %d out of range [0,%d)", part, p)
			}
		}
	}
}

func TestPartitionIsFNV32aOfCollection(t *testing.T) {
	// fnv32a("runtime.tenant.acme.orders"), computed independently of hash/fnv.
	h := uint32(2166136261)
	for _, c := range []byte("runtime.tenant.acme.orders") {
		h ^= uint32(c)
		h *= 16777619
	}
	if h%8 != uint32(Partition(testColl, 8)) {
		t.Fatalf("Partition = %d, want %d", Partition(testColl, 8), h%8)
	}
	// Every item of a collection is in the collection's partition.
	if Partition(testColl.Item("a").Collection, 8) != Partition(testColl.Item("b").Collection, 8) {
		t.Fatal("items of one collection in different partitions")
	}
}

func TestValidateTokens(t *testing.T) {
	tests := []struct {
		name    string
		c       Collection
		id      string
		wantMsg string
	}{
		{"ok", testColl, "x", ""},
		{"bad dbType", Collection{DBType: "foo", Tier: TierTenant, Scope: "a", Name: "b"}, "x", `invalid dbType: "foo" is not one of runtime, metadata, knowledge, logs`},
		{"bad tier", Collection{DBType: DBRuntime, Tier: "x", Scope: "a", Name: "b"}, "x", `invalid tier: "x" is not one of tenant, domain, generic`},
		{"generic with scope", Collection{DBType: DBRuntime, Tier: TierGeneric, Scope: "a", Name: "b"}, "x", `the generic tier has no scope`},
		{"tenant with _", Collection{DBType: DBRuntime, Tier: TierTenant, Scope: "_", Name: "b"}, "x", `reserved for the generic tier`},
		{"dot in collection", Collection{DBType: DBRuntime, Tier: TierTenant, Scope: "a", Name: "b.c"}, "x", `invalid collection: "b.c" has '.' at byte 1`},
		{"wildcard id", testColl, "*", `invalid itemId: "*" has '*' at byte 0`},
		{"gt id", testColl, ">", `invalid itemId`},
		{"empty id", testColl, "", `invalid itemId: must not be empty`},
		{"long id", testColl, strings.Repeat("a", MaxTokenLen+1), `is 129 characters long; the limit is 128`},
		{"space", testColl, "a b", `has ' ' at byte 1`},
		{"unicode", testColl, "é", `only letters, digits`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Item(tt.id).Validate()
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestParseSubjectRejects(t *testing.T) {
	for _, s := range []string{
		"", "chronos.evt", "foo.evt.0.runtime.tenant.a.b.c", "chronos.evt.x.runtime.tenant.a.b.c",
		"chronos.evt.-1.runtime.tenant.a.b.c", "chronos.evt.01.runtime.tenant.a.b.c",
		"chronos.evt.0.runtime.tenant.a.b", "chronos.evt.0.runtime.tenant.a.b.c.d", "chronos.evt.0.nope.tenant.a.b.c",
	} {
		if _, _, err := ParseSubject(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSubject(%q) = %v, want ErrInvalid", s, err)
		}
	}
}

func TestValidatePayload(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		max     int
		wantErr error
		wantMsg string
	}{
		{"object", `{"a":1,"b":{"c":[1,{"d":"x"}]}}`, 0, nil, ""},
		{"empty object", `{}`, 0, nil, ""},
		{"nested _id is fine", `{"a":{"_id":1,"_system":2}}`, 0, nil, ""},
		{"whitespace", " \n{ \"a\" : [ ] , \"b\" : { } }\t", 0, nil, ""},
		{"array", `[1]`, 0, ErrInvalid, "must be a JSON object"},
		{"string", `"x"`, 0, ErrInvalid, "must be a JSON object"},
		{"null", `null`, 0, ErrInvalid, "must be a JSON object"},
		{"empty", ``, 0, ErrInvalid, "not valid JSON"},
		{"garbage", `{"a":}`, 0, ErrInvalid, "not valid JSON"},
		{"root _id", `{"_id":"x"}`, 0, ErrInvalid, `invalid payload._id: "_id" is a reserved root key`},
		{"root _system", `{"a":1,"_system":{}}`, 0, ErrInvalid, `reserved root key`},
		{"dollar key", `{"a":{"$where":"x"}}`, 0, ErrInvalid, `invalid payload.a.$where: keys must not start with '$'`},
		{"escaped dollar key", `{"\u0024gt":1}`, 0, ErrInvalid, `keys must not start with '$'`},
		{"dollar in array", `{"a":[{"$x":1}]}`, 0, ErrInvalid, `payload.a[0].$x`},
		{"nul key", `{"a\u0000b":1}`, 0, ErrInvalid, `NUL`},
		{"duplicate key", `{"a":1,"a":2}`, 0, ErrInvalid, `appears twice`},
		{"too large", `{"a":"0123456789"}`, 10, ErrTooLarge, `is 18 bytes; the limit is 10 bytes`},
		{"bad utf8", "{\"a\":\"\xff\"}", 0, ErrInvalid, `UTF-8`},
		{"too deep", strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1), 0, ErrInvalid, "deeper than 100"},
		{"deep ok", strings.Repeat(`{"a":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth), 0, nil, ""},
		{"too deep arrays", `{"a":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + "}", 0, ErrInvalid, "deeper than 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidatePayload("payload", []byte(tt.payload), tt.max)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not contain %q", err, tt.wantMsg)
			}
		})
	}
}

func validEvent() *Event {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	return &Event{
		V: Version, Op: OpCreate, At: at, InsertedAt: at,
		Actor:   &Actor{Type: "user", Identifier: "u-1", Name: "Ann"},
		Reason:  "signup",
		Payload: json.RawMessage(`{"name":"x","n":1}`),
		Meta:    map[string]json.RawMessage{"name": json.RawMessage(`"x"`)},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	e := validEvent()
	b, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b, Limits{})
	if err != nil {
		t.Fatalf("Decode(%s): %v", b, err)
	}
	b2, _ := Encode(got)
	if string(b) != string(b2) {
		t.Fatalf("round trip changed the body:\n%s\n%s", b, b2)
	}
	if !got.At.Equal(e.At) || got.Actor.Name != "Ann" || string(got.Payload) != `{"name":"x","n":1}` {
		t.Fatalf("decoded %+v", got)
	}
}

func TestDecodeRejects(t *testing.T) {
	ok := validEvent()
	rf := uint64(1)
	mutate := func(f func(e *Event)) *Event { e := *ok; f(&e); return &e }
	tests := []struct {
		name    string
		e       *Event
		wantMsg string
	}{
		{"version", mutate(func(e *Event) { e.V = 2 }), "envelope version 2 is not supported"},
		{"op", mutate(func(e *Event) { e.Op = "upsert" }), `"upsert" is not one of`},
		{"create ov", mutate(func(e *Event) { e.OV = 3 }), "a create has ov 0, not 3"},
		{"update ov 0", mutate(func(e *Event) { e.Op = OpUpdate }), "only a create has ov 0"},
		{"no at", mutate(func(e *Event) { e.At = time.Time{} }), "invalid at: must be set"},
		{"at before insertedAt", mutate(func(e *Event) { e.At = e.At.Add(-time.Second) }), "is before insertedAt"},
		{"restore without from", mutate(func(e *Event) { e.Op = OpRestore; e.OV = 2 }), "a restore names the ov"},
		{"erase with payload", mutate(func(e *Event) { e.Op = OpErase; e.OV = 2 }), "an erase carries no payload"},
		{"both payloads", mutate(func(e *Event) { e.PayloadRef = &BlobRef{Key: "k"} }), "not both"},
		{"bad payload", mutate(func(e *Event) { e.Payload = json.RawMessage(`{"_id":1}`) }), "reserved root key"},
		{"bad meta key", mutate(func(e *Event) { e.Meta = map[string]json.RawMessage{"$x": json.RawMessage(`1`)} }), "not a valid property name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode(tt.e)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Decode(b, Limits{})
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Decode = %v, want ErrInvalid containing %q", err, tt.wantMsg)
			}
		})
	}
	restore := mutate(func(e *Event) { e.Op = OpRestore; e.OV = 2; e.RestoredFrom = &rf })
	if err := restore.Validate(Limits{}); err != nil {
		t.Fatalf("valid restore rejected: %v", err)
	}
	for _, body := range []string{`{"v":1,"op":"create","unknown":1}`, `{"v":1} {}`, `nope`} {
		if _, err := Decode([]byte(body), Limits{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(%s) = %v, want ErrInvalid", body, err)
		}
	}
}
