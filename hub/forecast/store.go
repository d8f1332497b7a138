package forecast

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketModels = []byte("models")

// record is what the store keeps per model: its description and the
// fitted model (prophet's JSON) of its last successful training.
type record struct {
	Desc   ModelDescription `json:"desc"`
	Fitted json.RawMessage  `json:"fitted,omitempty"`
}

// modelStore persists models in a bolt file (forecast.db in the hub's data
// directory), so they survive restarts.
type modelStore struct {
	db *bolt.DB
}

func openStore(dir string) (*modelStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open forecast store: %w", err)
	}
	path := filepath.Join(dir, "forecast.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open forecast store %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketModels)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open forecast store %s: %w", path, err)
	}
	return &modelStore{db: db}, nil
}

func (s *modelStore) close() error { return s.db.Close() }

func (s *modelStore) put(r *record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode model %s: %w", r.Desc.ID, err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketModels).Put([]byte(r.Desc.ID), b) }); err != nil {
		return fmt.Errorf("store model %s: %w", r.Desc.ID, err)
	}
	return nil
}

func (s *modelStore) get(id string) (*record, error) {
	var r *record
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketModels).Get([]byte(id))
		if b == nil {
			return ErrNotFound
		}
		r = &record{}
		return json.Unmarshal(b, r)
	})
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", id, err)
	}
	return r, nil
}

func (s *modelStore) delete(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketModels)
		if b.Get([]byte(id)) == nil {
			return fmt.Errorf("delete model %s: %w", id, ErrNotFound)
		}
		return b.Delete([]byte(id))
	})
}

// all returns every record (used at start to reset interrupted trainings).
func (s *modelStore) all() ([]*record, error) {
	var out []*record
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketModels).ForEach(func(k, v []byte) error {
			r := &record{}
			if err := json.Unmarshal(v, r); err != nil {
				return fmt.Errorf("decode model %s: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}
