package forecast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// Where the models live in the hub's document store, so that every hub of
// a cluster sharing the store (store.backend: mongo) sees the same models.
const (
	// SystemLayer is the layer of the forecast collections.
	SystemLayer = "system"
	// ModelsCollection holds one document per model: its description
	// (MODEL_DESCRIPTION, _id the model's id).
	ModelsCollection = "forecastModels"
	// FittedCollection holds the fitted model (prophet's JSON, in the
	// string field "model") of a model's last successful training, under
	// the model's id. It is apart from the description so that listing
	// and getting models never loads it.
	FittedCollection = "forecastFitted"
	// TrainingCollection holds the claims of running trainings, one per
	// model under its id: the hub holding it trains the model.
	TrainingCollection = "forecastTraining"
)

// MaxFittedSize bounds a fitted model's JSON: well under MongoDB's 16 MiB
// document limit. With Prophet's defaults a model is a few kilobytes (3.4
// kB on vic_electricity, 52,608 half-hours with a regressor and holidays):
// its size grows with nChangepoints and the Fourier orders, not the rows,
// so only options far beyond the usual ones reach the bound; such a
// training fails with an error saying so.
const MaxFittedSize = 12 << 20

// descFields are the description's fields that may be absent (omitempty),
// unset when a new version of the description lacks them.
var descFields = []string{"lastDataTimestamp", "error", "progress", "rows", "trainedAt"}

// modelStore keeps the models in the hub's document store.
type modelStore struct {
	st       store.Store
	instance string
	now      func() time.Time
}

// claim is a document of TrainingCollection.
type claim struct {
	// Token identifies one claim, so that a hub releases its own only.
	Token string `json:"token"`
	// Instance is the hub that trains.
	Instance string `json:"instance"`
	// Claimed is when the training was claimed.
	Claimed time.Time `json:"claimed"`
}

// ensure creates the forecast collections when missing.
func (m *modelStore) ensure(ctx context.Context) error {
	for _, col := range []string{ModelsCollection, FittedCollection, TrainingCollection} {
		if err := store.PutCollection(ctx, m.st, SystemLayer, col,
			store.Layer{Label: "System", Description: "GridEdge's own records"}); err != nil {
			return fmt.Errorf("open forecast store: %w", err)
		}
	}
	return nil
}

// descDoc is d as a document of ModelsCollection. The MODEL_PARAMS
// (config) are kept as JSON text: their input stages hold the client's
// own keys (query parameters, headers, column names), which may contain
// characters awkward in field names ('.', a leading '$': MongoDB restricts
// them in updates).
func descDoc(d ModelDescription) (store.Document, error) {
	cfg, err := json.Marshal(d.Config)
	if err != nil {
		return nil, fmt.Errorf("encode model %s: %w", d.ID, err)
	}
	d.Config = ModelParams{}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode model %s: %w", d.ID, err)
	}
	var doc store.Document
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("encode model %s: %w", d.ID, err)
	}
	delete(doc, "id")
	doc["_id"] = d.ID
	doc["config"] = string(cfg)
	return doc, nil
}

// docDesc is the description a document of ModelsCollection holds.
func docDesc(doc store.Document) (ModelDescription, error) {
	id, _ := doc["_id"].(string)
	clean := make(map[string]any, len(doc))
	for k, v := range doc {
		switch k {
		case "_id", "config", store.FieldUpdated, store.FieldExpired:
		default:
			clean[k] = v
		}
	}
	var d ModelDescription
	b, err := json.Marshal(clean)
	if err == nil {
		err = json.Unmarshal(b, &d)
	}
	if cfg, ok := doc["config"].(string); err == nil && ok {
		err = json.Unmarshal([]byte(cfg), &d.Config)
	} else if err == nil {
		err = fmt.Errorf("config is %T, not JSON text", doc["config"])
	}
	if err != nil {
		return ModelDescription{}, fmt.Errorf("decode model %s: %w", id, err)
	}
	d.ID = id
	if d.Regressors == nil {
		d.Regressors = []string{}
	}
	return d, nil
}

// create stores a new model.
func (m *modelStore) create(ctx context.Context, d ModelDescription) error {
	doc, err := descDoc(d)
	if err != nil {
		return err
	}
	res, err := m.st.Insert(ctx, SystemLayer, ModelsCollection, []store.Document{doc})
	if err == nil && res.Err > 0 {
		err = errors.New(res.Errors[0])
	}
	if err != nil {
		return fmt.Errorf("store model %s: %w", d.ID, err)
	}
	return nil
}

// get returns a model's description.
func (m *modelStore) get(ctx context.Context, id string) (ModelDescription, error) {
	doc, err := m.st.Get(ctx, SystemLayer, ModelsCollection, id)
	if errors.Is(err, store.ErrNotFound) {
		return ModelDescription{}, fmt.Errorf("load model %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return ModelDescription{}, fmt.Errorf("load model %s: %w", id, err)
	}
	return docDesc(doc)
}

// put replaces a model's description (fields d lacks are removed).
func (m *modelStore) put(ctx context.Context, d ModelDescription) error {
	doc, err := descDoc(d)
	if err != nil {
		return err
	}
	delete(doc, "_id")
	up := map[string]any{"$set": doc}
	unset := map[string]any{}
	for _, f := range descFields {
		if _, ok := doc[f]; !ok {
			unset[f] = ""
		}
	}
	if len(unset) > 0 {
		up["$unset"] = unset
	}
	if _, err := m.st.UpdateByID(ctx, SystemLayer, ModelsCollection, d.ID, up); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = ErrNotFound
		}
		return fmt.Errorf("store model %s: %w", d.ID, err)
	}
	return nil
}

// progress sets a model's progress field.
func (m *modelStore) progress(ctx context.Context, id, p string) error {
	if _, err := m.st.UpdateByID(ctx, SystemLayer, ModelsCollection, id, map[string]any{"$set": map[string]any{"progress": p}}); err != nil {
		return fmt.Errorf("store progress of model %s: %w", id, err)
	}
	return nil
}

// descriptions returns every model's description.
func (m *modelStore) descriptions(ctx context.Context) ([]ModelDescription, error) {
	docs, err := m.st.Find(ctx, SystemLayer, ModelsCollection, store.FindOptions{})
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	out := make([]ModelDescription, 0, len(docs))
	for _, doc := range docs {
		d, err := docDesc(doc)
		if err != nil {
			return nil, fmt.Errorf("list models: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}

// delete removes a model, its fitted model and its training claim.
func (m *modelStore) delete(ctx context.Context, id string) error {
	if err := m.st.DeleteByID(ctx, SystemLayer, ModelsCollection, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = ErrNotFound
		}
		return fmt.Errorf("delete model %s: %w", id, err)
	}
	for _, col := range []string{FittedCollection, TrainingCollection} {
		if err := m.st.DeleteByID(ctx, SystemLayer, col, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("delete model %s from %s: %w", id, col, err)
		}
	}
	return nil
}

// putFitted stores the fitted model of id, replacing the previous one.
func (m *modelStore) putFitted(ctx context.Context, id string, fitted json.RawMessage) error {
	if len(fitted) > MaxFittedSize {
		return fmt.Errorf("%w: the fitted model is %d bytes, more than the %d the store keeps: lower options.nChangepoints or the Fourier orders",
			ErrInvalid, len(fitted), MaxFittedSize)
	}
	res, err := m.st.Bulk(ctx, SystemLayer, FittedCollection, []store.Document{{"_id": id, "model": string(fitted)}}, false)
	if err == nil && res.Err > 0 {
		err = errors.New(res.Errors[0])
	}
	if err != nil {
		return fmt.Errorf("store fitted model %s: %w", id, err)
	}
	return nil
}

// fitted returns the fitted model of id.
func (m *modelStore) fitted(ctx context.Context, id string) (json.RawMessage, error) {
	doc, err := m.st.Get(ctx, SystemLayer, FittedCollection, id)
	if err != nil {
		return nil, fmt.Errorf("load fitted model %s: %w", id, err)
	}
	s, ok := doc["model"].(string)
	if !ok {
		return nil, fmt.Errorf("load fitted model %s: field model is %T, not a string", id, doc["model"])
	}
	return json.RawMessage(s), nil
}

// claimTraining claims the training of model id for this hub and returns
// the claim's token. A claim held by another training is ErrBusy unless
// it is older than stale (its hub died or lost the store while
// training): then it is taken over, removed only if it is still the same
// claim, so that of several hubs taking over one wins.
func (m *modelStore) claimTraining(ctx context.Context, id string, stale time.Duration) (string, error) {
	c := claim{Token: newID(), Instance: m.instance, Claimed: m.now().UTC()}
	doc := store.Document{"_id": id, "token": c.Token, "instance": c.Instance, "claimed": c.Claimed}
	for attempt := 0; attempt < 2; attempt++ {
		res, err := m.st.Insert(ctx, SystemLayer, TrainingCollection, []store.Document{doc})
		if err != nil {
			return "", fmt.Errorf("claim the training of model %s: %w", id, err)
		}
		if res.OK == 1 {
			return c.Token, nil
		}
		held, err := m.claimOf(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // released meanwhile
		}
		if err != nil {
			return "", err
		}
		age := m.now().Sub(held.Claimed)
		if age < stale {
			return "", fmt.Errorf("train model %s: %w (on hub %s since %s)", id, ErrBusy, held.Instance, held.Claimed.Format(time.RFC3339))
		}
		sel, err := query.CompileSelector(map[string]any{"_id": id, "token": held.Token})
		if err != nil {
			return "", fmt.Errorf("claim the training of model %s: %w", id, err)
		}
		if _, err := m.st.DeleteMany(ctx, SystemLayer, TrainingCollection, sel); err != nil {
			return "", fmt.Errorf("take over the stale training of model %s (hub %s, %s old): %w", id, held.Instance, age.Round(time.Second), err)
		}
	}
	return "", fmt.Errorf("train model %s: %w (claimed by another hub meanwhile)", id, ErrBusy)
}

// claimOf returns the training claim of model id.
func (m *modelStore) claimOf(ctx context.Context, id string) (claim, error) {
	doc, err := m.st.Get(ctx, SystemLayer, TrainingCollection, id)
	if err != nil {
		return claim{}, fmt.Errorf("read the training claim of model %s: %w", id, err)
	}
	return docClaim(doc), nil
}

// docClaim is the claim a document of TrainingCollection holds.
func docClaim(doc store.Document) claim {
	var c claim
	c.Token, _ = doc["token"].(string)
	c.Instance, _ = doc["instance"].(string)
	c.Claimed, _ = doc["claimed"].(time.Time)
	return c
}

// claims returns every training claim by model id.
func (m *modelStore) claims(ctx context.Context) (map[string]claim, error) {
	docs, err := m.st.Find(ctx, SystemLayer, TrainingCollection, store.FindOptions{})
	if err != nil {
		return nil, fmt.Errorf("read the training claims: %w", err)
	}
	out := make(map[string]claim, len(docs))
	for _, doc := range docs {
		id, _ := doc["_id"].(string)
		out[id] = docClaim(doc)
	}
	return out, nil
}

// holds reports whether the claim with token is still model id's.
func (m *modelStore) holds(ctx context.Context, id, token string) (bool, error) {
	c, err := m.claimOf(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return c.Token == token, nil
}

// release removes the claim with token of model id, if it is still there.
func (m *modelStore) release(ctx context.Context, id, token string) error {
	sel, err := query.CompileSelector(map[string]any{"_id": id, "token": token})
	if err != nil {
		return fmt.Errorf("release the training of model %s: %w", id, err)
	}
	if _, err := m.st.DeleteMany(ctx, SystemLayer, TrainingCollection, sel); err != nil {
		return fmt.Errorf("release the training of model %s: %w", id, err)
	}
	return nil
}
