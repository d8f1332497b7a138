package forecast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// LegacyFile is the bolt file in which hubs before the shared store kept
// their models (in Options.DataDir); New moves its models into the store
// once and renames it to LegacyFile + ".migrated".
const LegacyFile = "forecast.db"

// legacyRecord is what forecast.db kept per model.
type legacyRecord struct {
	Desc   ModelDescription `json:"desc"`
	Fitted json.RawMessage  `json:"fitted,omitempty"`
}

// migrate moves the models of dir/forecast.db into the store and renames
// the file. A model whose id the store has already is left as the store
// has it (a migration interrupted after some models, or another hub's
// file); a training the old hub was running is recorded as interrupted.
// It returns how many models it moved.
func (m *modelStore) migrate(ctx context.Context, dir string) (int, error) {
	if dir == "" {
		return 0, nil
	}
	path := filepath.Join(dir, LegacyFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("migrate %s: %w", path, err)
	}
	recs, err := readLegacy(path)
	if err != nil {
		return 0, fmt.Errorf("migrate %s: %w", path, err)
	}
	n := 0
	for _, r := range recs {
		if r.Desc.ID == "" {
			return n, fmt.Errorf("migrate %s: a model without an id", path)
		}
		if _, err := m.get(ctx, r.Desc.ID); err == nil {
			continue
		} else if !errors.Is(err, ErrNotFound) {
			return n, fmt.Errorf("migrate %s: %w", path, err)
		}
		if r.Desc.Status == StatusTraining {
			r.Desc.Status, r.Desc.Error, r.Desc.Progress = StatusError, "training interrupted by the move to the shared store", "interrupted"
			if r.Fitted != nil {
				r.Desc.Status, r.Desc.Error = StatusTrained, ""
			}
		}
		if r.Desc.Regressors == nil {
			r.Desc.Regressors = []string{}
		}
		if r.Fitted != nil {
			if err := m.putFitted(ctx, r.Desc.ID, r.Fitted); err != nil {
				return n, fmt.Errorf("migrate %s: %w", path, err)
			}
		}
		if err := m.create(ctx, r.Desc); err != nil {
			return n, fmt.Errorf("migrate %s: %w", path, err)
		}
		n++
	}
	if err := os.Rename(path, path+".migrated"); err != nil {
		return n, fmt.Errorf("migrate %s: its %d models are in the store, but: %w", path, n, err)
	}
	return n, nil
}

// readLegacy reads every record of a forecast.db.
func readLegacy(path string) ([]legacyRecord, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	defer db.Close()
	var out []legacyRecord
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("models"))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var r legacyRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode model %s: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}
