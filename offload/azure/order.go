package azure

import (
	"cmp"
	"unicode/utf8"
)

// CompareKeys orders keys as Azure Blob Storage lists them, by their UTF-16
// code units, and returns -1, 0 or +1 like strings.Compare. It is the order
// of List and of ListOptions.StartAfter for this Store. It differs from
// byte order (strings.Compare) only where, at the first difference, one key
// has a character in U+E000–U+FFFF and the other one above U+FFFF, which
// CompareKeys puts first.
func CompareKeys(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			return cmp.Compare(utf16Weight(ra), utf16Weight(rb))
		}
		a, b = a[na:], b[nb:]
	}
	return cmp.Compare(len(a), len(b))
}

// utf16Weight maps a rune to a number in the order of its UTF-16 encoding:
// below U+D800 a rune is its own code unit; above U+FFFF it begins with a
// surrogate (U+D800–U+DBFF), so it sorts after those and before U+E000–
// U+FFFF, which are moved above every supplementary rune.
func utf16Weight(r rune) rune {
	if r >= 0xE000 && r <= 0xFFFF {
		return r + 0x110000
	}
	return r
}
