package buffer

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

// smallDisk mounts a tmpfs of size bytes (root only; CI runs as root) and
// returns its path; the test is skipped where mounting is not possible.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// bigUpd is an update of about 2 KB.
func bigUpd(i int) model.Update {
	ts := time.Now()
	return model.MeasurementUpdate("demo", "meters", "M1", ts, map[string]model.Measurement{
		"blob": {Value: strings.Repeat(string(rune('a'+i%26)), 2000), Quality: model.QualityGood, Timestamp: ts},
	})
}

// A full disk: every update a failed Append did not store is counted, with
// the error and its time; what was buffered stays readable; once there is
// room again, appends succeed and the count stays.
func TestFullDiskRefusalsAreCounted(t *testing.T) {
	disk := smallDisk(t, "1m")
	ballast := filepath.Join(disk, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 256<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	b := open(t, filepath.Join(disk, "buffer.db"), Options{})
	stored := 0
	var refused uint64
	for i := 0; ; i++ {
		if i > 10_000 {
			t.Fatal("a 1 MiB disk took 20 MB of updates")
		}
		if _, err := b.Append(bigUpd(i)); err != nil {
			if errors.Is(err, ErrFull) {
				t.Fatalf("Append: %v; want a store error", err)
			}
			refused++
			break
		}
		stored++
	}
	for i := range 5 {
		if _, err := b.Append(bigUpd(i), bigUpd(i+1), bigUpd(i+2)); err == nil {
			t.Fatal("Append on a full disk succeeded")
		}
		refused += 3
	}
	st, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Refused != refused || st.LastError == "" || st.LastErrorAt == nil || time.Since(*st.LastErrorAt) > time.Minute {
		t.Fatalf("stats: got refused %d, last error %q at %v; want refused %d with the error", st.Refused, st.LastError, st.LastErrorAt, refused)
	}
	if st.Depth != uint64(stored) || st.Dropped != 0 || st.Rejected != 0 {
		t.Fatalf("stats: got depth %d dropped %d rejected %d, want the %d stored updates kept", st.Depth, st.Dropped, st.Rejected, stored)
	}
	if es, err := b.Peek(stored+10, 1<<30); err != nil || len(es) != stored {
		t.Fatalf("peek: %d entries, %v; want %d", len(es), err, stored)
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	first, err := b.Append(bigUpd(0))
	if err != nil {
		t.Fatalf("Append with room again: %v", err)
	}
	if want := uint64(stored + 1); first != want {
		t.Fatalf("seq after the episode: got %d, want %d (refused updates take no numbers)", first, want)
	}
	if st, _ := b.Stats(); st.Refused != refused || st.Depth != uint64(stored+1) {
		t.Fatalf("after the episode: refused %d depth %d, want %d and %d", st.Refused, st.Depth, refused, stored+1)
	}
}
