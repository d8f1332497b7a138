package bolt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	bbolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/hub/store"
)

// buildChunk is how many documents the background builder indexes per
// write transaction, so that writers wait at most one chunk.
const buildChunk = 2000

// WithLogger sets the logger for index builds (default: none).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// errBuildGone ends a build whose index was dropped or redeclared.
var errBuildGone = errors.New("index no longer declared")

// startBuilds starts a background build for every index in state
// building that has none running (at Open, after PutLayer).
func (s *Store) startBuilds() error {
	type job struct{ layer, col, name string }
	var jobs []job
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLayers).ForEach(func(k, v []byte) error {
			var l store.Layer
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("decode layer %q: %w", k, err)
			}
			for _, c := range l.Collections {
				cb := tx.Bucket(collBucket(l.ID, c.Name))
				if cb == nil || cb.Bucket(bucketIndexMeta) == nil {
					continue
				}
				err := cb.Bucket(bucketIndexMeta).ForEach(func(name, mv []byte) error {
					var m indexMeta
					if err := json.Unmarshal(mv, &m); err != nil {
						return err
					}
					if m.State == indexBuilding {
						jobs = append(jobs, job{l.ID, c.Name, string(name)})
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("store: find indexes to build: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range jobs {
		key := statusID(j.layer, j.col, j.name)
		if s.building[key] {
			continue
		}
		s.building[key] = true
		s.builds.Add(1)
		go func() {
			defer s.builds.Done()
			defer func() {
				s.mu.Lock()
				delete(s.building, key)
				s.mu.Unlock()
			}()
			s.build(j.layer, j.col, j.name)
		}()
	}
	return nil
}

// build fills an index chunk by chunk, in _id order from where it stopped
// (a build interrupted by a crash or Close resumes at the next Open).
func (s *Store) build(layer, col, name string) {
	log := s.log.With("layer", layer, "collection", col, "index", name)
	log.Info("index build started")
	for {
		if err := s.buildCtx.Err(); err != nil {
			log.Info("index build paused until the store is opened again", "reason", err)
			return
		}
		var m indexMeta
		err := s.db.Update(func(tx *bbolt.Tx) error {
			var err error
			m, err = buildStep(tx, layer, col, name)
			return err
		})
		switch {
		case errors.Is(err, errBuildGone):
			log.Info("index build stopped: index no longer declared")
			return
		case err != nil:
			log.Error("index build failed", "err", err)
			return
		case m.State == indexFailed:
			log.Error("index build failed", "err", m.Error, "built", m.Built)
			return
		case m.State == indexReady:
			log.Info("index ready", "built", m.Built)
			return
		}
		log.Info("index build progress", "built", m.Built, "total", m.Total)
	}
}

// buildStep indexes the next chunk of documents and stores the progress.
func buildStep(tx *bbolt.Tx, layer, col, name string) (indexMeta, error) {
	c, err := collection(tx, layer, col)
	if err != nil {
		return indexMeta{}, errBuildGone
	}
	mb := c.cb.Bucket(bucketIndexMeta)
	if mb == nil || mb.Get([]byte(name)) == nil {
		return indexMeta{}, errBuildGone
	}
	var m indexMeta
	if err := json.Unmarshal(mb.Get([]byte(name)), &m); err != nil {
		return m, fmt.Errorf("decode meta: %w", err)
	}
	if m.State != indexBuilding {
		return m, errBuildGone
	}
	ix := &index{name: name, meta: m, entries: c.cb.Bucket(indexBucketName(name))}
	cur := c.docs.Cursor()
	k, v := cur.First()
	if m.Cursor != "" {
		k, v = cur.Seek([]byte(m.Cursor))
		if k != nil && string(k) == m.Cursor {
			k, v = cur.Next()
		}
	}
	n := 0
	for ; k != nil && n < buildChunk; k, v = cur.Next() {
		d, err := decodeDoc(v)
		if err != nil {
			return m, docErr(string(k), c.name, err)
		}
		for _, key := range ix.keys(string(k), d) {
			if other := ix.conflict(key, string(k)); other != "" {
				m.State = indexFailed
				m.Error = fmt.Sprintf("E11000 duplicate key error: index %q dup key %s (documents %q and %q)", name, ix.dupKey(d), other, string(k))
				// a failed index is neither used nor maintained: empty it
				if err := c.cb.DeleteBucket(indexBucketName(name)); err != nil {
					return m, err
				}
				if _, err := c.cb.CreateBucket(indexBucketName(name)); err != nil {
					return m, err
				}
				return m, putIndexMeta(tx, mb, layer, col, name, m)
			}
			if err := ix.entries.Put(key, k); err != nil {
				return m, err
			}
		}
		m.Cursor = string(k)
		m.Built++
		n++
	}
	if k == nil {
		m.State = indexReady
		m.Cursor = ""
	}
	return m, putIndexMeta(tx, mb, layer, col, name, m)
}

// waitBuilds waits for the running index builds (tests).
func (s *Store) waitBuilds() { s.builds.Wait() }

// buildContext returns the context that Close cancels.
func newBuildContext() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
