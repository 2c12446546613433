package httpapi

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/danielgtaylor/huma/v2"
)

// sameAsHuma checks that marshalJSON writes v exactly as huma's JSON format
// does, or fails exactly when it fails.
func sameAsHuma(t *testing.T, v any) {
	t.Helper()
	var want, got bytes.Buffer
	werr := huma.DefaultJSONFormat.Marshal(&want, v)
	gerr := marshalJSON(&got, v)
	if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
		t.Fatalf("errors differ: huma %v, ours %v", werr, gerr)
	}
	if werr == nil && !bytes.Equal(want.Bytes(), got.Bytes()) {
		t.Fatalf("bytes differ:\nhuma %q\nours %q", want.String(), got.String())
	}
}

// awkward are strings encoding/json treats specially.
var awkward = []string{
	"", "plain", `quote " and \ backslash`, "<html> & 'apos'", "tab\tnew\nline\rcr\bbs\fff",
	"\x00\x01\x1f\x7f", "caf\u00e9 \u65e5\u672c \U0001F600", "\u2028\u2029 separators",
	"bad \xff\xfe utf8 \xc3", "trunc \xe2\x82", "\ufffd real replacement", "/slash/",
}

func randString(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return awkward[r.IntN(len(awkward))]
	}
	var sb strings.Builder
	for range r.IntN(40) {
		switch r.IntN(10) {
		case 0:
			sb.WriteByte(byte(r.IntN(0x20)))
		case 1:
			sb.WriteByte(byte(0x80 + r.IntN(0x80))) // often invalid UTF-8
		case 2:
			sb.WriteRune(rune(r.IntN(0x3000)))
		case 3:
			sb.WriteString(`"\<>&`[r.IntN(5):][:1])
		default:
			sb.WriteByte(byte(0x20 + r.IntN(0x5f)))
		}
	}
	return sb.String()
}

func randObject(r *rand.Rand, depth int) map[string]any {
	switch r.IntN(6) {
	case 0:
		return nil
	case 1:
		return map[string]any{}
	}
	m := map[string]any{}
	for range 1 + r.IntN(4) {
		var v any
		switch r.IntN(8) {
		case 0:
			v = randString(r)
		case 1:
			v = r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
		case 2:
			v = float64(r.IntN(1000))
		case 3:
			v = r.IntN(2) == 0
		case 4:
			v = nil
		case 5:
			v = []any{randString(r), float64(r.IntN(9)), nil}
		default:
			if depth < 2 {
				v = randObject(r, depth+1)
			}
		}
		m[randString(r)] = v
	}
	return m
}

func randTime(r *rand.Rand) time.Time {
	t := time.Unix(0, r.Int64N(4e18)).UTC()
	if r.IntN(4) == 0 {
		t = t.Truncate(time.Second) // no fraction
	}
	return t
}

func randContext(r *rand.Rand) *contextd.Context {
	c := &contextd.Context{
		ID: randString(r), Title: randString(r), Content: randString(r), Type: randString(r), Status: randString(r),
		CreatedAt: randTime(r), UpdatedAt: randTime(r), UserID: randString(r), Version: r.Int64N(1 << 40),
		Metadata: randObject(r, 0),
	}
	if r.IntN(2) == 0 {
		c.SessionID = randString(r)
	}
	switch r.IntN(3) {
	case 0:
	case 1:
		c.Tags = []string{}
	default:
		for range 1 + r.IntN(3) {
			c.Tags = append(c.Tags, randString(r))
		}
	}
	switch r.IntN(3) {
	case 0:
	case 1:
		c.Relationships = []*contextd.Relationship{}
	default:
		for range 1 + r.IntN(3) {
			var rel *contextd.Relationship
			if r.IntN(8) > 0 {
				rel = &contextd.Relationship{ID: randString(r), Type: randString(r), SourceID: randString(r),
					TargetID: randString(r), Properties: randObject(r, 0), CreatedAt: randTime(r)}
			}
			c.Relationships = append(c.Relationships, rel)
		}
	}
	return c
}

// TestMarshalContextSameBytes: a context (and anything else) is written
// byte for byte as huma's encoder writes it, for random contexts full of
// strings that need escaping, nil and empty fields and nested metadata.
func TestMarshalContextSameBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 3000 {
		sameAsHuma(t, randContext(r))
	}
	// A store's usual context, and other bodies that take huma's path.
	now := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)
	sameAsHuma(t, &contextd.Context{ID: "c1", Title: "t", Content: "x", Type: "note", Status: "active",
		CreatedAt: now, UpdatedAt: now, UserID: "u", Tags: []string{}, Metadata: map[string]any{},
		Relationships: []*contextd.Relationship{}, Version: 1})
	sameAsHuma(t, (*contextd.Context)(nil))
	sameAsHuma(t, map[string]any{"a": 1})
	sameAsHuma(t, []*contextd.Context{randContext(r)})
}

// TestMarshalContextFallsBack: what the fast path cannot write the same
// way is left to huma's encoder, with the same bytes or the same error.
func TestMarshalContextFallsBack(t *testing.T) {
	base := func() *contextd.Context {
		return &contextd.Context{ID: "c", CreatedAt: time.Unix(0, 0).UTC(), UpdatedAt: time.Unix(0, 0).UTC(),
			Metadata: map[string]any{"k": "v"}}
	}
	paris := time.FixedZone("CET", 3600)
	cases := map[string]func(c *contextd.Context){
		"zone offset":       func(c *contextd.Context) { c.CreatedAt = c.CreatedAt.In(paris) },
		"local UTC zone":    func(c *contextd.Context) { c.UpdatedAt = c.UpdatedAt.In(time.FixedZone("Z0", 0)) },
		"year 10000":        func(c *contextd.Context) { c.UpdatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"year -1":           func(c *contextd.Context) { c.CreatedAt = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) },
		"zero time":         func(c *contextd.Context) { c.CreatedAt = time.Time{} },
		"NaN metadata":      func(c *contextd.Context) { c.Metadata = map[string]any{"n": math.NaN()} },
		"unsupported value": func(c *contextd.Context) { c.Metadata = map[string]any{"ch": make(chan int)} },
		"edge zone offset": func(c *contextd.Context) {
			c.Relationships = []*contextd.Relationship{{ID: "r", CreatedAt: time.Unix(5, 0).In(paris)}}
		},
		"edge NaN": func(c *contextd.Context) {
			c.Relationships = []*contextd.Relationship{{ID: "r", Properties: map[string]any{"x": math.Inf(1)}}}
		},
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			c := base()
			change(c)
			sameAsHuma(t, c)
		})
	}
}

// FuzzMarshalContextString: any text in any string field is escaped as
// encoding/json escapes it.
func FuzzMarshalContextString(f *testing.F) {
	for _, s := range awkward {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		now := time.Unix(1, 2).UTC()
		sameAsHuma(t, &contextd.Context{ID: s, Title: s, Content: s, Type: s, Status: s, UserID: s, SessionID: s,
			CreatedAt: now, UpdatedAt: now, Tags: []string{s}, Metadata: map[string]any{s: s},
			Relationships: []*contextd.Relationship{{ID: s, Type: s, SourceID: s, TargetID: s, CreatedAt: now}}})
	})
}
