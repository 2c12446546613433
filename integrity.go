package contextd

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The parts of an integrity check that both stores share: each store reads
// its change log and vectors its own way and hands what it read to these
// accumulators, which decide what is wrong and word the report's items.

// ChangeClockSlack is how far a change's time may run behind the change
// before it in the log without failing the check. A write reads the clock
// before it waits for its turn to commit (the SQLite store's write queue,
// the Neo4j store's lock on the change counter), so concurrent writers commit
// slightly out of clock order; a step back beyond this is a clock that went
// back, or a log edited behind the store's back.
const ChangeClockSlack = 5 * time.Minute

// ChangeTail is how many of the newest changes a check without Full
// compares with the rows (Full compares every change and every row).
const ChangeTail = 1000

// maxExamples bounds the problems an item names; it counts the others.
const maxExamples = 5

// ChangeLogSpan describes the retained change log.
type ChangeLogSpan struct {
	Count  int64 // changes retained
	Oldest int64 // lowest retained seq (0 when Count is 0)
	Newest int64 // highest retained seq
	// Last is the highest seq ever given (ChangeLog.LastChange), read
	// before the changes when they are not read on one snapshot.
	Last     int64
	OldestAt time.Time // time of the oldest retained change
}

// ContinuityItem is the check item "change log continuity": the retained
// changes are every seq from the oldest to the newest, and the newest is the
// last seq given (pruning removes the oldest only).
func (sp ChangeLogSpan) ContinuityItem() CheckItem {
	it := CheckItem{Name: "change log continuity", OK: true, Rows: sp.Count}
	if sp.Count == 0 {
		if sp.Last > 0 {
			it.Detail = fmt.Sprintf("empty: all %d changes pruned", sp.Last)
		} else {
			it.Detail = "empty: nothing written yet"
		}
		return it
	}
	var bad []string
	if missing := sp.Newest - sp.Oldest + 1 - sp.Count; missing != 0 {
		bad = append(bad, fmt.Sprintf("%d changes missing between seq %d and %d", missing, sp.Oldest, sp.Newest))
	}
	if sp.Newest < sp.Last {
		bad = append(bad, fmt.Sprintf("the newest change is seq %d but the log gave seqs up to %d", sp.Newest, sp.Last))
	}
	if len(bad) > 0 {
		it.OK = false
		it.Detail = strings.Join(bad, "; ")
		return it
	}
	it.Detail = fmt.Sprintf("seq %d..%d, %d changes", sp.Oldest, sp.Newest, sp.Count)
	return it
}

// ChangeOrder checks a run of changes read in seq order: no seq skipped, and
// no time more than ChangeClockSlack before the time of the change before.
type ChangeOrder struct {
	n, gaps, back, late int64
	prevSeq             int64
	prevAt              time.Time
	examples            []string
}

// Add takes the next change of the run.
func (o *ChangeOrder) Add(seq int64, at time.Time) {
	if o.n > 0 {
		if seq != o.prevSeq+1 {
			o.gaps++
			o.example(fmt.Sprintf("seq %d follows seq %d", seq, o.prevSeq))
		}
		if d := o.prevAt.Sub(at); d > ChangeClockSlack {
			o.back++
			o.example(fmt.Sprintf("seq %d is %s older than seq %d", seq, d.Round(time.Second), o.prevSeq))
		} else if d > 0 {
			o.late++
		}
	}
	o.n++
	o.prevSeq, o.prevAt = seq, at
}

func (o *ChangeOrder) example(s string) {
	if len(o.examples) < maxExamples {
		o.examples = append(o.examples, s)
	}
}

// Item is the check item name for the run.
func (o *ChangeOrder) Item(name string) CheckItem {
	it := CheckItem{Name: name, OK: o.gaps == 0 && o.back == 0, Rows: o.n}
	if !it.OK {
		it.Detail = fmt.Sprintf("%d gaps and %d times going back more than %s in %d changes: %s",
			o.gaps, o.back, ChangeClockSlack, o.n, strings.Join(o.examples, "; "))
		return it
	}
	it.Detail = fmt.Sprintf("%d changes in order", o.n)
	if o.late > 0 {
		it.Detail += fmt.Sprintf(" (%d committed up to %s after a later clock reading, as concurrent writes do)", o.late, ChangeClockSlack)
	}
	return it
}

// LoggedObject is a live object as its row has it, with the newest change
// the log holds for it.
type LoggedObject struct {
	Kind, Tenant, ID string
	// Version is the row's version (0 for kinds without one).
	Version int64
	// Stamp is the time of the row's last logged write: updatedAt (a
	// session: the later of updatedAt and lastActiveAt), createdAt for a
	// relationship.
	Stamp time.Time
	// Newest is the newest change of the object; nil when the log has none.
	Newest *Change
}

// loggedStamps are the fields of a change's state compared with the row.
type loggedStamps struct {
	Version      int64     `json:"version"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
	LastActiveAt time.Time `json:"lastActiveAt"`
}

// ChangeAgreement compares the newest change of objects with their rows:
//   - a live object's newest change is not a delete, and its version and
//     write time (the state's updatedAt, lastActiveAt or createdAt) are the
//     row's;
//   - a live object without any change is only a problem when the row was
//     written after the oldest retained change (plus ChangeClockSlack):
//     older rows were written before the log began or their changes were
//     pruned;
//   - an object whose newest change is not a delete has its row (Orphan).
type ChangeAgreement struct {
	span                      ChangeLogSpan
	checked, logged, unlogged int64
	problems, orphans         int64
	examples                  []string
}

// NewChangeAgreement starts a comparison against the log described by span.
func NewChangeAgreement(span ChangeLogSpan) *ChangeAgreement { return &ChangeAgreement{span: span} }

func (a *ChangeAgreement) problem(format string, args ...any) {
	a.problems++
	if len(a.examples) < maxExamples {
		a.examples = append(a.examples, fmt.Sprintf(format, args...))
	}
}

// Live takes a live object and its newest change.
func (a *ChangeAgreement) Live(o LoggedObject) {
	a.checked++
	if o.Newest == nil {
		a.unlogged++
	} else {
		a.logged++
	}
	if p := a.Judge(o); p != "" {
		a.problem("%s", p)
	}
}

// Judge returns what is wrong with a live object and its newest change, ""
// when nothing is; it records nothing (a store that cannot read a snapshot
// judges, reads a suspect again, then records with Live).
func (a *ChangeAgreement) Judge(o LoggedObject) string {
	name := o.Kind + " " + o.Tenant + "/" + o.ID
	ch := o.Newest
	if ch == nil {
		if a.span.Count > 0 && o.Stamp.After(a.span.OldestAt.Add(ChangeClockSlack)) {
			return fmt.Sprintf("%s was written at %s but has no change in the log, which holds every change since %s",
				name, o.Stamp.Format(time.RFC3339Nano), a.span.OldestAt.Format(time.RFC3339Nano))
		}
		return ""
	}
	if ch.Op == OpDelete {
		return fmt.Sprintf("%s exists but its newest change (seq %d) deleted it", name, ch.Seq)
	}
	var st loggedStamps
	if err := json.Unmarshal(ch.State, &st); err != nil {
		return fmt.Sprintf("%s: its newest change (seq %d) holds no readable state: %v", name, ch.Seq, err)
	}
	if o.Version != 0 && (ch.Version != o.Version || st.Version != o.Version) {
		return fmt.Sprintf("%s is at version %d but its newest change (seq %d) says version %d", name, o.Version, ch.Seq, ch.Version)
	}
	logged := st.UpdatedAt
	switch o.Kind {
	case KindRelationship:
		logged = st.CreatedAt
	case KindSession:
		if st.LastActiveAt.After(logged) {
			logged = st.LastActiveAt
		}
	}
	if !logged.Equal(o.Stamp) {
		return fmt.Sprintf("%s was written at %s but its newest change (seq %d) holds the state of %s", name,
			o.Stamp.Format(time.RFC3339Nano), ch.Seq, logged.Format(time.RFC3339Nano))
	}
	return ""
}

// Orphan takes the newest change of an object that has no row; only a
// delete may be the newest change of such an object.
func (a *ChangeAgreement) Orphan(ch *Change) {
	if p := JudgeOrphan(ch); p != "" {
		a.orphans++
		a.problem("%s", p)
	}
}

// JudgeOrphan returns what is wrong with ch being the newest change of an
// object without a row ("" when ch is a delete).
func JudgeOrphan(ch *Change) string {
	if ch.Op == OpDelete {
		return ""
	}
	return fmt.Sprintf("%s %s/%s has no row but its newest change (seq %d, %s) did not delete it", ch.Kind, ch.Tenant, ch.ID, ch.Seq, ch.Op)
}

// Item is the check item name for the comparison.
func (a *ChangeAgreement) Item(name string) CheckItem {
	it := CheckItem{Name: name, OK: a.problems == 0, Rows: a.checked, Indexed: a.logged}
	if !it.OK {
		more := ""
		if n := a.problems - int64(len(a.examples)); n > 0 {
			more = fmt.Sprintf(" (and %d more)", n)
		}
		it.Detail = fmt.Sprintf("%d objects disagree with the change log: %s%s", a.problems, strings.Join(a.examples, "; "), more)
		return it
	}
	it.Detail = fmt.Sprintf("%d objects match their newest change", a.logged)
	if a.unlogged > 0 {
		it.Detail += fmt.Sprintf(", %d written before the oldest retained change", a.unlogged)
	}
	return it
}

// VectorCounts are what a store counted of one kind's vectors.
type VectorCounts struct {
	Kind  string // VectorContext or VectorMemory
	Model string // the configured model ("": semantic search off)
	Dims  int    // its vectors' length (0: not known)
	// Rows is the kind's rows; Current those with a vector of Model.
	Rows, Current int64
	// Stale is the rows whose vector is of another model.
	Stale int64
	// Missing is the rows without a vector that were created after the store
	// first stored a vector of this kind with a new row (so an embedder was
	// on when they were written) by a create the change log still holds,
	// and not restored or imported since; Unembedded the other rows without
	// one: created before that (or all of them, when no row was ever created
	// with one), put back by a restore or an import (which keep no
	// vectors), or whose create was pruned from the log.
	Missing, Unembedded int64
	// Orphans is the vectors without their row (or otherwise malformed: a
	// vector without a model).
	Orphans int64
	// WrongDims is the vectors of Model whose length is not Dims.
	WrongDims int64
	// Lengths are the distinct lengths of Model's vectors (when Dims is 0).
	Lengths []int
	// Examples name some of the rows behind the failures.
	Examples []string
}

// Item is the check item "<kind> vectors". Missing vectors, orphans and
// wrong lengths fail it; vectors of another model and rows from before
// semantic search was on are reported with a hint to run `contextd reindex`.
func (v VectorCounts) Item() CheckItem {
	it := CheckItem{Name: v.Kind + " vectors", OK: true, Rows: v.Rows, Indexed: v.Current}
	var bad, warn []string
	if v.Orphans > 0 {
		bad = append(bad, fmt.Sprintf("%d vectors have no row or no model", v.Orphans))
	}
	if v.Model == "" {
		if len(bad) > 0 {
			it.OK = false
			it.Detail = strings.Join(bad, "; ")
		} else {
			it.Detail = "semantic search is off: vectors not compared with a model"
		}
		return it
	}
	if v.Missing > 0 {
		bad = append(bad, fmt.Sprintf("%d rows written with an embedder have no vector", v.Missing))
	}
	if v.WrongDims > 0 {
		bad = append(bad, fmt.Sprintf("%d vectors of %s do not have its %d dimensions", v.WrongDims, v.Model, v.Dims))
	}
	if v.Dims == 0 && len(v.Lengths) > 1 {
		bad = append(bad, fmt.Sprintf("the vectors of %s have %d different lengths %v", v.Model, len(v.Lengths), v.Lengths))
	}
	if v.Stale > 0 {
		warn = append(warn, fmt.Sprintf("%d rows have a vector of another model", v.Stale))
	}
	if v.Unembedded > 0 {
		warn = append(warn, fmt.Sprintf("%d rows written before semantic search was on, or restored or imported, have no vector", v.Unembedded))
	}
	if len(warn) > 0 {
		warn[len(warn)-1] += " (run contextd reindex)"
	}
	if len(bad) > 0 {
		it.OK = false
		if len(v.Examples) > 0 {
			bad = append(bad, "e.g. "+strings.Join(v.Examples, ", "))
		}
	}
	it.Detail = strings.Join(append(bad, warn...), "; ")
	if it.Detail == "" {
		it.Detail = fmt.Sprintf("%d rows, %d vectors of %s", v.Rows, v.Current, v.Model)
	}
	return it
}
