package events

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func benchDoc() []byte {
	var b strings.Builder
	b.WriteString(`{"deviceId":"dev-1","ts":"2026-11-22T10:00:00Z","samples":[`)
	for i := range 150 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%d.%d", i, i%10)
	}
	b.WriteString(`],"meta":{"a":1,"b":"x","c":[true,false,null]}}`)
	return []byte(b.String())
}

func BenchmarkValidatePayload(b *testing.B) {
	doc := benchDoc()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ValidatePayload("payload", doc, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEventCodec measures Encode and Decode of an event with a 20 KiB
// payload against encoding/json alone (encodeStd, decodeStd) in the same
// run:
//
//	go test ./events -run '^$' -bench EventCodec
func BenchmarkEventCodec(b *testing.B) {
	text := strings.Repeat("reading 1 value 7; ", 1100)[:20<<10-32]
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	e := &Event{V: Version, Op: OpCreate, At: at, InsertedAt: at, Actor: &Actor{Type: "device", Identifier: "dev-1"},
		Payload: []byte(fmt.Sprintf(`{"i":1,"text":%q}`, text))}
	body, err := Encode(e)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		run  func() error
	}{
		{"decode", func() error { _, err := Decode(body, Limits{}); return err }},
		{"decode-encoding-json", func() error { _, err := decodeStd(body, Limits{}); return err }},
		{"encode", func() error { _, err := Encode(e); return err }},
		{"encode-encoding-json", func() error { _, err := encodeStd(e); return err }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
