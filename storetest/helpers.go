package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/contextd/contextd"
)

// The helpers below call the domain's Normalize/Validate the way
// contextd.Service does, then the store. The must* forms fail the test on an error.

// wantCode fails the test unless err carries code ("" for no error).
func (e *env) wantCode(err error, code string, format string, args ...any) {
	e.t.Helper()
	if got := contextd.ErrorCode(err); got != code {
		want := code
		if want == "" {
			want = "no error"
		}
		e.t.Errorf("%s: got code %q (err: %v), want %s", fmt.Sprintf(format, args...), got, err, want)
	}
}

// createContexts normalizes items and stores them in one call.
func (e *env) createContexts(s contextd.Scope, items ...contextd.ContextCreate) ([]*contextd.Context, error) {
	e.t.Helper()
	for i := range items {
		if items[i].UserID == "" {
			items[i].UserID = defaultUser
		}
		if items[i].Title == "" {
			items[i].Title = "untitled"
		}
		if err := items[i].Normalize("body.items[" + strconv.Itoa(i) + "]"); err != nil {
			e.t.Fatalf("test bug: ContextCreate.Normalize: %v", err)
		}
	}
	return e.s.CreateContexts(e.ctx, s, items)
}

func (e *env) mustContexts(s contextd.Scope, items ...contextd.ContextCreate) []*contextd.Context {
	e.t.Helper()
	cs, err := e.createContexts(s, items...)
	if err != nil {
		e.t.Fatalf("CreateContexts: %v", err)
	}
	if len(cs) != len(items) {
		e.t.Fatalf("CreateContexts returned %d contexts for %d items", len(cs), len(items))
	}
	return cs
}

func (e *env) mustContext(s contextd.Scope, c contextd.ContextCreate) *contextd.Context {
	e.t.Helper()
	return e.mustContexts(s, c)[0]
}

// note creates a context with a title and content.
func (e *env) note(s contextd.Scope, title, content string) *contextd.Context {
	e.t.Helper()
	return e.mustContext(s, contextd.ContextCreate{Title: title, Content: content})
}

func (e *env) getContext(s contextd.Scope, id string) *contextd.Context {
	e.t.Helper()
	c, err := e.s.GetContext(e.ctx, s, id)
	if err != nil {
		e.t.Fatalf("GetContext(%q): %v", id, err)
	}
	return c
}

func (e *env) updateContext(s contextd.Scope, id string, u contextd.ContextUpdate) (*contextd.Context, error) {
	e.t.Helper()
	if err := u.Validate("body"); err != nil {
		e.t.Fatalf("test bug: ContextUpdate.Validate: %v", err)
	}
	return e.s.UpdateContext(e.ctx, s, id, u)
}

func (e *env) mustUpdateContext(s contextd.Scope, id string, u contextd.ContextUpdate) *contextd.Context {
	e.t.Helper()
	c, err := e.updateContext(s, id, u)
	if err != nil {
		e.t.Fatalf("UpdateContext(%q): %v", id, err)
	}
	return c
}

func (e *env) findContexts(s contextd.Scope, f contextd.ContextFilter) ([]*contextd.Context, string, error) {
	e.t.Helper()
	if err := f.Validate(); err != nil {
		e.t.Fatalf("test bug: ContextFilter.Validate: %v", err)
	}
	return e.s.FindContexts(e.ctx, s, f)
}

// listContexts pages through every context matching f with page size f.Limit.
func (e *env) listContexts(s contextd.Scope, f contextd.ContextFilter) []*contextd.Context {
	e.t.Helper()
	return pageAll(e, f.Limit, func(cursor string) ([]*contextd.Context, string, error) {
		g := f
		g.Cursor = cursor
		return e.findContexts(s, g)
	})
}

// pageAll follows next cursors until the last page. Every page holds at most
// limit items (0: the default limit), and a next cursor is only given when
// there is more ("" when there is none), so it never leads to an empty page.
func pageAll[T any](e *env, limit int, fetch func(cursor string) ([]T, string, error)) []T {
	e.t.Helper()
	if limit == 0 {
		limit = contextd.DefaultListLimit
	}
	var all []T
	cursor := ""
	for page := 0; ; page++ {
		if page > 10000 {
			e.t.Fatalf("pagination does not end")
		}
		items, next, err := fetch(cursor)
		if err != nil {
			e.t.Fatalf("page %d (cursor %q): %v", page, cursor, err)
		}
		if len(items) > limit {
			e.t.Fatalf("page %d holds %d items, limit %d", page, len(items), limit)
		}
		if cursor != "" && len(items) == 0 {
			e.t.Errorf("page %d: the cursor %q of the previous page leads to an empty page", page, cursor)
		}
		all = append(all, items...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

func (e *env) link(s contextd.Scope, src, dst, typ string) *contextd.Relationship {
	e.t.Helper()
	r, err := e.linkErr(s, contextd.RelationshipCreate{SourceID: src, TargetID: dst, Type: typ})
	if err != nil {
		e.t.Fatalf("CreateRelationship(%s -%s-> %s): %v", src, typ, dst, err)
	}
	return r
}

func (e *env) linkErr(s contextd.Scope, r contextd.RelationshipCreate) (*contextd.Relationship, error) {
	e.t.Helper()
	if err := r.Normalize("body"); err != nil {
		e.t.Fatalf("test bug: RelationshipCreate.Normalize: %v", err)
	}
	return e.s.CreateRelationship(e.ctx, s, r)
}

func (e *env) findRelationships(s contextd.Scope, f contextd.RelationshipFilter) ([]*contextd.Relationship, error) {
	e.t.Helper()
	if err := f.Validate(); err != nil {
		e.t.Fatalf("test bug: RelationshipFilter.Validate: %v", err)
	}
	return e.s.FindRelationships(e.ctx, s, f)
}

func (e *env) graph(s contextd.Scope, q contextd.GraphQuery) (*contextd.Graph, error) {
	e.t.Helper()
	if err := q.Validate(); err != nil {
		e.t.Fatalf("test bug: GraphQuery.Validate: %v", err)
	}
	return e.s.Graph(e.ctx, s, q)
}

func (e *env) mustGraph(s contextd.Scope, q contextd.GraphQuery) *contextd.Graph {
	e.t.Helper()
	g, err := e.graph(s, q)
	if err != nil {
		e.t.Fatalf("Graph(%+v): %v", q, err)
	}
	return g
}

func (e *env) searchErr(s contextd.Scope, q contextd.SearchQuery) (*contextd.SearchResult, error) {
	e.t.Helper()
	if err := q.Validate(); err != nil {
		e.t.Fatalf("test bug: SearchQuery.Validate: %v", err)
	}
	return e.s.SearchContexts(e.ctx, s, q)
}

func (e *env) search(s contextd.Scope, q contextd.SearchQuery) *contextd.SearchResult {
	e.t.Helper()
	res, err := e.searchErr(s, q)
	if err != nil {
		e.t.Fatalf("SearchContexts(%q): %v", q.Query, err)
	}
	if res == nil {
		e.t.Fatalf("SearchContexts(%q) returned nil", q.Query)
	}
	return res
}

// searchIDs runs a query with the maximum page size and returns the result ids in order.
func (e *env) searchIDs(s contextd.Scope, query string) []string {
	e.t.Helper()
	res := e.search(s, contextd.SearchQuery{Query: query, Limit: contextd.MaxSearchLimit})
	return hitIDs(res.Results)
}

func (e *env) createMemories(s contextd.Scope, items ...contextd.MemoryCreate) ([]*contextd.Memory, error) {
	e.t.Helper()
	for i := range items {
		if items[i].UserID == "" {
			items[i].UserID = defaultUser
		}
		if items[i].Type == "" {
			items[i].Type = contextd.MemoryFact
		}
		if items[i].SessionID == "" {
			items[i].SessionID = "sess-default"
		}
		if err := items[i].Normalize("body.items["+strconv.Itoa(i)+"]", e.now()); err != nil {
			e.t.Fatalf("test bug: MemoryCreate.Normalize: %v", err)
		}
	}
	return e.s.CreateMemories(e.ctx, s, items)
}

func (e *env) mustMemories(s contextd.Scope, items ...contextd.MemoryCreate) []*contextd.Memory {
	e.t.Helper()
	ms, err := e.createMemories(s, items...)
	if err != nil {
		e.t.Fatalf("CreateMemories: %v", err)
	}
	if len(ms) != len(items) {
		e.t.Fatalf("CreateMemories returned %d memories for %d items", len(ms), len(items))
	}
	return ms
}

func (e *env) mustMemory(s contextd.Scope, m contextd.MemoryCreate) *contextd.Memory {
	e.t.Helper()
	return e.mustMemories(s, m)[0]
}

func (e *env) getMemory(s contextd.Scope, id string) *contextd.Memory {
	e.t.Helper()
	m, err := e.s.GetMemory(e.ctx, s, id)
	if err != nil {
		e.t.Fatalf("GetMemory(%q): %v", id, err)
	}
	return m
}

func (e *env) updateMemory(s contextd.Scope, id string, u contextd.MemoryUpdate) (*contextd.Memory, error) {
	e.t.Helper()
	if err := u.Validate("body"); err != nil {
		e.t.Fatalf("test bug: MemoryUpdate.Validate: %v", err)
	}
	return e.s.UpdateMemory(e.ctx, s, id, u)
}

func (e *env) mustUpdateMemory(s contextd.Scope, id string, u contextd.MemoryUpdate) *contextd.Memory {
	e.t.Helper()
	m, err := e.updateMemory(s, id, u)
	if err != nil {
		e.t.Fatalf("UpdateMemory(%q): %v", id, err)
	}
	return m
}

func (e *env) findMemories(s contextd.Scope, f contextd.MemoryFilter) ([]*contextd.Memory, string, error) {
	e.t.Helper()
	if err := f.Validate(); err != nil {
		e.t.Fatalf("test bug: MemoryFilter.Validate: %v", err)
	}
	return e.s.FindMemories(e.ctx, s, f)
}

func (e *env) listMemories(s contextd.Scope, f contextd.MemoryFilter) []*contextd.Memory {
	e.t.Helper()
	return pageAll(e, f.Limit, func(cursor string) ([]*contextd.Memory, string, error) {
		g := f
		g.Cursor = cursor
		return e.findMemories(s, g)
	})
}

func (e *env) searchMemories(s contextd.Scope, q contextd.MemorySearch) []*contextd.MemoryHit {
	e.t.Helper()
	if err := q.Validate(); err != nil {
		e.t.Fatalf("test bug: MemorySearch.Validate: %v", err)
	}
	hits, err := e.s.SearchMemories(e.ctx, s, q)
	if err != nil {
		e.t.Fatalf("SearchMemories(%q): %v", q.Query, err)
	}
	return hits
}

func (e *env) createSession(s contextd.Scope, c contextd.SessionCreate) (*contextd.Session, error) {
	e.t.Helper()
	if c.UserID == "" {
		c.UserID = defaultUser
	}
	if err := c.Normalize("body"); err != nil {
		e.t.Fatalf("test bug: SessionCreate.Normalize: %v", err)
	}
	return e.s.CreateSession(e.ctx, s, c)
}

func (e *env) mustSession(s contextd.Scope, c contextd.SessionCreate) *contextd.Session {
	e.t.Helper()
	ss, err := e.createSession(s, c)
	if err != nil {
		e.t.Fatalf("CreateSession(%q): %v", c.ID, err)
	}
	return ss
}

func (e *env) getSession(s contextd.Scope, id string) *contextd.Session {
	e.t.Helper()
	ss, err := e.s.GetSession(e.ctx, s, id)
	if err != nil {
		e.t.Fatalf("GetSession(%q): %v", id, err)
	}
	return ss
}

func (e *env) findSessions(s contextd.Scope, f contextd.SessionFilter) ([]*contextd.Session, string, error) {
	e.t.Helper()
	if err := f.Validate(); err != nil {
		e.t.Fatalf("test bug: SessionFilter.Validate: %v", err)
	}
	return e.s.FindSessions(e.ctx, s, f)
}

func (e *env) listSessions(s contextd.Scope, f contextd.SessionFilter) []*contextd.Session {
	e.t.Helper()
	return pageAll(e, f.Limit, func(cursor string) ([]*contextd.Session, string, error) {
		g := f
		g.Cursor = cursor
		return e.findSessions(s, g)
	})
}

// --- comparisons ---

func ptr[T any](v T) *T { return &v }

// jsonNorm gives v the shape it has after a JSON round trip (numbers become
// float64, structs maps), so values a store decoded compare with what went in.
func jsonNorm(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("unmarshalable %T: %v", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Sprintf("bad json: %v", err)
	}
	return out
}

func jsonEqual(a, b any) bool { return reflect.DeepEqual(jsonNorm(a), jsonNorm(b)) }

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// sameSet reports whether a and b hold the same strings, ignoring order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func contextIDs(cs []*contextd.Context) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func memoryIDs(ms []*contextd.Memory) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func sessionIDs(ss []*contextd.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func hitIDs(hs []*contextd.SearchHit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		if h == nil || h.Context == nil {
			out[i] = "<nil>"
			continue
		}
		out[i] = h.Context.ID
	}
	return out
}

func memoryHitIDs(hs []*contextd.MemoryHit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		if h == nil || h.Memory == nil {
			out[i] = "<nil>"
			continue
		}
		out[i] = h.Memory.ID
	}
	return out
}

func relIDs(rs []*contextd.Relationship) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// relKeys describes edges as "source-TYPE->target" for readable comparisons.
func relKeys(rs []*contextd.Relationship) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.SourceID + " -" + r.Type + "-> " + r.TargetID
	}
	return out
}

func relKey(src, typ, dst string) string { return src + " -" + typ + "-> " + dst }

// uniqueCount fails unless every id appears once; it returns the set.
func (e *env) unique(what string, ids []string) map[string]bool {
	e.t.Helper()
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		if set[id] {
			e.t.Errorf("%s: %q appears more than once", what, id)
		}
		set[id] = true
	}
	return set
}

// checkContext compares every stored field of got with want (relationships aside).
func (e *env) checkContext(what string, got, want *contextd.Context) {
	e.t.Helper()
	if got == nil {
		e.t.Fatalf("%s: nil context", what)
	}
	var diffs []string
	add := func(field string, g, w any) { diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", field, g, w)) }
	if got.ID != want.ID {
		add("id", got.ID, want.ID)
	}
	if got.Title != want.Title {
		add("title", got.Title, want.Title)
	}
	if got.Content != want.Content {
		add("content", got.Content, want.Content)
	}
	if got.Type != want.Type {
		add("type", got.Type, want.Type)
	}
	if got.Status != want.Status {
		add("status", got.Status, want.Status)
	}
	if got.UserID != want.UserID {
		add("userId", got.UserID, want.UserID)
	}
	if got.SessionID != want.SessionID {
		add("sessionId", got.SessionID, want.SessionID)
	}
	if got.Tags == nil {
		diffs = append(diffs, "tags is nil, want a (possibly empty) list")
	} else if !sameSet(got.Tags, want.Tags) {
		add("tags", got.Tags, want.Tags)
	}
	if got.Metadata == nil {
		diffs = append(diffs, "metadata is nil, want a (possibly empty) object")
	} else if !jsonEqual(got.Metadata, want.Metadata) {
		add("metadata", js(got.Metadata), js(want.Metadata))
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		add("createdAt", got.CreatedAt, want.CreatedAt)
	}
	if !got.UpdatedAt.Equal(want.UpdatedAt) {
		add("updatedAt", got.UpdatedAt, want.UpdatedAt)
	}
	if got.Version != want.Version {
		add("version", got.Version, want.Version)
	}
	if len(diffs) > 0 {
		e.t.Errorf("%s: context %s:\n  %s", what, want.ID, strings.Join(diffs, "\n  "))
	}
}

// checkMemory compares every stored field of got with want.
func (e *env) checkMemory(what string, got, want *contextd.Memory) {
	e.t.Helper()
	if got == nil {
		e.t.Fatalf("%s: nil memory", what)
	}
	var diffs []string
	add := func(field string, g, w any) { diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", field, g, w)) }
	if got.ID != want.ID {
		add("id", got.ID, want.ID)
	}
	if got.Type != want.Type {
		add("type", got.Type, want.Type)
	}
	if got.Content != want.Content {
		add("content", got.Content, want.Content)
	}
	if got.Importance != want.Importance {
		add("importance", got.Importance, want.Importance)
	}
	if got.Confidence != want.Confidence {
		add("confidence", got.Confidence, want.Confidence)
	}
	if got.Tags == nil {
		diffs = append(diffs, "tags is nil, want a (possibly empty) list")
	} else if !sameSet(got.Tags, want.Tags) {
		add("tags", got.Tags, want.Tags)
	}
	if !got.Timestamp.Equal(want.Timestamp) {
		add("timestamp", got.Timestamp, want.Timestamp)
	}
	if got.Source != want.Source {
		add("source", got.Source, want.Source)
	}
	if got.SessionID != want.SessionID {
		add("sessionId", got.SessionID, want.SessionID)
	}
	if got.UserID != want.UserID {
		add("userId", got.UserID, want.UserID)
	}
	if got.Metadata == nil {
		diffs = append(diffs, "metadata is nil, want a (possibly empty) object")
	} else if !jsonEqual(got.Metadata, want.Metadata) {
		add("metadata", js(got.Metadata), js(want.Metadata))
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		add("createdAt", got.CreatedAt, want.CreatedAt)
	}
	if !got.UpdatedAt.Equal(want.UpdatedAt) {
		add("updatedAt", got.UpdatedAt, want.UpdatedAt)
	}
	switch {
	case (got.ExpiresAt == nil) != (want.ExpiresAt == nil):
		add("expiresAt", fmtTimePtr(got.ExpiresAt), fmtTimePtr(want.ExpiresAt))
	case got.ExpiresAt != nil && !got.ExpiresAt.Equal(*want.ExpiresAt):
		add("expiresAt", fmtTimePtr(got.ExpiresAt), fmtTimePtr(want.ExpiresAt))
	}
	if got.Version != want.Version {
		add("version", got.Version, want.Version)
	}
	if len(diffs) > 0 {
		e.t.Errorf("%s: memory %s:\n  %s", what, want.ID, strings.Join(diffs, "\n  "))
	}
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "<none>"
	}
	return t.Format(time.RFC3339Nano)
}

// titles maps ids back to titles for readable failure messages.
type titles map[string]string

func titlesOf(cs ...*contextd.Context) titles {
	m := titles{}
	for _, c := range cs {
		m[c.ID] = c.Title
	}
	return m
}

func (tt titles) of(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if s, ok := tt[id]; ok {
			out[i] = s
		} else {
			out[i] = id
		}
	}
	return out
}
