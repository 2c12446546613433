package backup_test

import (
	"context"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/backup"
)

func TestRetentionTiers(t *testing.T) {
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *contextd.BackupManifest {
		return &contextd.BackupManifest{ID: now.Add(-d).Format(time.RFC3339), CreatedAt: now.Add(-d)}
	}
	h, d := time.Hour, 24*time.Hour
	bs := []*contextd.BackupManifest{
		ago(62 * d), ago(1 * h), ago(5 * h), ago(2 * d), ago(2*d + h), ago(20 * d), ago(20*d + h),
		ago(60 * d), ago(61 * d), ago(100 * d),
	}
	keep, remove := backup.DefaultRetention.Keep(bs, now)
	var kept, tiers []string
	for _, b := range keep {
		kept = append(kept, b.ID)
		tiers = append(tiers, b.Tier)
	}
	want := []*contextd.BackupManifest{bs[1], bs[2], bs[3], bs[5], bs[7], bs[8]}
	wantTiers := []string{"latest", "recent", "daily", "weekly", "monthly", "monthly"}
	if len(keep) != len(want) {
		t.Fatalf("kept %v (%v), want 6", kept, tiers)
	}
	for i := range want {
		if keep[i].ID != want[i].ID || keep[i].Tier != wantTiers[i] {
			t.Errorf("kept[%d] = %s (%s), want %s (%s)", i, keep[i].ID, keep[i].Tier, want[i].ID, wantTiers[i])
		}
	}
	if len(remove) != 4 {
		t.Errorf("removed %d, want 4", len(remove))
	}
	// The newest is kept even when older than the retention.
	keep, _ = backup.Retention{Days: 1}.Keep([]*contextd.BackupManifest{ago(10 * d), ago(20 * d)}, now)
	if len(keep) != 1 || keep[0].Tier != "latest" {
		t.Errorf("old backups only: kept %v", keep)
	}
}

func TestParseSchedule(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "off": 0, "hourly": time.Hour, "daily": 24 * time.Hour, "weekly": 7 * 24 * time.Hour, "6h": 6 * time.Hour} {
		if got, err := backup.ParseSchedule(in); err != nil || got != want {
			t.Errorf("ParseSchedule(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"sometimes", "1s", "-1h"} {
		if _, err := backup.ParseSchedule(in); err == nil {
			t.Errorf("ParseSchedule(%q): no error", in)
		}
	}
}

// TestScheduler runs the loop with a short interval: it backs up, prunes,
// and stops with its context; with 0 it does nothing.
func TestScheduler(t *testing.T) {
	st := openSQLite(t, t.TempDir(), time.Now)
	dir := t.TempDir()
	mgr, err := backup.New(backup.Options{Dir: dir, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	mgr.Run(context.Background(), 0) // off: returns at once
	if ms, _ := backup.List(dir); len(ms) != 0 {
		t.Fatalf("a scheduler that is off made %d backups", len(ms))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); mgr.Run(ctx, 100*time.Millisecond) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ms, _ := backup.List(dir); len(ms) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the scheduler made fewer than 2 backups in 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the scheduler did not stop with its context")
	}
}
