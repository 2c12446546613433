package contextd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// The export format ("contextd-export", version 1): JSON Lines, UTF-8. The
// first line is an ExportHeader; every other line is one ExportLine:
//
//	{"format":"contextd-export","version":1,"createdAt":"...","store":"sqlite","seq":42,"tenant":"acme"}
//	{"kind":"session","tenant":"acme","data":{...}}
//	{"kind":"context","tenant":"acme","data":{...}}
//	{"kind":"memory","tenant":"acme","data":{...}}
//	{"kind":"relationship","tenant":"acme","data":{...}}
//
// data is the object exactly as the API shows it (ids, versions and
// timestamps included) except that a context carries no relationships and
// a session no counts; an "apikey" line (full exports only) holds the key's
// record and the hash of its secret. Every relationship comes after every
// context, so a reader can load the lines in order. docs/backup.md
// documents the format.
const (
	ExportFormat        = "contextd-export"
	ExportFormatVersion = 1
	// MaxExportLine bounds one line of an export (a context of 1 MiB text
	// with metadata fits many times).
	MaxExportLine = 64 << 20
)

// ExportHeader is the first line of an export.
type ExportHeader struct {
	Format    string    `json:"format"`
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	Store     string    `json:"store,omitempty"`  // the kind of the store exported
	Seq       int64     `json:"seq"`              // the change log position the data is consistent with
	Tenant    string    `json:"tenant,omitempty"` // "" for every tenant
}

// ExportLine is one object of an export.
type ExportLine struct {
	Kind   string          `json:"kind"`
	Tenant string          `json:"tenant,omitempty"`
	Data   json.RawMessage `json:"data"`
}

// ExportWriter writes an export.
type ExportWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
	n   int64
}

// NewExportWriter writes h (Format and Version filled) and returns a writer
// for the records.
func NewExportWriter(w io.Writer, h ExportHeader) (*ExportWriter, error) {
	h.Format, h.Version = ExportFormat, ExportFormatVersion
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(h); err != nil {
		return nil, err
	}
	return &ExportWriter{w: bw, enc: enc}, nil
}

// Write writes one record.
func (e *ExportWriter) Write(rec *Record) error {
	data, err := EncodeState(rec)
	if err != nil {
		return err
	}
	e.n++
	return e.enc.Encode(ExportLine{Kind: rec.Kind, Tenant: rec.Tenant, Data: data})
}

// Count is the number of records written.
func (e *ExportWriter) Count() int64 { return e.n }

// Flush writes out what is buffered.
func (e *ExportWriter) Flush() error { return e.w.Flush() }

// ExportReader reads an export.
type ExportReader struct {
	r      *bufio.Reader
	Header ExportHeader
	line   int
}

// NewExportReader reads and checks the header line.
func NewExportReader(r io.Reader) (*ExportReader, error) {
	er := &ExportReader{r: bufio.NewReaderSize(r, 256<<10)}
	b, err := er.next()
	if err == io.EOF {
		return nil, Errorf(EINVALID, "line 1: an empty export (no header line)")
	} else if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&er.Header); err != nil || er.Header.Format != ExportFormat {
		return nil, Errorf(EINVALID, "line 1: not a %s header", ExportFormat)
	}
	if er.Header.Version < 1 || er.Header.Version > ExportFormatVersion {
		return nil, Errorf(EINVALID, "line 1: format version %d is not supported (this server reads 1..%d)", er.Header.Version, ExportFormatVersion)
	}
	return er, nil
}

// next returns the next non-empty line.
func (er *ExportReader) next() ([]byte, error) {
	for {
		var buf []byte
		for {
			chunk, err := er.r.ReadSlice('\n')
			buf = append(buf, chunk...)
			if len(buf) > MaxExportLine {
				return nil, Errorf(ETOOLARGE, "line %d: longer than %d bytes", er.line+1, MaxExportLine)
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF && len(buf) > 0 {
				break
			}
			if err != nil {
				return nil, err
			}
			break
		}
		er.line++
		if b := bytes.TrimSpace(buf); len(b) > 0 {
			return b, nil
		}
	}
}

// Next returns the next record, or io.EOF after the last.
func (er *ExportReader) Next() (*Record, error) {
	b, err := er.next()
	if err != nil {
		return nil, err
	}
	var l ExportLine
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, Errorf(EINVALID, "line %d: not a JSON object: %v", er.line, err)
	}
	if l.Tenant == "" {
		l.Tenant = er.Header.Tenant
	}
	rec, err := DecodeState(l.Tenant, l.Kind, l.Data)
	if err != nil {
		return nil, Errorf(EINVALID, "line %d: %s", er.line, ErrorMessage(err))
	}
	return rec, nil
}

// Line is the number of the last line read.
func (er *ExportReader) Line() int { return er.line }

// objectKey names an object of a tenant.
type objectKey struct{ tenant, kind, id string }

// Overlay is the last state of every object a run of changes touched, to
// lay over a snapshot taken before them: Apply replaces or drops the
// snapshot's records, Rest gives the objects the snapshot did not have.
type Overlay struct {
	final map[objectKey]*Change
	order []objectKey
	done  map[objectKey]bool
	Last  *Change // the last change added
}

// NewOverlay returns an empty overlay.
func NewOverlay() *Overlay {
	return &Overlay{final: map[objectKey]*Change{}, done: map[objectKey]bool{}}
}

// Add lays c over what the overlay holds (changes come in Seq order).
func (o *Overlay) Add(c *Change) {
	k := objectKey{c.Tenant, c.Kind, c.ID}
	if _, seen := o.final[k]; !seen {
		o.order = append(o.order, k)
	}
	o.final[k] = c
	o.Last = c
}

// Len is the number of objects the overlay touches.
func (o *Overlay) Len() int { return len(o.final) }

// Apply returns the record to keep in place of rec (rec itself when no
// change touched it) or nil when a change deleted it.
func (o *Overlay) Apply(rec *Record) (*Record, error) {
	k := objectKey{rec.Tenant, rec.Kind, rec.ID()}
	c, ok := o.final[k]
	if !ok {
		return rec, nil
	}
	o.done[k] = true
	if c.Op == OpDelete {
		return nil, nil
	}
	return DecodeState(c.Tenant, c.Kind, c.State)
}

// Rest calls fn for the live objects of the overlay that Apply has not
// seen, relationships only or every other kind, in the order of their first
// change.
func (o *Overlay) Rest(relationships bool, fn func(*Record) error) error {
	for _, k := range o.order {
		c := o.final[k]
		if o.done[k] || c.Op == OpDelete || (k.kind == KindRelationship) != relationships {
			continue
		}
		o.done[k] = true
		rec, err := DecodeState(c.Tenant, c.Kind, c.State)
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}

// Snapshot calls begin with the change seq of one moment, then fn for every
// record of tenant ("" for every tenant, API keys included) as the store
// held them at that moment, while writers keep writing: the store's Export
// (which pages through the data in many transactions) goes to a temporary
// file in tmpDir (encrypted with a key of this call: tempcipher.go), then
// the changes committed meanwhile are laid over it.
// Records come API keys, sessions, contexts and memories first,
// relationships last. The store must be an Exporter and a ChangeLog.
func Snapshot(ctx context.Context, st Store, tenant, tmpDir string, begin func(seq int64) error, fn func(*Record) error) (int64, error) {
	ex, ok1 := StoreAs[Exporter](st)
	cl, ok2 := StoreAs[ChangeLog](st)
	if !ok1 || !ok2 {
		return 0, Errorf(EINVALID, "the %s store cannot make consistent exports", st.Kind())
	}
	s0, err := cl.LastChange(ctx)
	if err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(tmpDir, ".contextd-snapshot-*")
	if err != nil {
		return 0, fmt.Errorf("snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	// The spill files are encrypted with keys of this call (tempcipher.go).
	tmpC, err := newTempCipher()
	if err != nil {
		return 0, fmt.Errorf("snapshot: %w", err)
	}
	relC, err := newTempCipher()
	if err != nil {
		return 0, fmt.Errorf("snapshot: %w", err)
	}
	w, err := NewExportWriter(tmpC.writer(tmp), ExportHeader{})
	if err != nil {
		return 0, err
	}
	// Relationships go to a second file, to come after every context.
	rels, err := os.CreateTemp(tmpDir, ".contextd-snapshot-rel-*")
	if err != nil {
		return 0, fmt.Errorf("snapshot: %w", err)
	}
	defer os.Remove(rels.Name())
	defer rels.Close()
	rw, err := NewExportWriter(relC.writer(rels), ExportHeader{})
	if err != nil {
		return 0, err
	}
	err = ex.Export(ctx, func(rec *Record) error {
		if tenant != "" && (rec.Tenant != tenant || rec.Kind == KindAPIKey) {
			return nil
		}
		if rec.Kind == KindRelationship {
			return rw.Write(rec)
		}
		return w.Write(rec)
	})
	if err == nil {
		err = errors.Join(w.Flush(), rw.Flush())
	}
	if err != nil {
		return 0, err
	}
	s1, err := cl.LastChange(ctx)
	if err != nil {
		return 0, err
	}
	ov := NewOverlay()
	if s1 > s0 {
		err := cl.ReadChanges(ctx, s0, s1, func(c *Change) error {
			if tenant == "" || c.Tenant == tenant {
				ov.Add(c)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	if err := begin(s1); err != nil {
		return 0, err
	}
	ciphers := []*tempCipher{tmpC, relC}
	for i, f := range []*os.File{tmp, rels} {
		if i == 1 {
			if err := ov.Rest(false, fn); err != nil {
				return 0, err
			}
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		r, err := NewExportReader(ciphers[i].reader(f))
		if err != nil {
			return 0, err
		}
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			} else if err != nil {
				return 0, fmt.Errorf("snapshot: reading back: %w", err)
			}
			if rec, err = ov.Apply(rec); err != nil {
				return 0, err
			} else if rec == nil {
				continue
			}
			if err := fn(rec); err != nil {
				return 0, err
			}
		}
	}
	if err := ov.Rest(true, fn); err != nil {
		return 0, err
	}
	return s1, nil
}

// RequireBackupAdmin is the one check of every backup, restore, export and
// import operation: a credential holding admin:backup (admins do, unless
// their key or token narrows it away) and bound to no single user.
func RequireBackupAdmin(p *Principal) error {
	if err := p.Need(PermAdminBackup); err != nil {
		return err
	}
	if p.UID != "" {
		return Errorf(EFORBIDDEN, "a uid-bound credential cannot export, import, back up or restore a tenant")
	}
	return nil
}

// Export writes the principal's tenant in the export format to w, as one
// consistent snapshot (temporary files in tmpDir, "" for the system's). It
// returns the number of records written.
func (s *Service) Export(ctx context.Context, p *Principal, tmpDir string, w io.Writer) (int64, error) {
	if err := RequireBackupAdmin(p); err != nil {
		return 0, err
	}
	var ew *ExportWriter
	_, err := Snapshot(ctx, s.Store, p.Tenant, tmpDir, func(seq int64) error {
		var err error
		ew, err = NewExportWriter(w, ExportHeader{CreatedAt: s.now(), Store: s.Store.Kind(), Seq: seq, Tenant: p.Tenant})
		return err
	}, func(rec *Record) error { return ew.Write(rec) })
	if err != nil {
		return 0, err
	}
	return ew.Count(), ew.Flush()
}

// ImportResult counts what an import did.
type ImportResult struct {
	Imported int `json:"imported"` // objects stored (new, or replacing another version)
	Skipped  int `json:"skipped"`  // objects already there at the same version
}

// importBatch is how many records one import transaction takes.
const importBatch = 500

// Import loads an export into the principal's tenant (whatever tenant the
// lines name), idempotently: see ImportStream. API key lines are refused.
func (s *Service) Import(ctx context.Context, p *Principal, r io.Reader) (*ImportResult, error) {
	if err := RequireBackupAdmin(p); err != nil {
		return nil, err
	}
	e := s.Embedder
	if _, ok := s.vectorStore(); !ok {
		e = nil
	}
	return importStream(ctx, s.Store, e, r, p.Tenant, p.Subject)
}

// ImportStream loads an export into st, idempotently: an object already
// there at the same version (a session or relationship of the same id, an
// API key of the same hash) is skipped; a context or memory at another
// version is replaced by the imported one (a context keeps its
// relationships). Each batch of records is one transaction, recorded in the
// change log as changes of principal. With tenant set, every line goes into
// that tenant and API key lines are refused; with tenant "", each line goes
// into its own tenant.
func ImportStream(ctx context.Context, st Store, r io.Reader, tenant, principal string) (*ImportResult, error) {
	return importStream(ctx, st, nil, r, tenant, principal)
}

// importStream is ImportStream that also gives the imported contexts and
// memories vectors of e (nil: none), batch by batch.
func importStream(ctx context.Context, st Store, e Embedder, r io.Reader, tenant, principal string) (*ImportResult, error) {
	cl, ok := StoreAs[ChangeLog](st)
	if !ok {
		return nil, Errorf(EINVALID, "the %s store cannot import", st.Kind())
	}
	er, err := NewExportReader(r)
	if err != nil {
		return nil, err
	}
	svc := &Service{Store: st}
	res := &ImportResult{}
	var (
		batch   []*Record
		current string // the tenant of the batch
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		sc := Scope{Tenant: current, Principal: principal}
		del, put, skipped, err := svc.importPlan(ctx, sc, batch)
		if err != nil {
			return err
		}
		if len(put) > 0 {
			if err := cl.RestoreObjects(ctx, sc, del, put); err != nil {
				return err
			}
			if err := embedImported(ctx, st, e, sc.Tenant, put); err != nil {
				return err
			}
		}
		res.Skipped += skipped
		res.Imported += len(batch) - skipped
		batch = batch[:0]
		return nil
	}
	for {
		rec, err := er.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		if tenant != "" {
			rec.Tenant = tenant
		} else if !ValidTenant(rec.Tenant) {
			return nil, Errorf(EINVALID, "line %d: %q is not a tenant name", er.Line(), rec.Tenant)
		}
		if rec.Kind == KindAPIKey {
			if tenant != "" {
				return nil, Errorf(EINVALID, "line %d: API keys are not imported into a tenant (import the whole export, or use contextd restore)", er.Line())
			}
			rec.APIKey.Tenant = rec.Tenant
			if _, err := st.APIKeyByHash(ctx, rec.KeyHash); err == nil {
				res.Skipped++
				continue
			} else if ErrorCode(err) != ENOTFOUND {
				return nil, err
			}
			im, ok := StoreAs[Importer](st)
			if !ok {
				return nil, Errorf(EINVALID, "the %s store cannot import API keys", st.Kind())
			}
			if err := im.Import(ctx, []*Record{rec}); err != nil {
				return nil, err
			}
			res.Imported++
			continue
		}
		if rec.Tenant != current || len(batch) == importBatch {
			if err := flush(); err != nil {
				return nil, err
			}
			current = rec.Tenant
		}
		batch = append(batch, rec)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return res, nil
}

// importPlan decides, for each record, whether it is skipped, new, or
// replaces a current version.
func (s *Service) importPlan(ctx context.Context, sc Scope, recs []*Record) (del []ObjectRef, put []*Record, skipped int, err error) {
	inBatch := map[string]bool{}
	for _, rec := range recs {
		if rec.Kind == KindRelationship {
			inBatch[rec.ID()] = true
		}
	}
	replaced := map[string]bool{} // contexts deleted and put again: their edges go too
	var keep []*Relationship      // edges of replaced contexts the batch does not hold
	for _, rec := range recs {
		id := rec.ID()
		switch rec.Kind {
		case KindContext:
			cur, err := s.Store.GetContext(ctx, sc, id)
			switch {
			case ErrorCode(err) == ENOTFOUND:
			case err != nil:
				return nil, nil, 0, err
			case cur.Version == rec.Context.Version:
				skipped++
				continue
			default:
				del = append(del, ObjectRef{KindContext, id})
				replaced[id] = true
				for _, r := range cur.Relationships {
					if !inBatch[r.ID] {
						inBatch[r.ID] = true
						keep = append(keep, r)
					}
				}
			}
		case KindMemory:
			cur, err := s.Store.GetMemory(ctx, sc, id)
			switch {
			case ErrorCode(err) == ENOTFOUND:
				// Maybe there but expired (reads do not see it): the log
				// knows; else replace whatever is there.
				if cl, ok := StoreAs[ChangeLog](s.Store); ok {
					last, err := lastChangeAt(ctx, cl, sc, KindMemory, id, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
					if err != nil {
						return nil, nil, 0, err
					}
					if last != nil && last.Op != OpDelete && last.Version == rec.Memory.Version {
						skipped++
						continue
					}
				}
				del = append(del, ObjectRef{KindMemory, id})
			case err != nil:
				return nil, nil, 0, err
			case cur.Version == rec.Memory.Version:
				skipped++
				continue
			default:
				del = append(del, ObjectRef{KindMemory, id})
			}
		case KindSession:
			if _, err := s.Store.GetSession(ctx, sc, id); err == nil {
				skipped++
				continue
			} else if ErrorCode(err) != ENOTFOUND {
				return nil, nil, 0, err
			}
		case KindRelationship:
			r := rec.Relationship
			rs, err := s.Store.FindRelationships(ctx, sc, RelationshipFilter{ContextID: r.SourceID, Direction: "out"})
			if err != nil && ErrorCode(err) != ENOTFOUND {
				return nil, nil, 0, err
			}
			if hasEdge(rs, id) {
				skipped++
				if !replaced[r.SourceID] && !replaced[r.TargetID] {
					continue
				}
				// Already there, but a replaced end takes it away: put it back.
			}
		}
		put = append(put, rec)
	}
	for _, r := range keep {
		put = append(put, &Record{Kind: KindRelationship, Tenant: sc.Tenant, Relationship: r})
	}
	return del, put, skipped, nil
}

func hasEdge(rs []*Relationship, id string) bool {
	for _, r := range rs {
		if r.ID == id {
			return true
		}
	}
	return false
}
