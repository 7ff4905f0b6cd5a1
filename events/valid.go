package events

// validJSON reports whether p is one JSON value (with optional surrounding
// whitespace): exactly what encoding/json.Valid answers, about five times
// faster on documents with long strings, which is what payloads are made
// of. FuzzValidJSON holds the two to the same answer on every input. Like
// json.Valid it does not check UTF-8 (ValidatePayload does, first) and
// rejects nesting deeper than 10,000 levels.
func validJSON(p []byte) bool {
	v := validator{p: p}
	v.space()
	if !v.value(0) {
		return false
	}
	v.space()
	return v.i == len(v.p)
}

// maxValidDepth is encoding/json's nesting limit.
const maxValidDepth = 10000

type validator struct {
	p []byte
	i int
}

func (v *validator) space() {
	for v.i < len(v.p) {
		switch v.p[v.i] {
		case ' ', '\t', '\n', '\r':
			v.i++
		default:
			return
		}
	}
}

func (v *validator) value(depth int) bool {
	if v.i >= len(v.p) {
		return false
	}
	switch c := v.p[v.i]; {
	case c == '{':
		return v.object(depth + 1)
	case c == '[':
		return v.array(depth + 1)
	case c == '"':
		return v.str()
	case c == '-' || ('0' <= c && c <= '9'):
		return v.number()
	case c == 't':
		return v.literal("true")
	case c == 'f':
		return v.literal("false")
	case c == 'n':
		return v.literal("null")
	}
	return false
}

func (v *validator) object(depth int) bool {
	if depth > maxValidDepth {
		return false
	}
	v.i++ // '{'
	v.space()
	if v.i < len(v.p) && v.p[v.i] == '}' {
		v.i++
		return true
	}
	for {
		if v.i >= len(v.p) || v.p[v.i] != '"' || !v.str() {
			return false
		}
		v.space()
		if v.i >= len(v.p) || v.p[v.i] != ':' {
			return false
		}
		v.i++
		v.space()
		if !v.value(depth) {
			return false
		}
		v.space()
		if v.i >= len(v.p) {
			return false
		}
		switch v.p[v.i] {
		case ',':
			v.i++
			v.space()
		case '}':
			v.i++
			return true
		default:
			return false
		}
	}
}

func (v *validator) array(depth int) bool {
	if depth > maxValidDepth {
		return false
	}
	v.i++ // '['
	v.space()
	if v.i < len(v.p) && v.p[v.i] == ']' {
		v.i++
		return true
	}
	for {
		if !v.value(depth) {
			return false
		}
		v.space()
		if v.i >= len(v.p) {
			return false
		}
		switch v.p[v.i] {
		case ',':
			v.i++
			v.space()
		case ']':
			v.i++
			return true
		default:
			return false
		}
	}
}

// plainString marks the bytes a string holds as themselves: not the
// closing quote, not a backslash, not a control character.
var plainString = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (v *validator) str() bool {
	p := v.p
	i := v.i + 1 // after '"'
	for {
		for i < len(p) && plainString[p[i]] {
			i++
		}
		if i >= len(p) {
			return false
		}
		switch p[i] {
		case '"':
			v.i = i + 1
			return true
		case '\\':
			if i+1 >= len(p) {
				return false
			}
			switch p[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(p) {
					return false
				}
				for _, h := range p[i+2 : i+6] {
					if !isHex(h) {
						return false
					}
				}
				i += 6
			default:
				return false
			}
		default: // a control character
			return false
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func (v *validator) number() bool {
	p, i := v.p, v.i
	if p[i] == '-' {
		i++
	}
	switch {
	case i < len(p) && p[i] == '0':
		i++
	case i < len(p) && '1' <= p[i] && p[i] <= '9':
		for i < len(p) && '0' <= p[i] && p[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(p) && p[i] == '.' {
		i++
		start := i
		for i < len(p) && '0' <= p[i] && p[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(p) && (p[i] == 'e' || p[i] == 'E') {
		i++
		if i < len(p) && (p[i] == '+' || p[i] == '-') {
			i++
		}
		start := i
		for i < len(p) && '0' <= p[i] && p[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	v.i = i
	return true
}

func (v *validator) literal(lit string) bool {
	if len(v.p)-v.i < len(lit) || string(v.p[v.i:v.i+len(lit)]) != lit {
		return false
	}
	v.i += len(lit)
	return true
}
