package sqlite

import (
	"strconv"
	"unicode/utf8"
)

// Tags and metadata are stored as compact JSON (jsonText) and decoded on
// every read of a context. Most are simple: an array of plain strings, an
// object of plain strings, numbers, booleans and nulls. The fast decoders
// here read exactly that compact form and answer what json.Unmarshal
// answers for it; anything else (escapes, whitespace, nesting, invalid
// UTF-8, a number ParseFloat cannot hold) is not theirs (false), and
// decodeTags and decodeObject use json.Unmarshal as before.

// fastTags decodes a compact JSON array of plain strings.
func fastTags(s string) ([]string, bool) {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, false
	}
	n := 0 // the number of strings, to size the slice once
	for i := 1; i < len(s)-1; i++ {
		if s[i] == '"' {
			n++
		}
	}
	out := make([]string, 0, n/2)
	i := 1
	if s[i] == ']' {
		return out, len(s) == 2
	}
	for {
		v, next, ok := plainString(s, i)
		if !ok {
			return nil, false
		}
		out = append(out, v)
		switch s[next] {
		case ',':
			i = next + 1
		case ']':
			return out, next == len(s)-1
		default:
			return nil, false
		}
	}
}

// fastObject decodes a compact JSON object whose values are plain strings,
// numbers, booleans or nulls.
func fastObject(s string) (map[string]any, bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, false
	}
	out := map[string]any{}
	i := 1
	if s[i] == '}' {
		return out, len(s) == 2
	}
	for {
		k, next, ok := plainString(s, i)
		if !ok || s[next] != ':' {
			return nil, false
		}
		v, next, ok := plainValue(s, next+1)
		if !ok {
			return nil, false
		}
		out[k] = v
		switch s[next] {
		case ',':
			i = next + 1
		case '}':
			return out, next == len(s)-1
		default:
			return nil, false
		}
	}
}

// plainString reads the string at s[i], which must be a '"', up to its
// closing quote: no escapes, no control bytes, valid UTF-8 (json.Unmarshal
// would replace invalid bytes). next is the index after the closing quote,
// always inside s when ok (the callers' brackets close after it).
func plainString(s string, i int) (v string, next int, ok bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	ascii := true
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			v = s[i+1 : j]
			if !ascii && !utf8.ValidString(v) {
				return "", 0, false
			}
			return v, j + 1, j+1 < len(s)
		case c == '\\' || c < 0x20:
			return "", 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", 0, false
}

// plainValue reads a string, number, true, false or null at s[i].
func plainValue(s string, i int) (v any, next int, ok bool) {
	if i >= len(s) {
		return nil, 0, false
	}
	switch c := s[i]; {
	case c == '"':
		return plainString(s, i)
	case c == 't':
		return true, i + 4, len(s) > i+4 && s[i:i+4] == "true"
	case c == 'f':
		return false, i + 5, len(s) > i+5 && s[i:i+5] == "false"
	case c == 'n':
		return nil, i + 4, len(s) > i+4 && s[i:i+4] == "null"
	case c == '-' || (c >= '0' && c <= '9'):
		end, ok := jsonNumberEnd(s, i)
		if !ok || end >= len(s) {
			return nil, 0, false
		}
		f, err := strconv.ParseFloat(s[i:end], 64)
		if err != nil {
			return nil, 0, false
		}
		return f, end, true
	}
	return nil, 0, false
}

// jsonNumberEnd returns the end of the JSON number at s[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumberEnd(s string, i int) (int, bool) {
	digits := func(j int) int {
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		return j
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = digits(i)
	default:
		return 0, false
	}
	if i < len(s) && s[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}
