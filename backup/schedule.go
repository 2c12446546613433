package backup

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/contextd/contextd"
)

// Retention says which backups Prune keeps: everything from the last day,
// then the newest backup of each day for Daily days, of each ISO week for
// Weekly weeks and of each month up to Days; nothing older than Days. The
// newest backup is always kept.
type Retention struct {
	Days   int // default 90 (BACKUP_RETENTION_DAYS)
	Daily  int // default 7
	Weekly int // default 5
}

// DefaultRetention is 90 days: daily for a week, weekly for five weeks,
// monthly beyond.
var DefaultRetention = Retention{Days: 90, Daily: 7, Weekly: 5}

// ParseSchedule reads BACKUP_SCHEDULE: "" or "off" (0: no scheduled
// backups), "hourly", "daily", "weekly", or a Go duration of at least a
// minute ("6h").
func ParseSchedule(s string) (time.Duration, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "off", "none", "false":
		return 0, nil
	case "hourly":
		return time.Hour, nil
	case "daily":
		return 24 * time.Hour, nil
	case "weekly":
		return 7 * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Minute {
		return 0, fmt.Errorf("must be off, hourly, daily, weekly or a duration of at least 1m (got %q)", s)
	}
	return d, nil
}

// Keep applies the retention policy to backups (any order) at time now and
// returns those kept (with their Tier) and those to remove.
func (r Retention) Keep(backups []*contextd.BackupManifest, now time.Time) (keep, remove []*contextd.BackupManifest) {
	if r.Days <= 0 {
		r.Days = DefaultRetention.Days
	}
	bs := append([]*contextd.BackupManifest(nil), backups...)
	sortNewestFirst(bs)
	seen := map[string]bool{}
	for i, b := range bs {
		age := now.Sub(b.CreatedAt)
		t := b.CreatedAt.UTC()
		yr, wk := t.ISOWeek()
		var tier, key string
		switch {
		case i == 0:
			tier = "latest"
		case age <= 24*time.Hour:
			tier = "recent"
		case age <= time.Duration(r.Daily)*24*time.Hour:
			tier, key = "daily", t.Format("2006-01-02")
		case age <= time.Duration(r.Weekly)*7*24*time.Hour:
			tier, key = "weekly", fmt.Sprintf("%d-W%02d", yr, wk)
		case age <= time.Duration(r.Days)*24*time.Hour:
			tier, key = "monthly", t.Format("2006-01")
		}
		if tier == "" || (key != "" && seen[tier+key]) {
			remove = append(remove, b)
			continue
		}
		if key != "" {
			seen[tier+key] = true
		}
		b.Tier = tier
		keep = append(keep, b)
	}
	return keep, remove
}

func sortNewestFirst(bs []*contextd.BackupManifest) {
	for i := 1; i < len(bs); i++ {
		for j := i; j > 0 && bs[j].CreatedAt.After(bs[j-1].CreatedAt); j-- {
			bs[j], bs[j-1] = bs[j-1], bs[j]
		}
	}
}

// PruneResult says what Prune removed.
type PruneResult struct {
	Removed        []string `json:"removed"`        // backup paths
	ChangesRemoved int64    `json:"changesRemoved"` // change log entries behind the oldest kept backup
}

// Prune removes the backups the retention policy does not keep, then the
// change log entries up to the oldest kept backup's seq (they are saved in
// the backups).
func (m *Manager) Prune(ctx context.Context) (*PruneResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	all, err := List(m.dir)
	if err != nil {
		return nil, err
	}
	keep, remove := m.keep.Keep(all, m.now())
	res := &PruneResult{Removed: []string{}}
	for _, b := range remove {
		if err := os.RemoveAll(b.Path); err != nil {
			return res, fmt.Errorf("backup: prune %s: %w", b.Path, err)
		}
		res.Removed = append(res.Removed, b.Path)
	}
	if len(keep) == 0 {
		return res, nil
	}
	oldest := keep[len(keep)-1]
	if cl, ok := contextd.StoreAs[contextd.ChangeLog](m.store); ok && oldest.Store != "" {
		n, err := cl.PruneChanges(ctx, oldest.Seq)
		if err != nil {
			return res, err
		}
		res.ChangesRemoved = n
	}
	return res, nil
}

// Run makes a backup whenever the newest one is older than every, and
// prunes after each, until ctx is done. every 0 returns at once.
func (m *Manager) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	for {
		wait := time.Duration(0)
		if ms, err := List(m.dir); err == nil && len(ms) > 0 {
			wait = every - m.now().Sub(ms[0].CreatedAt)
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue // look again: a backup may have been made meanwhile
		}
		if man, err := m.Create(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			m.log.Error("scheduled backup failed", "err", err)
			select { // retry later, not in a loop
			case <-ctx.Done():
				return
			case <-time.After(min(every, 10*time.Minute)):
			}
			continue
		} else {
			m.log.Info("scheduled backup", "path", man.Path, "seq", man.Seq)
		}
		if res, err := m.Prune(ctx); err != nil {
			m.log.Error("backup prune failed", "err", err)
		} else if len(res.Removed) > 0 || res.ChangesRemoved > 0 {
			m.log.Info("backups pruned", "removed", len(res.Removed), "changes", res.ChangesRemoved)
		}
	}
}
