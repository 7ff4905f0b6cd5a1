package client

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/testenv"
	clog "github.com/chronos-go/chronos/log"
)

// The producer's message is log.NewMsg's, byte for byte, whether the
// payload is spliced in or encoded the ordinary way.
func TestNewMsgMatchesLog(t *testing.T) {
	ctx := context.Background()
	_, js := testenv.StartNATS(t).Connect(t)
	if err := clog.EnsureStreams(ctx, js, clog.Config{Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	l, err := clog.Open(ctx, js, events.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("p", 300)
	docs := map[string]string{
		"compact":           `{"a":1,"b":[1,2,{"c":null}],"pad":"` + pad + `"}`,
		"spaces in strings": `{"name":"John Doe","q":"a \" b \\ c","pad":"` + pad + ` x"}`,
		"spaces outside":    `{"a": 1, "pad":"` + pad + `"}`,
		"newline":           "{\"a\":1,\n\"pad\":\"" + pad + "\"}",
		"tab":               "{\"a\":1,\t\"pad\":\"" + pad + "\"}",
		"escapes and html":  `{"h":"<a href=\"x\">&amp;</a>","u":"\u2028é😀\\\"","pad":"` + pad + `"}`,
		"small":             `{"a":1}`,
		"small spaces":      `{ "a" : 1 }`,
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	actor := &events.Actor{Type: "user", Identifier: "u-1", Name: "Ann", Metadata: json.RawMessage(`{"insertedAt":1,"payload":2}`)}
	for name, doc := range docs {
		for _, reason := range []string{"", "why", "\x00chronos:payload\x00"} {
			ev := &events.Event{V: events.Version, Op: events.OpCreate, At: now, InsertedAt: now, Actor: actor, Creator: actor,
				Reason: reason, Lineage: &events.Lineage{ParentID: "p"}, Payload: json.RawMessage(doc)}
			if err := ev.Validate(l.Limits()); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			o := clog.AppendOptions{ExpectSeq: clog.Expect(0), MsgID: "k-1"}
			ref := events.ItemRef{Collection: events.Collection{DBType: events.DBLogs, Tier: events.TierGeneric, Scope: "_", Name: "c"}, ID: "i"}
			want, err := l.NewMsg(ref, ev, o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := newMsg(l, ref, ev, o)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Data, want.Data) || got.Subject != want.Subject || !reflect.DeepEqual(got.Header, want.Header) {
				t.Errorf("%s, reason %q:\n got %s %v\nwant %s %v", name, reason, got.Data, got.Header, want.Data, want.Header)
			}
			if string(ev.Payload) != doc {
				t.Errorf("%s: the event's payload was changed", name)
			}
		}
	}
}

func TestIsCompact(t *testing.T) {
	for doc, want := range map[string]bool{
		`{"a":"x y"}`:        true,
		`{"a":"x\" y"}`:      true,
		`{"a":"x\\"}`:        true,
		`{"a":"x\\", "b":1}`: false,
		`{"a": 1}`:           false,
		"{\"a\":1}\n":        false,
		`[1,2,3]`:            true,
	} {
		if got := isCompact([]byte(doc)); got != want {
			t.Errorf("isCompact(%s) = %v", doc, got)
		}
	}
}
