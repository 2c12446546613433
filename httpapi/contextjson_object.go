package httpapi

import (
	"math"
	"slices"
	"strconv"
)

// Most metadata and properties objects are flat: strings, numbers, booleans
// and nulls (the stores read numbers as float64). appendFlatObject writes
// such an object as encoding/json does (keys sorted bytewise, strings
// escaped without HTML escaping, floats formatted as its float64 encoder
// does), without its reflection over the map; anything else (a nested
// object or array, a value encoding/json refuses) is false, and the
// object is left to encoding/json.
func (e *contextEncoder) appendFlatObject(b []byte, m map[string]any) ([]byte, bool) {
	keys := e.keys[:0]
	for k, v := range m {
		switch v := v.(type) {
		case string, bool, nil:
		case float64:
			if math.IsInf(v, 0) || math.IsNaN(v) {
				clear(keys)
				return b, false
			}
		default:
			clear(keys)
			return b, false
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.keys = keys
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		switch v := m[k].(type) {
		case string:
			b = appendJSONString(b, v)
		case bool:
			b = strconv.AppendBool(b, v)
		case nil:
			b = append(b, "null"...)
		case float64:
			b = appendJSONFloat(b, v)
		}
	}
	clear(e.keys) // keep no keys alive in the pool
	return append(b, '}'), true
}

// appendJSONFloat appends a finite f as encoding/json writes a float64:
// the shortest representation, in exponent form below 1e-6 and from 1e21
// on, with a two-digit negative exponent cut to one digit (1e-07 -> 1e-7).
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
