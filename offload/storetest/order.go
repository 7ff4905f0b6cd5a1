package storetest

import (
	"slices"
	"strings"
	"unicode/utf16"
)

// compare orders keys as the backend lists them.
func (f Features) compare(a, b string) int {
	if f.ListOrderUTF16 {
		return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
	}
	return strings.Compare(a, b)
}

func (f Features) orderName() string {
	if f.ListOrderUTF16 {
		return "UTF-16 order"
	}
	return "byte order"
}
