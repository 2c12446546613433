package contextd

import (
	"encoding/json"
	"fmt"
)

// What the stores share to build and read back the records they keep
// beside the data (change-log entries, audit events): each store only
// maps these to its own rows or nodes.

// PutChange is the change recording the new state of rec's object (op
// OpCreate, OpUpdate or OpRestore) by the scope's principal.
func PutChange(sc Scope, op string, rec *Record) (*Change, error) {
	return NewChange(sc, op, ObjectRef{Kind: rec.Kind, ID: rec.ID()}, "", 0, rec)
}

// DeleteChange is the change recording the deletion of an object, with its
// last userId and version kept for history filters.
func DeleteChange(sc Scope, kind, id, userID string, version int64) *Change {
	ch, _ := NewChange(sc, OpDelete, ObjectRef{Kind: kind, ID: id}, userID, version, nil) // cannot fail without a record
	return ch
}

// StoredState is ch's state as a store keeps it: its JSON text, or nil
// (no state: SQL NULL, an absent property) for a delete.
func (ch *Change) StoredState() any {
	if len(ch.State) == 0 || string(ch.State) == "null" {
		return nil
	}
	return string(ch.State)
}

// StateFromStored is the State of a change read back from a store: text
// when the store had one (ok), else JSON null.
func StateFromStored(text string, ok bool) json.RawMessage {
	if !ok {
		return json.RawMessage("null")
	}
	return json.RawMessage(text)
}

// StoreLimit is the page size a store uses for f: f.Limit, or 100 when it
// is out of 1..1000 (the Service validates it first).
func (f ChangeFilter) StoreLimit() int {
	if f.Limit <= 0 || f.Limit > 1000 {
		return 100
	}
	return f.Limit
}

// StoreLimit is the page size a store uses for f: f.Limit, or 20 when it is
// out of 1..100 (the Service validates it first).
func (f AuditFilter) StoreLimit() int {
	if f.Limit <= 0 || f.Limit > 100 {
		return 20
	}
	return f.Limit
}

// CutPage turns up to limit+1 items read for a page of limit into the page
// and the cursor of the next one ("" when there is none): cursor gives the
// cursor after an item.
func CutPage[T any](items []T, limit int, cursor func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, cursor(items[limit-1])
}

// ChangeSeqCursor is the cursor after a change (CutPage's cursor for changes).
func ChangeSeqCursor(ch *Change) string { return ChangeCursor(ch.Seq) }

// AuditIDCursor is the cursor after an audit event (CutPage's cursor for
// audit pages, newest first by id).
func AuditIDCursor(e *AuditEvent) string { return e.ID }

// StorableAudit checks an audit event before a store appends it and returns
// its detail as the JSON text stores keep ("{}" for none).
func StorableAudit(e *AuditEvent) (string, error) {
	if e == nil || e.ID == "" || !ValidTenant(e.Tenant) || e.Action == "" {
		return "", Errorf(EINVALID, "an audit event needs an id, a tenant and an action")
	}
	d := e.Detail
	if d == nil {
		d = map[string]any{}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", Errorf(EINVALID, "audit detail is not JSON: %v", err)
	}
	return string(b), nil
}

// AuditExists is the error of an audit event whose id is taken.
func AuditExists(id string) error { return Errorf(ECONFLICT, "audit event %q exists", id) }

// DecodeAuditDetail sets e.Detail from the JSON text a store kept (none
// for "" or "{}").
func DecodeAuditDetail(e *AuditEvent, text string) error {
	if text == "" || text == "{}" {
		return nil
	}
	if err := json.Unmarshal([]byte(text), &e.Detail); err != nil {
		return fmt.Errorf("audit event %s: detail: %w", e.ID, err)
	}
	return nil
}

// TailItem says in the detail of a check item of a check without Full
// that it covered the newest ChangeTail changes only.
func TailItem(it CheckItem, full bool) CheckItem {
	if !full {
		it.Detail = fmt.Sprintf("newest %d changes: %s", ChangeTail, it.Detail)
	}
	return it
}
