package sqlite

import "testing"

// TestPlanMemory: the page caches and the readers' maps of a plaintext
// store fit the budget as the allocator holds them (a cached page's slot is
// twice what SQLite counts), and an encrypted store maps nothing.
func TestPlanMemory(t *testing.T) {
	for _, tc := range []struct{ totalMB, readers int }{{256, 4}, {64, 4}, {16, 2}, {1024, 8}} {
		p := planMemory(tc.totalMB, tc.readers, true)
		resident := int64(p.cacheKiB)<<10*slotFactor*int64(tc.readers+1) + p.mmapBytes*int64(tc.readers)
		if budget := int64(tc.totalMB) << 20; resident > budget+int64(tc.readers+1)<<20 {
			t.Errorf("%+v: %d MiB resident at most, budget %d MiB", tc, resident>>20, tc.totalMB)
		}
		if p.mmapBytes < 1<<20 || p.cacheKiB < 1024 {
			t.Errorf("%+v: plan %+v", tc, p)
		}
		e := planMemory(tc.totalMB, tc.readers, false)
		if e.mmapBytes != 0 || e.readerPragmas() != nil {
			t.Errorf("%+v: encrypted store maps %d bytes", tc, e.mmapBytes)
		}
		if got := int64(e.cacheKiB) * int64(tc.readers+1); got > int64(tc.totalMB)<<10 && e.cacheKiB > 2048 {
			t.Errorf("%+v: encrypted caches %d KiB, budget %d MiB", tc, got, tc.totalMB)
		}
	}
	if got := planMemory(256, 4, true); got.cacheKiB != 192*1024/5/2 || got.mmapBytes != 16<<20 {
		t.Errorf("default plan %+v, want caches of %d KiB and maps of 16 MiB", got, 192*1024/5/2)
	}
}
