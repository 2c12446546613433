package neo4j

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/contextd/contextd"
	"golang.org/x/text/unicode/norm"
)

// sk is the scope key of a tenant: the wall on every node and edge.
func (s *Store) sk(tenant string) string {
	if s.ns == "" {
		return tenant
	}
	return s.ns + "/" + tenant
}

// uk is the unique key of an object of a tenant: ids are unique per tenant.
// Neither tenants nor ids contain "/", so keys cannot collide.
func uk(sk, id string) string { return sk + "/" + id }

// nsKey is the unique key of a store-wide object (an API key) in the namespace.
func (s *Store) nsKey(id string) string { return s.ns + "/" + id }

// ftk is the tenant's token in the full-text indexes: one Lucene term (hex,
// so no analyzer splits it), required by every full-text query.
func ftk(sk string) string {
	sum := sha256.Sum256([]byte(sk))
	return "t" + hex.EncodeToString(sum[:16])
}

// Times are stored as int64 Unix nanoseconds UTC, clamped to what int64 holds.
var (
	maxNanoTime = time.Unix(0, math.MaxInt64).UTC()
	minNanoTime = time.Unix(0, math.MinInt64).UTC()
)

func nanos(t time.Time) int64 {
	if t.After(maxNanoTime) {
		return math.MaxInt64
	}
	if t.Before(minNanoTime) {
		return math.MinInt64
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// nullNanos is the stored form of an optional time: nil removes the property.
func nullNanos(t *time.Time) any {
	if t == nil {
		return nil
	}
	return nanos(*t)
}

// jsonText encodes v (metadata, properties) for a string property.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", contextd.Errorf(contextd.EINVALID, "a value is not representable as JSON: %v", err)
	}
	return string(b), nil
}

func decodeObject(s string) (map[string]any, error) {
	out := map[string]any{}
	if s == "" || s == "{}" {
		return out, nil
	}
	err := json.Unmarshal([]byte(s), &out)
	if out == nil {
		out = map[string]any{}
	}
	return out, err
}

// metaPairs are the top-level scalars of metadata as typed strings
// "key=t:value" (s string, n number, b bool, z null), sorted: a metadata
// filter is one list membership test, and a facet counts pairs by prefix.
// Numbers are written canonically, so 2 and 2.0 are the same pair.
func metaPairs(m map[string]any) []string {
	out := []string{}
	for k, v := range m {
		if !contextd.ValidMetadataKey(k) {
			continue
		}
		if p, ok := metaPair(k, v); ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// metaPair encodes one key and scalar value; ok is false for other values.
func metaPair(k string, v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return k + "=z:", true
	case string:
		return k + "=s:" + x, true
	case bool:
		return k + "=b:" + strconv.FormatBool(x), true
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return "", false
		}
		return k + "=n:" + strconv.FormatFloat(f, 'g', -1, 64), true
	}
	if f, ok := toFloat(v); ok {
		return k + "=n:" + strconv.FormatFloat(f, 'g', -1, 64), true
	}
	return "", false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// metaValue decodes the value part of a pair ("t:value").
func metaValue(s string) any {
	t, v, _ := strings.Cut(s, ":")
	switch t {
	case "s":
		return v
	case "n":
		f, _ := strconv.ParseFloat(v, 64)
		return f
	case "b":
		return v == "true"
	}
	return nil
}

// normText is text as the full-text indexes hold it: contextd.Words, each
// folded (see fold), every word between two spaces (" w1  w2  w3 "), and the
// number of words. The whitespace analyzer reads the same words; the
// padding lets Cypher count a word or phrase as the occurrences of " w " (or
// " a  b ") and a prefix as those of " p" (see bm25.go).
func normText(s string) (string, int) {
	words := contextd.Words(s)
	if len(words) == 0 {
		return "", 0
	}
	var b strings.Builder
	for _, w := range words {
		b.WriteString(" ")
		b.WriteString(fold(w))
		b.WriteString(" ")
	}
	return b.String(), len(words)
}

// fold lower-cases a word and strips its diacritics (Zürich → zurich), as
// the embedded store's tokenizer does; a word made only of marks stays.
func fold(w string) string {
	w = strings.ToLower(w)
	ascii := true
	for i := 0; i < len(w); i++ {
		if w[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return w
	}
	d := norm.NFD.String(w)
	var b strings.Builder
	for _, r := range d {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return w
	}
	return norm.NFC.String(b.String())
}

// A cursor is base64url(createdAt as 8 big-endian bytes ‖ id), the keyset
// position of the last item of a page, as in the embedded store.
func encodeCursor(createdAt int64, id string) string {
	b := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(b, uint64(createdAt))
	b = append(b, id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(c string) (createdAt int64, id string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 9 {
		return 0, "", contextd.Invalid("query.cursor", "is not a cursor this server made")
	}
	return int64(binary.BigEndian.Uint64(b[:8])), string(b[8:]), nil
}

// where accumulates Cypher conditions and their parameters. Parameter names
// are made here (p0, p1, ...), never from input.
type where struct {
	conds []string
	p     params
	n     int
}

func newWhere(p params) *where {
	if p == nil {
		p = params{}
	}
	return &where{p: p}
}

// param binds v and returns its placeholder.
func (w *where) param(v any) string {
	name := "p" + strconv.Itoa(w.n)
	w.n++
	w.p[name] = v
	return "$" + name
}

// add appends a condition; each %s in cond is replaced by the placeholder of
// the next arg.
func (w *where) add(cond string, args ...any) {
	ph := make([]any, len(args))
	for i, a := range args {
		ph[i] = w.param(a)
	}
	w.conds = append(w.conds, fmt.Sprintf(cond, ph...))
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return "true"
	}
	return strings.Join(w.conds, " AND ")
}

// keyset adds the condition of the page after cursor on node alias a and
// returns the ORDER BY expression.
func (w *where) keyset(a, cursor string, asc bool) (string, error) {
	dir, cmp := "DESC", "<"
	if asc {
		dir, cmp = "ASC", ">"
	}
	if cursor != "" {
		ts, id, err := decodeCursor(cursor)
		if err != nil {
			return "", err
		}
		pt, pi := w.param(ts), w.param(id)
		w.conds = append(w.conds, "("+a+".createdAt "+cmp+" "+pt+" OR ("+a+".createdAt = "+pt+" AND "+a+".id "+cmp+" "+pi+"))")
	}
	return a + ".createdAt " + dir + ", " + a + ".id " + dir, nil
}

func listLimit(n int) int {
	if n <= 0 {
		return contextd.DefaultListLimit
	}
	return min(n, contextd.MaxListLimit)
}

func notFound(what, id string) error {
	return contextd.Errorf(contextd.ENOTFOUND, "%s %q not found", what, id)
}

func conflict(loc, format string, args ...any) error {
	e := contextd.Errorf(contextd.ECONFLICT, format, args...)
	if loc != "" {
		e.Fields = []contextd.FieldError{{Location: loc, Message: e.Message}}
	}
	return e
}

// Decoding of record values: the driver gives int64, float64, string, bool,
// []any and map[string]any.

func str(v any) string {
	s, _ := v.(string)
	return s
}

func i64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return 0
}

func f64(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	}
	return 0
}

func strs(v any) []string {
	out := []string{}
	if l, ok := v.([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func optTime(v any) *time.Time {
	if v == nil {
		return nil
	}
	t := fromNanos(i64(v))
	return &t
}
