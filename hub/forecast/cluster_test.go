package forecast

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/mongo"
	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
	"github.com/gridedge/gridedge/shared/config"
)

// sharedStores are the stores two hubs share in the cluster tests: one
// bolt store used by two services in-process, and the Mongo wire-protocol
// test server (skipped when it is missing).
var sharedStores = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"bolt", testStore},
	{"mongo", func(t *testing.T) store.Store {
		uri, _ := mongotest.URI(t)
		st, err := mongo.Open(context.Background(), uri, mongotest.DatabaseName())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
}

// hubService is a forecast service named instance on st.
func hubService(t *testing.T, st store.Store, instance string) *Service {
	t.Helper()
	s, err := New(Options{Store: st, Instance: instance, Logger: quiet, HTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// gatedServer serves dataServer's rows once gate is closed, so that a
// training stays claimed until the test lets it go on; started counts
// the requests it received.
func gatedServer(t *testing.T, data *httptest.Server) (srv *httptest.Server, gate chan struct{}, started chan struct{}) {
	gate, started = make(chan struct{}), make(chan struct{}, 16)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		resp, err := http.Get(data.URL + "?" + r.URL.RawQuery)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var v any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		_ = json.NewEncoder(w).Encode(v)
	}))
	t.Cleanup(srv.Close)
	return srv, gate, started
}

// TestTwoHubsShareModels: two hubs on one store see the same models: a
// model made on A is trained through B and forecast on both with the same
// rows; a train request on both at once trains once, the other answering
// 409; a deletion on B is seen on A.
func TestTwoHubsShareModels(t *testing.T) {
	for _, ss := range sharedStores {
		t.Run(ss.name, func(t *testing.T) {
			st := ss.open(t)
			a, b := hubService(t, st, "hub-a"), hubService(t, st, "hub-b")
			data, last := dataServer(t)
			gated, gate, started := gatedServer(t, data)

			d, err := a.Create(ModelParams{Name: "load", Input: []InputStage{trainStage(gated.URL)}})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := b.Get(d.ID); err != nil || got.Config.Name != "load" || got.Status != StatusUntrained {
				t.Fatalf("get on B: got %+v, %v; want the untrained model made on A", got, err)
			}
			if l, err := b.List(ListParams{}); err != nil || l.Total != 1 || l.Models[0].ID != d.ID {
				t.Fatalf("list on B: got %+v, %v", l, err)
			}

			// Both hubs asked to train at once: one claims the training.
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, s := range []*Service{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = s.Train(d.ID, TrainParams{})
				}()
			}
			wg.Wait()
			if (errs[0] == nil) == (errs[1] == nil) {
				t.Fatalf("train on both: got %v and %v, want one accepted and one refused", errs[0], errs[1])
			}
			refused := errs[0]
			if refused == nil {
				refused = errs[1]
			}
			if !errors.Is(refused, ErrBusy) || errStatus(refused) != http.StatusConflict {
				t.Errorf("refused train: got %v (HTTP %d), want ErrBusy, 409", refused, errStatus(refused))
			}
			<-started // the training runs (its input is being loaded)
			for _, s := range []*Service{a, b} {
				if _, err := s.Train(d.ID, TrainParams{}); !errors.Is(err, ErrBusy) {
					t.Errorf("train while training on %s: got %v, want ErrBusy", s.opts.Instance, err)
				}
				if _, err := s.Forecast(context.Background(), d.ID, ForecastParams{Periods: 1}); !errors.Is(err, ErrBusy) {
					t.Errorf("forecast while training on %s: got %v, want ErrBusy", s.opts.Instance, err)
				}
			}
			close(gate)
			got := waitStatus(t, a, d.ID, StatusTrained)
			if got.LastDataTimestamp == nil || !got.LastDataTimestamp.Equal(last) || len(got.Regressors) != 1 {
				t.Errorf("trained model on A: got %+v", got)
			}
			if len(started) != 0 {
				t.Errorf("%d more trainings loaded input, want one training", len(started))
			}
			fp := ForecastParams{Periods: 5, Freq: "D", Input: []InputStage{futureStage(data.URL)}}
			ra, err := a.Forecast(context.Background(), d.ID, fp)
			if err != nil {
				t.Fatal(err)
			}
			rb, err := b.Forecast(context.Background(), d.ID, fp)
			if err != nil {
				t.Fatal(err)
			}
			if len(ra) != 5 || len(rb) != 5 || ra[4] != rb[4] {
				t.Errorf("forecasts: A %v, B %v; want the same 5 rows", ra, rb)
			}
			if _, err := st.Get(context.Background(), SystemLayer, TrainingCollection, d.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("training claim after training: got %v, want it released", err)
			}

			// Trained again through B, with A seeing the new training.
			before := got.TrainedAt
			if _, err := b.Train(d.ID, TrainParams{Input: []InputStage{trainStage(data.URL)}}); err != nil {
				t.Fatal(err)
			}
			if got = waitStatus(t, a, d.ID, StatusTrained); got.TrainedAt == nil || got.TrainedAt.Before(*before) {
				t.Errorf("trained again through B: A sees trainedAt %v, want after %v", got.TrainedAt, before)
			}
			if err := b.Delete(d.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Get(d.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("get on A after delete on B: got %v, want ErrNotFound", err)
			}
			if _, err := st.Get(context.Background(), SystemLayer, FittedCollection, d.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("fitted model after delete: got %v, want it deleted", err)
			}
		})
	}
}

// TestStaleTrainingTakenOver: a training claimed by a hub that died is
// refused (409) until the claim is older than trainTimeout plus a minute,
// then taken over; a restarted hub marks its own interrupted trainings
// as failed and releases them.
func TestStaleTrainingTakenOver(t *testing.T) {
	st := testStore(t)
	data, _ := dataServer(t)
	now := time.Now()
	clock := func() time.Time { return now }
	b, err := New(Options{Store: st, Instance: "hub-b", Logger: quiet, Now: func() time.Time { return clock() },
		Config: Config{TrainTimeout: config10m}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	d, err := b.Create(ModelParams{Name: "load", Input: []InputStage{trainStage(data.URL)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// hub-a claimed the training, then died
	claimed := now.Add(-10 * time.Minute)
	if _, err := st.Insert(ctx, SystemLayer, TrainingCollection, []store.Document{{"_id": d.ID, "token": "t-a", "instance": "hub-a", "claimed": claimed}}); err != nil {
		t.Fatal(err)
	}
	d.Status, d.Progress = StatusTraining, "fitting 120 rows"
	if err := b.store.put(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Train(d.ID, TrainParams{}); !errors.Is(err, ErrBusy) || errStatus(err) != http.StatusConflict {
		t.Fatalf("train with a 10 min old claim (timeout 10m + 1m): got %v, want 409 busy", err)
	}
	now = now.Add(61*time.Second + time.Millisecond)
	if _, err := b.Train(d.ID, TrainParams{}); err != nil {
		t.Fatalf("train with a stale claim: got %v, want it taken over", err)
	}
	if got := waitStatus(t, b, d.ID, StatusTrained); got.Rows != 120 {
		t.Errorf("trained: got %+v", got)
	}

	// hub-b restarts while a training it claimed was running
	if _, err := st.Insert(ctx, SystemLayer, TrainingCollection, []store.Document{{"_id": d.ID, "token": "t-b", "instance": "hub-b", "claimed": now}}); err != nil {
		t.Fatal(err)
	}
	d, _ = b.Get(d.ID)
	d.Status = StatusTraining
	if err := b.store.put(ctx, d); err != nil {
		t.Fatal(err)
	}
	b2 := hubService(t, st, "hub-b")
	if got, _ := b2.Get(d.ID); got.Status != StatusTrained || got.Progress != "interrupted" {
		t.Errorf("after the restart: got %s (%s), want trained (its previous model), progress interrupted", got.Status, got.Progress)
	}
	if _, err := st.Get(ctx, SystemLayer, TrainingCollection, d.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("claim after the restart: got %v, want it released", err)
	}
}

// config10m is a TrainTimeout of ten minutes.
var config10m = config.Duration(10 * time.Minute)

// TestMigrateForecastDB: the models of an older hub's forecast.db (a
// trained one, one that was training, an untrained one) move into the
// store at start, the file is renamed forecast.db.migrated, the trained
// model forecasts as before, and a later start has nothing to move.
func TestMigrateForecastDB(t *testing.T) {
	data, _ := dataServer(t)
	// a trained model, made by the current service, as forecast.db held it
	src := testStore(t)
	s0 := newService(t, src)
	d0, err := s0.Create(ModelParams{Name: "trained", Input: []InputStage{trainStage(data.URL)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s0.Train(d0.ID, TrainParams{}); err != nil {
		t.Fatal(err)
	}
	d0 = waitStatus(t, s0, d0.ID, StatusTrained)
	fp := ForecastParams{Periods: 3, Freq: "D", Input: []InputStage{futureStage(data.URL)}}
	want, err := s0.Forecast(context.Background(), d0.ID, fp)
	if err != nil {
		t.Fatal(err)
	}
	fitted, err := s0.store.fitted(context.Background(), d0.ID)
	if err != nil {
		t.Fatal(err)
	}
	s0.Close()

	dir := t.TempDir()
	recs := []legacyRecord{
		{Desc: d0, Fitted: fitted},
		{Desc: ModelDescription{ID: "m-training", Config: ModelParams{Name: "interrupted"}, Status: StatusTraining, Progress: "fitting"}},
		{Desc: ModelDescription{ID: "m-new", Config: ModelParams{Name: "untrained"}, Regressors: []string{}, Status: StatusUntrained}},
	}
	writeLegacy(t, filepath.Join(dir, LegacyFile), recs)

	st := testStore(t)
	s, err := New(Options{Store: st, DataDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(dir, LegacyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("forecast.db after the migration: got %v, want it renamed", err)
	}
	if _, err := os.Stat(filepath.Join(dir, LegacyFile+".migrated")); err != nil {
		t.Errorf("forecast.db.migrated: %v", err)
	}
	l, err := s.List(ListParams{})
	if err != nil || l.Total != 3 {
		t.Fatalf("models after the migration: got %+v, %v; want 3", l, err)
	}
	for _, m := range l.Models {
		switch m.ID {
		case d0.ID:
			if m.Status != StatusTrained || !m.LastDataTimestamp.Equal(*d0.LastDataTimestamp) || m.Rows != d0.Rows {
				t.Errorf("trained model: got %+v, want %+v", m, d0)
			}
		case "m-training":
			if m.Status != StatusError || m.Error == "" {
				t.Errorf("interrupted training: got %s (%q), want error with a reason", m.Status, m.Error)
			}
		case "m-new":
			if m.Status != StatusUntrained {
				t.Errorf("untrained model: got %s", m.Status)
			}
		}
	}
	got, err := s.Forecast(context.Background(), d0.ID, fp)
	if err != nil || len(got) != 3 || got[2] != want[2] {
		t.Errorf("forecast after the migration: got %v, %v; want %v", got, err, want)
	}
	s.Close()
	// a second start finds nothing to move and keeps the models
	s2, err := New(Options{Store: st, DataDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if l, err := s2.List(ListParams{}); err != nil || l.Total != 3 {
		t.Errorf("models after a second start: got %d, %v; want 3", l.Total, err)
	}

	// a forecast.db that cannot be read stops the start, naming it
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, LegacyFile), []byte("not a bolt file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Store: testStore(t), DataDir: bad, Logger: quiet}); err == nil || !strings.Contains(err.Error(), LegacyFile) {
		t.Errorf("unreadable forecast.db: got %v, want an error naming it", err)
	}
}

// writeLegacy writes recs as an older hub's forecast.db.
func writeLegacy(t *testing.T, path string, recs []legacyRecord) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("models"))
		if err != nil {
			return err
		}
		for _, r := range recs {
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(r.Desc.ID), v); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestModelConfigKeysKept: MODEL_PARAMS whose stages hold keys that are
// awkward as field names (dots, a leading '$', which MongoDB restricts in
// updates) are stored and read back as given, on both store backends.
func TestModelConfigKeysKept(t *testing.T) {
	for _, ss := range sharedStores {
		t.Run(ss.name, func(t *testing.T) {
			s := hubService(t, ss.open(t), "hub-a")
			stage := InputStage{HTTP: &HTTPStage{
				Request: HTTPRequest{URL: "http://127.0.0.1:1/x", Params: map[string]any{"a.b": 1.0, "$top": "5"}, Headers: map[string]string{"X.Key": "v"}},
				Mapping: Mapping{Rows: "data", Columns: map[string]string{"ds": "d", "y": "v", "temp.max": "t"}}}}
			d, err := s.Create(ModelParams{Name: "dotted", Input: []InputStage{stage}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(d.ID)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(d.Config)
			have, _ := json.Marshal(got.Config)
			if string(want) != string(have) {
				t.Errorf("config read back:\n got %s\nwant %s", have, want)
			}
		})
	}
}
