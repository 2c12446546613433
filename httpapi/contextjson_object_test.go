package httpapi

import (
	"math"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

// TestFlatObjectSameBytes: flat metadata is written as encoding/json writes
// it, for the floats at the edges of its formats, keys that sort and
// escape awkwardly, and values it refuses (then the whole context is
// huma's, error included).
func TestFlatObjectSameBytes(t *testing.T) {
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-6, 9.99999e-7, 1e-7, 1.5e-7, 1e-10, 1e-100, 5e-324,
		1e20, 1e21, 9.999999999999999e20, 1.2345e22, 1e100, math.MaxFloat64, -math.MaxFloat64, 123456789, 0.000001234,
		1.0000000000000002, 2.5e-5, float64(1 << 53), 3.14159}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	base := func(m map[string]any) *contextd.Context {
		return &contextd.Context{ID: "c", Title: "t", Content: "x", Type: "note", Status: "active", CreatedAt: at, UpdatedAt: at, Metadata: m}
	}
	for _, f := range floats {
		sameAsHuma(t, base(map[string]any{"f": f, "neg": -f}))
	}
	m := map[string]any{}
	for i, k := range awkward {
		m[k] = []any{"s", true, false, nil, floats[i%len(floats)]}[i%5]
	}
	m["Z"], m["a"], m["é"], m["\u2028"], m["<&>"] = "upper", "lower", "accent", "sep", "html"
	sameAsHuma(t, base(m))
	for _, bad := range []any{math.Inf(1), math.NaN(), map[string]any{"nested": 1.0}, []any{1.0}, 3} {
		sameAsHuma(t, base(map[string]any{"ok": "x", "bad": bad}))
	}
}
