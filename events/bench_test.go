package events

import (
	"fmt"
	"strings"
	"testing"
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
