package bolt

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/storetest"
)

func open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := checkConsistency(s.db); err != nil {
			t.Errorf("store inconsistent at the end of the test: %v", err)
		}
		s.Close()
	})
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// checkConsistency runs bbolt's page check and verifies that every
// collection's _updated index holds exactly one entry per document, with the
// document's _updated.
func checkConsistency(db *bbolt.DB) error {
	return db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			return fmt.Errorf("bbolt check: %w", err)
		}
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			if !strings.HasPrefix(string(name), "c/") {
				return nil
			}
			docs, idx := b.Bucket(bucketDocs), b.Bucket(bucketUpdated)
			if docs == nil {
				return nil
			}
			want := map[string]bool{}
			err := docs.ForEach(func(k, v []byte) error {
				d, err := decodeDoc(v)
				if err != nil {
					return err
				}
				t, ok := updatedOf(d)
				if !ok {
					return fmt.Errorf("%s: document %q has no _updated date", name, k)
				}
				want[string(updatedKey(t, string(k)))] = true
				return nil
			})
			if err != nil {
				return err
			}
			n := 0
			err = idx.ForEach(func(k, _ []byte) error {
				n++
				if !want[string(k)] {
					return fmt.Errorf("%s: stale _updated index entry %x (id %q)", name, k[:8], bytes.Clone(k[8:]))
				}
				return nil
			})
			if err != nil {
				return err
			}
			if n != len(want) {
				return fmt.Errorf("%s: _updated index has %d entries for %d documents", name, n, len(want))
			}
			return checkIndexes(string(name), b)
		})
	})
}

// BenchmarkStore: go test -run '^$' -bench Store -benchtime 2s ./store/bolt
func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(tb testing.TB) store.Store { return open(tb) })
}

// checkIndexes verifies that every ready secondary index of a collection
// bucket holds exactly the entries its documents give.
func checkIndexes(name string, cb *bbolt.Bucket) error {
	c := &coll{name: name, cb: cb, docs: cb.Bucket(bucketDocs)}
	ixs, err := c.loadIndexes()
	if err != nil {
		return err
	}
	for _, ix := range ixs {
		if ix.meta.State != indexReady {
			continue
		}
		want := map[string]string{}
		err := c.docs.ForEach(func(k, v []byte) error {
			d, err := decodeDoc(v)
			if err != nil {
				return err
			}
			for _, key := range ix.keys(string(k), d) {
				want[string(key)] = string(k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		n := 0
		err = ix.entries.ForEach(func(k, v []byte) error {
			n++
			if id, ok := want[string(k)]; !ok || id != string(v) {
				return fmt.Errorf("%s: index %q: stale entry %x for %q", name, ix.name, k, v)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if n != len(want) {
			return fmt.Errorf("%s: index %q has %d entries, its documents give %d", name, ix.name, n, len(want))
		}
	}
	return nil
}
