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

	"github.com/gridedge/gridedge/hub/forecast/prophet"
	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/store"
)

// Options are what the hub gives the service.
type Options struct {
	// Config is the forecast section (defaults applied by New).
	Config Config
	// Store is the hub's document store, which keeps the models
	// (SystemLayer: ModelsCollection, FittedCollection,
	// TrainingCollection); hubs sharing it share the models.
	Store store.Store
	// Instance names this hub in training claims (the NATS server name);
	// at start, claims of this name are trainings a restart interrupted.
	Instance string
	// DataDir is where an older hub kept forecast.db: New moves its models
	// into Store once and renames it forecast.db.migrated ("": none).
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

	jobs   chan job
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// job is a queued training.
type job struct {
	id    string
	token string // the training claim's
	input []InputStage
}

// opTimeout bounds one store operation of a request.
const opTimeout = 30 * time.Second

// New creates the forecast collections, moves the models of an older
// forecast.db into the store, marks the trainings a restart of this hub
// interrupted as failed, and starts the worker pool. Close stops it.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("start the forecast service: no store")
	}
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
	if opts.Instance == "" {
		opts.Instance = "hub"
	}
	st := &modelStore{st: opts.Store, instance: opts.Instance, now: opts.Now}
	s := &Service{
		opts: opts, log: opts.Logger, store: st,
		runner: &stageRunner{history: opts.History, mongoURI: opts.MongoURI, client: opts.HTTPClient,
			converters: opts.Converters, maxRows: opts.Config.MaxRows},
		jobs: make(chan job, opts.Config.Queue),
	}
	if opts.OnTrained != nil {
		s.onDone = append(s.onDone, opts.OnTrained)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := st.ensure(ctx); err != nil {
		return nil, err
	}
	if n, err := st.migrate(ctx, opts.DataDir); err != nil {
		return nil, fmt.Errorf("start the forecast service: %w", err)
	} else if n > 0 {
		s.log.Info("forecast: models moved from forecast.db into the store", "models", n, "store", SystemLayer+"/"+ModelsCollection)
	}
	if err := s.resetInterrupted(ctx); err != nil {
		return nil, fmt.Errorf("start the forecast service: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for range opts.Config.Workers {
		s.wg.Add(1)
		go s.worker()
	}
	return s, nil
}

// resetInterrupted marks the trainings this hub (by its instance name)
// claimed before a restart as interrupted and releases their claims; the
// other hubs' claims are theirs.
func (s *Service) resetInterrupted(ctx context.Context) error {
	claims, err := s.store.claims(ctx)
	if err != nil {
		return err
	}
	for id, c := range claims {
		if c.Instance != s.opts.Instance {
			continue
		}
		d, err := s.store.get(ctx, id)
		if err == nil && d.Status == StatusTraining {
			d.Status, d.Error, d.Progress = StatusError, "training interrupted by a restart of hub "+c.Instance, "interrupted"
			if _, ferr := s.store.fitted(ctx, id); ferr == nil {
				d.Status, d.Error = StatusTrained, "" // the previous training's model is still there
			}
			err = s.store.put(ctx, d)
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := s.store.release(ctx, id, c.Token); err != nil {
			return err
		}
	}
	return nil
}

// opCtx is the context of one store operation of a request.
func (s *Service) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, opTimeout)
}

// Close stops the workers (cancelling running fits and releasing their
// claims). The store is the hub's: it stays open.
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
	// trainings queued but not started: give their models back
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	for {
		select {
		case j := <-s.jobs:
			s.abandon(ctx, j, "training not started: the hub stopped")
		default:
			return nil
		}
	}
}

// abandon records that a claimed training will not run and releases its
// claim.
func (s *Service) abandon(ctx context.Context, j job, why string) {
	d, err := s.store.get(ctx, j.id)
	if err == nil && d.Status == StatusTraining {
		d.Status, d.Error, d.Progress = StatusError, why, "interrupted"
		if _, ferr := s.store.fitted(ctx, j.id); ferr == nil {
			d.Status, d.Error = StatusTrained, ""
		}
		err = s.store.put(ctx, d)
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.log.Warn("forecast: record an abandoned training", "model", j.id, "err", err)
	}
	if err := s.store.release(ctx, j.id, j.token); err != nil {
		s.log.Warn("forecast: release an abandoned training", "model", j.id, "err", err)
	}
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
	d := ModelDescription{ID: newID(), Config: p, Regressors: []string{}, Status: StatusUntrained}
	ctx, cancel := s.opCtx()
	defer cancel()
	if err := s.store.create(ctx, d); err != nil {
		return ModelDescription{}, err
	}
	return d, nil
}

// Get returns a model's description.
func (s *Service) Get(id string) (ModelDescription, error) {
	ctx, cancel := s.opCtx()
	defer cancel()
	return s.store.get(ctx, id)
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
	ctx, cancel := s.opCtx()
	defer cancel()
	descs, err := s.store.descriptions(ctx)
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

// Delete removes a model (a training running meanwhile finds it gone).
func (s *Service) Delete(id string) error {
	ctx, cancel := s.opCtx()
	defer cancel()
	return s.store.delete(ctx, id)
}

// Train queues a training of the model (TRAIN_PARAMS' input, else the
// model's). It is refused (ErrBusy) while the model trains on this hub or
// another one sharing the store: the training is claimed in the store
// first, so of several hubs asked at once one trains. A claim older than
// Config.TrainTimeout plus a minute, left by a hub that died training, is
// taken over. Train is also refused when the queue is full.
func (s *Service) Train(id string, p TrainParams) (ModelDescription, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ModelDescription{}, ErrClosed
	}
	ctx, cancel := s.opCtx()
	defer cancel()
	d, err := s.store.get(ctx, id)
	if err != nil {
		return ModelDescription{}, err
	}
	input := p.Input
	if len(input) == 0 {
		input = d.Config.Input
	}
	if len(input) == 0 {
		return d, fmt.Errorf("%w: model %s has no input stage: give input in TRAIN_PARAMS", ErrInvalid, id)
	}
	for i, st := range input {
		if err := st.check(i); err != nil {
			return d, err
		}
	}
	if err := s.runner.checkBackend(input); err != nil {
		return d, err
	}
	if len(s.jobs) == cap(s.jobs) {
		return d, fmt.Errorf("train model %s: %w (%d waiting)", id, ErrQueueFull, cap(s.jobs))
	}
	token, err := s.store.claimTraining(ctx, id, s.opts.Config.staleAfter())
	if err != nil {
		if cur, gerr := s.store.get(ctx, id); gerr == nil {
			d = cur
		}
		return d, err
	}
	j := job{id: id, token: token, input: input}
	// the description is read again: another hub's training may have
	// ended between the read above and the claim
	if d, err = s.store.get(ctx, id); err == nil {
		d.Status, d.Progress, d.Error = StatusTraining, "queued", ""
		err = s.store.put(ctx, d)
	}
	if err != nil {
		_ = s.store.release(ctx, id, token)
		return d, err
	}
	select {
	case s.jobs <- j: // the workers only take jobs: the check above holds under s.mu
	default:
		s.abandon(ctx, j, "training queue full")
		return d, fmt.Errorf("train model %s: %w (%d waiting)", id, ErrQueueFull, cap(s.jobs))
	}
	return d, nil
}

func (s *Service) worker() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case j := <-s.jobs:
			s.train(j)
		}
	}
}

// train runs one training, bounded by Config.TrainTimeout, records its
// outcome unless the claim was taken over meanwhile, and releases the
// claim.
func (s *Service) train(j job) {
	id := j.id
	start := s.opts.Now()
	ctx, cancel := context.WithTimeout(s.ctx, time.Duration(s.opts.Config.TrainTimeout))
	defer cancel()
	// the outcome is recorded even when the hub is stopping
	octx, ocancel := context.WithTimeout(context.WithoutCancel(s.ctx), opTimeout)
	defer ocancel()
	if err := s.store.progress(octx, id, "loading input"); err != nil {
		s.log.Warn("forecast: record progress", "model", id, "err", err)
	}
	fitted, desc, err := s.fit(ctx, id, j.input)
	if s.ctx.Err() != nil {
		s.abandon(octx, j, "training interrupted: the hub stopped")
		return
	}
	if held, herr := s.store.holds(octx, id, j.token); herr != nil || !held {
		s.log.Warn("forecast: training outcome dropped: its claim was taken over or the store failed", "model", id, "err", herr)
		return
	}
	defer func() {
		if err := s.store.release(octx, id, j.token); err != nil {
			s.log.Warn("forecast: release the training claim", "model", id, "err", err)
		}
	}()
	if err == nil {
		err = s.store.putFitted(octx, id, fitted)
	}
	d, uerr := s.store.get(octx, id)
	if uerr == nil {
		now := s.opts.Now().UTC()
		if err != nil {
			d.Status, d.Error, d.Progress = StatusError, err.Error(), "failed"
		} else {
			d.Status, d.Error, d.Progress = StatusTrained, "", "done"
			d.Regressors, d.LastDataTimestamp, d.Rows = desc.Regressors, desc.LastDataTimestamp, desc.Rows
			d.TrainedAt = &now
		}
		uerr = s.store.put(octx, d)
	}
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
	d, err := s.store.get(ctx, id)
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
	if d.Config.Options != nil {
		opts = *d.Config.Options
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
	if err := s.store.progress(ctx, id, fmt.Sprintf("fitting %d rows", len(f.DS))); err != nil {
		s.log.Warn("forecast: record progress", "model", id, "err", err)
	}
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
	d, err := s.store.get(ctx, id)
	if err != nil {
		return nil, err
	}
	switch d.Status {
	case StatusTrained:
	case StatusTraining:
		return nil, fmt.Errorf("forecast model %s: %w", id, ErrBusy)
	default:
		return nil, fmt.Errorf("forecast model %s: %w (status %s)", id, ErrNotTrained, d.Status)
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
	fitted, err := s.store.fitted(ctx, id)
	if err != nil {
		return nil, err
	}
	m, err := prophet.Load(fitted)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", id, err)
	}
	dates := fq.Dates(m.LastTimestamp().UTC(), p.Periods)
	f := &prophet.Frame{DS: dates}
	if regs := d.Regressors; len(regs) > 0 {
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
