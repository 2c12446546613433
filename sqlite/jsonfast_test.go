package sqlite

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// sameDecode checks that decodeTags and decodeObject answer for s exactly
// what json.Unmarshal answers (value, or failure).
func sameDecode(t *testing.T, s string) {
	t.Helper()
	if s == "" || s == "[]" || s == "{}" {
		return // answered before any decoding
	}
	wantTags := []string{}
	werr := json.Unmarshal([]byte(s), &wantTags)
	if wantTags == nil {
		wantTags = []string{}
	}
	gotTags, gerr := decodeTags(s)
	if (werr == nil) != (gerr == nil) || (werr == nil && !reflect.DeepEqual(wantTags, gotTags)) {
		t.Fatalf("tags %q: json.Unmarshal %q, %v; decodeTags %q, %v", s, wantTags, werr, gotTags, gerr)
	}
	wantObj := map[string]any{}
	werr = json.Unmarshal([]byte(s), &wantObj)
	if wantObj == nil {
		wantObj = map[string]any{}
	}
	gotObj, gerr := decodeObject(s)
	if (werr == nil) != (gerr == nil) || (werr == nil && !reflect.DeepEqual(wantObj, gotObj)) {
		t.Fatalf("object %q: json.Unmarshal %v, %v; decodeObject %v, %v", s, wantObj, werr, gotObj, gerr)
	}
}

var jsonCases = []string{
	`["a","b"]`, `["a"]`, `[""]`, `["é日本"]`, `["\u00e9"]`, `["a\"b"]`, `["a","b",]`, `["a" ,"b"]`, `[ "a"]`,
	`["a"]x`, `["a"`, `[`, `]`, `[null]`, `["a",null]`, `[1]`, `["\xff"]`, "[\"a\tb\"]", `["a"]]`, `[]]`, `[[]]`,
	`{"a":"b"}`, `{"a":1}`, `{"a":-0}`, `{"a":-0.5e+3}`, `{"a":1E2}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`,
	`{"a":+1}`, `{"a":1e}`, `{"a":1e400}`, `{"a":0x10}`, `{"a":1_0}`, `{"a":Infinity}`, `{"a":NaN}`,
	`{"a":true}`, `{"a":false}`, `{"a":null}`, `{"a":tru}`, `{"a":truex}`, `{"a":nul}`, `{"a":{}}`, `{"a":[]}`,
	`{"a":{"b":1}}`, `{"a":1,"a":2}`, `{"a":1,}`, `{"a" :1}`, `{"a":1 }`, `{a:1}`, `{"a"}`, `{"a":}`, `{"":""}`,
	`{"\u00e9":1}`, `{"k\"":1}`, `{"a":"\xff"}`, `{"a":1}{`, `{"a":1}}`, `null`, `"x"`, `1`, `{`, `}`, `{}}`,
	`{"n":3,"src":"bench","ok":true,"x":null,"f":0.1}`,
}

// TestFastJSONMatchesUnmarshal: the fast decoders of tags and metadata give
// what json.Unmarshal gives, for well-formed, odd and broken texts alike.
func TestFastJSONMatchesUnmarshal(t *testing.T) {
	for _, s := range jsonCases {
		sameDecode(t, s)
	}
	// Random texts put together from JSON's pieces, most of them broken.
	pieces := []string{`"a"`, `"é"`, `"\n"`, `"\xff"`, `:`, `,`, `{`, `}`, `[`, `]`, `1`, `-2.5e3`, `0`, `01`,
		`true`, `null`, `false`, ` `, `"k"`, `""`}
	r := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		var sb strings.Builder
		sb.WriteString([]string{"{", "["}[r.IntN(2)])
		for range r.IntN(8) {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		sb.WriteString([]string{"}", "]", ""}[r.IntN(3)])
		sameDecode(t, sb.String())
	}
	// Well-formed objects and arrays, as jsonText writes them.
	for range 2000 {
		obj := map[string]any{}
		var tags []string
		for range r.IntN(5) {
			k := string(rune('a' + r.IntN(26)))
			switch r.IntN(5) {
			case 0:
				obj[k] = r.NormFloat64() * 1e6
			case 1:
				obj[k] = float64(r.IntN(100))
			case 2:
				obj[k] = r.IntN(2) == 0
			case 3:
				obj[k] = nil
			default:
				obj[k] = "v<&>" + k
			}
			tags = append(tags, "t"+k)
		}
		o, _ := jsonText(obj)
		ts, _ := jsonText(tags)
		sameDecode(t, o)
		sameDecode(t, ts)
	}
}

// FuzzFastJSON: any text decodes as json.Unmarshal decodes it.
func FuzzFastJSON(f *testing.F) {
	for _, s := range jsonCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { sameDecode(t, s) })
}
