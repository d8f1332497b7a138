package agent

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridedge/gridedge/edge/buffer"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
)

// A full disk under the agent: the pipeline reports the failure, the buffer
// counts every refused reading for the heartbeat, the live bus still gets
// them, and what was buffered before stays.
func TestFullDiskReadingsCountedAndStillLive(t *testing.T) {
	disk := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(disk, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", disk).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
	p, leaf, _ := testPipeline(t)
	buf, err := buffer.Open(filepath.Join(disk, "buffer.db"), buffer.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { buf.Close() })
	p.buf = buf
	ctx := context.Background()
	ts := time.Now().UTC()
	if err := p.Process(ctx, 0, []model.Update{poll(1, 1, ts)}); err != nil {
		t.Fatal(err)
	}
	// fill the disk
	f, err := os.Create(filepath.Join(disk, "ballast"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(make([]byte, 64<<10)); err != nil {
			break
		}
	}
	f.Close()

	app, err := leaf.Connect("app", "e1")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	sub, err := app.SubscribeSync(subject.LiveAll("t", "e1"))
	if err != nil {
		t.Fatal(err)
	}
	app.Flush()
	const polls = 3
	for i := range polls {
		err := p.Process(ctx, 0, []model.Update{poll(1, 2+i, ts.Add(time.Second)), poll(2, 2+i, ts.Add(time.Second))})
		if err == nil || errors.Is(err, buffer.ErrFull) {
			t.Fatalf("Process on a full disk: got %v, want the store error", err)
		}
	}
	for i := range 2 * polls {
		if _, err := sub.NextMsg(5 * time.Second); err != nil {
			t.Fatalf("live reading %d not published while the disk is full: %v", i, err)
		}
	}
	st, err := buf.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Refused != 2*polls || st.Depth != 1 || st.LastError == "" {
		t.Fatalf("buffer stats: got refused %d depth %d error %q, want %d refused and the first reading kept", st.Refused, st.Depth, st.LastError, 2*polls)
	}
}
