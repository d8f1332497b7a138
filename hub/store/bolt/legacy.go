package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/hub/store"
)

// bucketHistory is the per-collection bucket where earlier versions kept one
// entry per reading: key <id> 0 <field> 0 <ts ns, 8 bytes> <seq, 8 bytes>,
// value the encoded value. Nothing writes it any more; the hub moves what
// it finds into its time-series history at start (store.LegacyHistory).
var bucketHistory = []byte("history")

var _ store.LegacyHistory = (*Store)(nil)

// legacyBucket returns the legacy history bucket of a collection (nil when
// it has none or it is empty).
func legacyBucket(tx *bbolt.Tx, layer, col string) *bbolt.Bucket {
	cb := tx.Bucket(collBucket(layer, col))
	if cb == nil {
		return nil
	}
	h := cb.Bucket(bucketHistory)
	if h == nil {
		return nil
	}
	if k, _ := h.Cursor().First(); k == nil {
		return nil
	}
	return h
}

// LegacyHistoryCollections lists the collections of every layer whose
// history bucket holds points.
func (s *Store) LegacyHistoryCollections(ctx context.Context) ([]store.LegacyCollection, error) {
	layers, err := s.Layers(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.LegacyCollection
	err = s.view(ctx, "list legacy history", func(tx *bbolt.Tx) error {
		for _, l := range layers {
			for _, c := range l.Collections {
				if legacyBucket(tx, l.ID, c.Name) != nil {
					out = append(out, store.LegacyCollection{Layer: l.ID, Collection: c.Name})
				}
			}
		}
		return nil
	})
	return out, err
}

// ScanLegacyHistory reads the legacy history of a collection in key order,
// which is (document, field, time).
func (s *Store) ScanLegacyHistory(ctx context.Context, layer, col string, batch int, fn func([]store.Point) error) error {
	if batch <= 0 {
		batch = 10000
	}
	return s.view(ctx, "read the legacy history of "+store.StoreName(layer, col), func(tx *bbolt.Tx) error {
		h := legacyBucket(tx, layer, col)
		if h == nil {
			return nil
		}
		pts := make([]store.Point, 0, batch)
		c := h.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			p, err := legacyPoint(k, v)
			if err != nil {
				return err
			}
			if pts = append(pts, p); len(pts) == batch {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := fn(pts); err != nil {
					return err
				}
				pts = pts[:0]
			}
		}
		if len(pts) > 0 {
			return fn(pts)
		}
		return nil
	})
}

// legacyPoint decodes one entry of the legacy history bucket.
func legacyPoint(k, v []byte) (store.Point, error) {
	parts := bytes.SplitN(k, []byte{0}, 3)
	if len(parts) != 3 || len(parts[2]) != 16 {
		return store.Point{}, fmt.Errorf("corrupt legacy history key %x", k)
	}
	val, err := decodeValue(v)
	if err != nil {
		return store.Point{}, fmt.Errorf("legacy history %s %s: %w", parts[0], parts[1], err)
	}
	ts := time.Unix(0, int64(binary.BigEndian.Uint64(parts[2][:8]))).UTC()
	return store.Point{ID: string(parts[0]), Field: string(parts[1]), TS: ts, Value: val}, nil
}

// DropLegacyHistory deletes the legacy history bucket of a collection.
func (s *Store) DropLegacyHistory(ctx context.Context, layer, col string) error {
	return s.update(ctx, "drop the legacy history of "+store.StoreName(layer, col), func(tx *bbolt.Tx) error {
		cb := tx.Bucket(collBucket(layer, col))
		if cb == nil || cb.Bucket(bucketHistory) == nil {
			return nil
		}
		return cb.DeleteBucket(bucketHistory)
	})
}
