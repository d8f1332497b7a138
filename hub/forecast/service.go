package forecast

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/hub/forecast/prophet"
	"github.com/gridedge/gridedge/hub/history"
)

// Options are what the hub gives the service.
type Options struct {
	// Config is the forecast section (defaults applied by New).
	Config Config
	// DataDir holds forecast.db.
	DataDir string
	// History is the hub's history (nil: history stages fail).
	History history.Reader
	// MongoURI is the store's MongoDB URI when the store backend is mongo
	// (empty: mongo stages are refused).
	MongoURI string
	// HTTPClient makes the requests of http stages (default: 60 s timeout).
	HTTPClient *http.Client
	// Converters applies the data-model converters http stages name (nil:
	// a stage with a converter fails).
	Converters Converters
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// OnTrained is called after each training with the model's new
	// description (the NATS interface publishes it).
	OnTrained func(ModelDescription)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service manages forecast models. Its methods are safe for concurrent use.
type Service struct {
	opts   Options
	log    *slog.Logger
	store  *modelStore
	runner *stageRunner

	mu     sync.Mutex
	onDone []func(ModelDescription)
	closed bool

	jobs chan string
	// pending holds the input of queued trainings (TRAIN_PARAMS overrides).
	pending sync.Map
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New opens the model store, marks trainings a restart interrupted as
// failed, and starts the worker pool. Close stops it.
func New(opts Options) (*Service, error) {
	opts.Config.Defaults()
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	st, err := openStore(opts.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Service{
		opts: opts, log: opts.Logger, store: st,
		runner: &stageRunner{history: opts.History, mongoURI: opts.MongoURI, client: opts.HTTPClient,
			converters: opts.Converters, maxRows: opts.Config.MaxRows},
		jobs: make(chan string, opts.Config.Queue),
	}
	if opts.OnTrained != nil {
		s.onDone = append(s.onDone, opts.OnTrained)
	}
	recs, err := st.all()
	if err != nil {
		_ = st.close()
		return nil, fmt.Errorf("open forecast store: %w", err)
	}
	for _, r := range recs {
		if r.Desc.Status == StatusTraining {
			r.Desc.Status, r.Desc.Error, r.Desc.Progress = StatusError, "training interrupted by a hub restart", "interrupted"
			if r.Fitted != nil {
				r.Desc.Status, r.Desc.Error = StatusTrained, ""
			}
			if err := st.put(r); err != nil {
				_ = st.close()
				return nil, err
			}
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for range opts.Config.Workers {
		s.wg.Add(1)
		go s.worker()
	}
	return s, nil
}

// Close stops the workers (cancelling running fits) and closes the store.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return s.store.close()
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Create stores a new untrained model.
func (s *Service) Create(p ModelParams) (ModelDescription, error) {
	for i, st := range p.Input {
		if err := st.check(i); err != nil {
			return ModelDescription{}, err
		}
	}
	if err := s.runner.checkBackend(p.Input); err != nil {
		return ModelDescription{}, err
	}
	if p.Options != nil {
		if err := p.Options.Validate(); err != nil {
			return ModelDescription{}, fmt.Errorf("%w: options: %w", ErrInvalid, err)
		}
	}
	r := &record{Desc: ModelDescription{ID: newID(), Config: p, Regressors: []string{}, Status: StatusUntrained}}
	if err := s.store.put(r); err != nil {
		return ModelDescription{}, err
	}
	return r.Desc, nil
}

// Get returns a model's description.
func (s *Service) Get(id string) (ModelDescription, error) {
	r, err := s.store.get(id)
	if err != nil {
		return ModelDescription{}, err
	}
	return r.Desc, nil
}

// List paging defaults: a page holds DefaultListLimit models unless the
// caller asks for another number, at most MaxListLimit.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// ListParams select a page of models.
type ListParams struct {
	// Status keeps the models of that status only ("": every model).
	Status string `json:"status,omitempty"`
	// Skip is the number of models to skip.
	Skip int `json:"skip,omitempty"`
	// Limit is the page size (0: DefaultListLimit, at most MaxListLimit).
	Limit int `json:"limit,omitempty"`
}

// ModelList is a page of models.
type ModelList struct {
	// Models are the page's models (with status, lastDataTimestamp and
	// regressors), sorted by name, then id.
	Models []ModelDescription `json:"models"`
	// Total counts every model matching the status.
	Total int `json:"total"`
	// Skip and Limit are the page's bounds as applied.
	Skip  int `json:"skip"`
	Limit int `json:"limit"`
}

// List returns a page of the models, sorted by name then id.
func (s *Service) List(p ListParams) (ModelList, error) {
	switch p.Status {
	case "", StatusUntrained, StatusTraining, StatusTrained, StatusError:
	default:
		return ModelList{}, fmt.Errorf("%w: status %q is not one of untrained, training, trained, error", ErrInvalid, p.Status)
	}
	if p.Skip < 0 {
		return ModelList{}, fmt.Errorf("%w: skip %d is negative", ErrInvalid, p.Skip)
	}
	if p.Limit < 0 || p.Limit > MaxListLimit {
		return ModelList{}, fmt.Errorf("%w: limit %d is not in 1..%d", ErrInvalid, p.Limit, MaxListLimit)
	}
	if p.Limit == 0 {
		p.Limit = DefaultListLimit
	}
	descs, err := s.store.descriptions()
	if err != nil {
		return ModelList{}, err
	}
	descs = slices.DeleteFunc(descs, func(d ModelDescription) bool { return p.Status != "" && d.Status != p.Status })
	slices.SortFunc(descs, func(a, b ModelDescription) int {
		if c := strings.Compare(a.Config.Name, b.Config.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	out := ModelList{Models: []ModelDescription{}, Total: len(descs), Skip: p.Skip, Limit: p.Limit}
	if p.Skip < len(descs) {
		out.Models = descs[p.Skip:min(len(descs), p.Skip+p.Limit)]
	}
	return out, nil
}

// descriptions returns every model's description, without decoding the
// fitted models.
func (s *modelStore) descriptions() ([]ModelDescription, error) {
	var out []ModelDescription
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketModels).ForEach(func(k, v []byte) error {
			var r struct {
				Desc ModelDescription `json:"desc"`
			}
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode model %s: %w", k, err)
			}
			out = append(out, r.Desc)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	return out, nil
}

// Delete removes a model.
func (s *Service) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store.delete(id)
}

// Train queues a training of the model (TRAIN_PARAMS' input, else the
// model's). It is refused while the model trains, or when the queue is full.
func (s *Service) Train(id string, p TrainParams) (ModelDescription, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ModelDescription{}, ErrClosed
	}
	r, err := s.store.get(id)
	if err != nil {
		return ModelDescription{}, err
	}
	if r.Desc.Status == StatusTraining {
		return r.Desc, fmt.Errorf("train model %s: %w", id, ErrBusy)
	}
	input := p.Input
	if len(input) == 0 {
		input = r.Desc.Config.Input
	}
	if len(input) == 0 {
		return r.Desc, fmt.Errorf("%w: model %s has no input stage: give input in TRAIN_PARAMS", ErrInvalid, id)
	}
	for i, st := range input {
		if err := st.check(i); err != nil {
			return r.Desc, err
		}
	}
	if err := s.runner.checkBackend(input); err != nil {
		return r.Desc, err
	}
	prev := r.Desc
	r.Desc.Status, r.Desc.Progress, r.Desc.Error = StatusTraining, "queued", ""
	if err := s.store.put(r); err != nil {
		return prev, err
	}
	s.pending.Store(id, input)
	select {
	case s.jobs <- id:
	default:
		s.pending.Delete(id)
		r.Desc = prev
		_ = s.store.put(r)
		return prev, fmt.Errorf("train model %s: %w (%d waiting)", id, ErrQueueFull, cap(s.jobs))
	}
	return r.Desc, nil
}

func (s *Service) worker() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case id := <-s.jobs:
			v, _ := s.pending.LoadAndDelete(id)
			input, _ := v.([]InputStage)
			s.train(s.ctx, id, input)
		}
	}
}

// update changes a stored model under the service's lock.
func (s *Service) update(id string, fn func(r *record)) (ModelDescription, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.store.get(id)
	if err != nil {
		return ModelDescription{}, err
	}
	fn(r)
	if err := s.store.put(r); err != nil {
		return ModelDescription{}, err
	}
	return r.Desc, nil
}

// train runs one training and records its outcome.
func (s *Service) train(ctx context.Context, id string, input []InputStage) {
	start := s.opts.Now()
	_, _ = s.update(id, func(r *record) { r.Desc.Progress = "loading input" })
	fitted, desc, err := s.fit(ctx, id, input)
	d, uerr := s.update(id, func(r *record) {
		now := s.opts.Now().UTC()
		if err != nil {
			r.Desc.Status, r.Desc.Error, r.Desc.Progress = StatusError, err.Error(), "failed"
			return
		}
		r.Desc.Status, r.Desc.Error, r.Desc.Progress = StatusTrained, "", "done"
		r.Desc.Regressors, r.Desc.LastDataTimestamp, r.Desc.Rows = desc.Regressors, desc.LastDataTimestamp, desc.Rows
		r.Desc.TrainedAt = &now
		r.Fitted = fitted
	})
	if uerr != nil {
		s.log.Warn("forecast: model gone after training", "model", id, "err", uerr)
		return
	}
	if err != nil {
		s.log.Warn("forecast: training failed", "model", id, "err", err)
	} else {
		s.log.Info("forecast: model trained", "model", id, "rows", d.Rows, "took", s.opts.Now().Sub(start).Round(time.Millisecond))
	}
	s.mu.Lock()
	cbs := slices.Clone(s.onDone)
	s.mu.Unlock()
	for _, cb := range cbs {
		cb(d)
	}
}

// fit loads the input and fits a model.
func (s *Service) fit(ctx context.Context, id string, input []InputStage) (json.RawMessage, ModelDescription, error) {
	r, err := s.store.get(id)
	if err != nil {
		return nil, ModelDescription{}, err
	}
	tab, err := s.runner.run(ctx, input)
	if err != nil {
		return nil, ModelDescription{}, err
	}
	y, ok := tab.cols["y"]
	if !ok {
		return nil, ModelDescription{}, fmt.Errorf("%w: the input has no y column", ErrInvalid)
	}
	var opts prophet.Options
	if r.Desc.Config.Options != nil {
		opts = *r.Desc.Config.Options
	}
	f := &prophet.Frame{DS: tab.ds, Y: y, Regressors: map[string][]float64{}}
	regs := []string{}
	for name, c := range tab.cols {
		switch name {
		case "y":
		case "cap":
			f.Cap = c
		case "floor":
			f.Floor = c
		default:
			regs = append(regs, name)
			f.Regressors[name] = c
		}
	}
	slices.Sort(regs)
	// Rows where a regressor is missing cannot be used (y NaN rows are gaps).
	for i := range f.DS {
		for _, name := range regs {
			if math.IsNaN(f.Regressors[name][i]) {
				f.Y[i] = math.NaN()
			}
		}
	}
	for _, name := range regs {
		if !slices.ContainsFunc(opts.Regressors, func(rg prophet.Regressor) bool { return rg.Name == name }) {
			opts.Regressors = append(opts.Regressors, prophet.Regressor{Name: name})
		}
	}
	m, err := prophet.New(opts)
	if err != nil {
		return nil, ModelDescription{}, fmt.Errorf("%w: options: %w", ErrInvalid, err)
	}
	_, _ = s.update(id, func(r *record) { r.Desc.Progress = fmt.Sprintf("fitting %d rows", len(f.DS)) })
	if err := m.Fit(ctx, f); err != nil {
		return nil, ModelDescription{}, fmt.Errorf("fit: %w", err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, ModelDescription{}, fmt.Errorf("serialise model: %w", err)
	}
	last := m.LastTimestamp().UTC()
	n := 0
	for _, v := range f.Y {
		if !math.IsNaN(v) {
			n++
		}
	}
	return b, ModelDescription{Regressors: regs, LastDataTimestamp: &last, Rows: n}, nil
}

// Forecast predicts periods steps of freq after the model's last data
// timestamp; models with regressors need input stages giving their values
// at those timestamps.
func (s *Service) Forecast(ctx context.Context, id string, p ForecastParams) ([]ForecastRow, error) {
	r, err := s.store.get(id)
	if err != nil {
		return nil, err
	}
	switch r.Desc.Status {
	case StatusTrained:
	case StatusTraining:
		return nil, fmt.Errorf("forecast model %s: %w", id, ErrBusy)
	default:
		return nil, fmt.Errorf("forecast model %s: %w (status %s)", id, ErrNotTrained, r.Desc.Status)
	}
	if p.Periods <= 0 || p.Periods > 100000 {
		return nil, fmt.Errorf("%w: periods %d (want 1…100000)", ErrInvalid, p.Periods)
	}
	if p.Freq == "" {
		p.Freq = "D"
	}
	fq, err := ParseFreq(p.Freq)
	if err != nil {
		return nil, err
	}
	m, err := prophet.Load(r.Fitted)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", id, err)
	}
	dates := fq.Dates(m.LastTimestamp().UTC(), p.Periods)
	f := &prophet.Frame{DS: dates}
	if regs := r.Desc.Regressors; len(regs) > 0 {
		if len(p.Input) == 0 {
			return nil, fmt.Errorf("%w: model %s uses regressors %v: give their future values in FORECAST_PARAMS.input", ErrInvalid, id, regs)
		}
		tab, err := s.runner.run(ctx, p.Input)
		if err != nil {
			return nil, err
		}
		idx := make(map[int64]int, len(tab.ds))
		for i, ds := range tab.ds {
			idx[ds.UnixNano()] = i
		}
		f.Regressors = map[string][]float64{}
		for _, name := range regs {
			c, ok := tab.cols[name]
			if !ok {
				return nil, fmt.Errorf("%w: the input has no column for regressor %q", ErrInvalid, name)
			}
			vals := make([]float64, len(dates))
			for i, ds := range dates {
				j, ok := idx[ds.UnixNano()]
				if !ok || math.IsNaN(c[j]) {
					return nil, fmt.Errorf("%w: regressor %q has no value at %s", ErrInvalid, name, ds.Format(time.RFC3339))
				}
				vals[i] = c[j]
			}
			f.Regressors[name] = vals
		}
	}
	if m.Options().Growth == prophet.GrowthLogistic {
		return nil, fmt.Errorf("%w: logistic models need cap values for the forecast; not supported by FORECAST_PARAMS", ErrInvalid)
	}
	fc, err := m.Predict(f)
	if err != nil {
		return nil, fmt.Errorf("forecast model %s: %w", id, err)
	}
	out := make([]ForecastRow, len(dates))
	for i := range dates {
		out[i] = ForecastRow{DS: dates[i], Yhat: fc.Yhat[i]}
		if fc.YhatLower != nil {
			out[i].YhatLower, out[i].YhatUpper = fc.YhatLower[i], fc.YhatUpper[i]
		} else {
			out[i].YhatLower, out[i].YhatUpper = fc.Yhat[i], fc.Yhat[i]
		}
	}
	return out, nil
}

// errStatus maps an error to an HTTP status.
func errStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrBusy), errors.Is(err, ErrNotTrained):
		return http.StatusConflict
	case errors.Is(err, ErrInvalid), errors.Is(err, prophet.ErrInvalidOptions), errors.Is(err, prophet.ErrMissingColumn):
		return http.StatusBadRequest
	case errors.Is(err, ErrQueueFull), errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrStage):
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}
