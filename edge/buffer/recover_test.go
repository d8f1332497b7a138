package buffer

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// filled writes a real buffer file with n updates, acknowledges the first
// acked, and returns its bytes.
func filled(t *testing.T, path string, n, acked int) []byte {
	t.Helper()
	b, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := b.Append(upd(i, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Ack(uint64(acked)); err != nil {
		t.Fatal(err)
	}
	b.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A corrupt buffer.db does not stop the agent: it is moved aside, kept
// byte for byte, and a fresh queue starts, reporting the recovery.
func TestCorruptFileIsMovedAside(t *testing.T) {
	good := filled(t, filepath.Join(t.TempDir(), "good.db"), 3000, 1000)
	scrambled := bytes.Clone(good)
	for i := 4096 * 3; i < len(scrambled)-4096; i += 7 {
		scrambled[i] ^= 0x5a
	}
	badVersion := bytes.Clone(good)
	for _, off := range []int{16 + 4, 4096 + 16 + 4} { // the version field of both meta pages
		badVersion[off] = 99
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"garbage", []byte("this is not a bbolt file, just garbage bytes that fill a page")},
		{"zeros", make([]byte, 8192)},
		{"truncated to 100 bytes", good[:100]},
		{"truncated to 5000 bytes", good[:5000]},
		{"truncated to half", good[:len(good)/2]},
		{"scrambled pages", scrambled},
		{"unknown version", badVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "buffer.db")
			if err := writeFile(path, tt.data); err != nil {
				t.Fatal(err)
			}
			b, err := Open(path, Options{})
			if err != nil {
				t.Fatalf("Open: %v; want the corrupt file replaced", err)
			}
			st, err := b.Stats()
			if err != nil {
				t.Fatal(err)
			}
			r := st.Recovered
			if r == nil || r.Reason == "" || !strings.HasPrefix(r.File, path+".corrupt-") || time.Since(r.At) > time.Minute {
				t.Fatalf("recovered: got %+v, want the file moved aside with a reason", r)
			}
			kept, err := os.ReadFile(r.File)
			if err != nil || !bytes.Equal(kept, tt.data) {
				t.Fatalf("the corrupt file was not kept as it was (%v)", err)
			}
			if st.Depth != 0 {
				t.Fatalf("fresh queue holds %d updates", st.Depth)
			}
			first, err := b.Append(upd(1, time.Now()))
			if err != nil {
				t.Fatal(err)
			}
			if first != 1 {
				t.Fatalf("first seq of the fresh queue: got %d, want 1 (Rebase moves it above the hub's mark)", first)
			}
			// the record survives a restart; a healthy file is not moved again
			b.Close()
			b2 := open(t, path, Options{})
			st2, _ := b2.Stats()
			if st2.Recovered == nil || st2.Recovered.File != r.File || st2.Depth != 1 {
				t.Fatalf("after a restart: %+v", st2)
			}
			if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 1 {
				t.Fatalf("files moved aside: %v, want 1", m)
			}
		})
	}
}

// Errors that are not corruption leave the file where it is.
func TestOpenErrorsOtherThanCorruptionKeepTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "buffer.db")
	if err := os.Mkdir(path, 0o700); err != nil { // a directory where the file should be
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	if err == nil || errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: got %v, want a plain error", err)
	}
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 0 {
		t.Fatalf("moved aside: %v", m)
	}
}

// A fresh queue after a recovery continues above the hub's high-water mark
// (the forwarder's alignment), so its updates are not taken for replays.
func TestRecoveredQueueContinuesAboveTheHub(t *testing.T) {
	path := filepath.Join(t.TempDir(), "buffer.db")
	if err := writeFile(path, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	b := open(t, path, Options{})
	b.Append(upd(0, time.Now()), upd(1, time.Now())) // 1, 2
	shift, err := b.Rebase(500)                      // the hub applied up to 500 from the lost file
	if err != nil || shift != 500 {
		t.Fatalf("Rebase: %d, %v; want 500", shift, err)
	}
	es, _ := b.Peek(10, 1<<20)
	if len(es) != 2 || es[0].Seq != 501 {
		t.Fatalf("after rebase: %+v", es)
	}
}
