// Package mongo is the MongoDB store backend (go.mongodb.org/mongo-driver,
// v1). It passes the same contract suite as the embedded bolt backend.
//
// # Layout
//
//	_layers                          one document per layer (seed 3.1.2.1)
//	_edges                           {_id: edge, hwm: last applied sequence number}
//	<layer>_<collection>             the documents; indexed on _updated
//	<layer>_<collection>.history     legacy: one document per history point
//	                                 {_id, doc, field, ts, seq, value}, written by
//	                                 earlier versions; moved into hub/history at
//	                                 start and dropped (legacy.go)
//	<bucket>.files, <bucket>.chunks  GridFS, bucket "fs" by default
//
// The history collection ends in ".history" rather than "_history" so that it
// cannot collide with a collection of the layer named "<x>_history" (names may
// hold '_' but never '.').
//
// Selectors, sort, skip, limit and projection are passed to the server as
// they are (they are MongoDB syntax already; Extended JSON dates become BSON
// dates). Documents come back with BSON dates as time.Time and every number
// as float64, as the bolt backend (and JSON) gives them.
//
// # Idempotent edge batches without transactions
//
// ApplyBatch does not need multi-document transactions (which standalone
// servers and mongo-java-server lack). A batch is applied in three steps,
// each safe to repeat:
//
//  1. history points are inserted with a deterministic _id
//     "<edge>|<seq>|<field>", unordered; duplicate-key errors (a replay)
//     are ignored;
//  2. each document's updates of the batch are merged in sequence order into
//     one $set, written with an upsert guarded by the document's
//     _seq.<edge> (the last sequence number of that edge applied to it):
//     the filter is {_id, _seq.<edge> < seq}, so a replayed older update
//     matches nothing, and its upsert then fails with a duplicate key, which
//     means "already applied"; _seq.<edge> is $set to the update's seq;
//  3. the edge's high-water mark in _edges is raised with $max.
//
// A crash between the steps leaves the high-water mark behind; the
// redelivered batch then redoes the steps with no effect beyond what the
// first attempt would have had. The _seq field is internal and removed from
// documents returned by the store.
//
// # Other costs and limits
//
// Near computes distances client-side: it fetches the documents that have a
// geometry and match the selector, then filters and orders them by
// haversine distance (nearest vertex for lines and polygons), exactly like
// the bolt backend. This avoids requiring a 2dsphere index and works on
// test servers without geospatial operators; it is a collection scan on the
// server. Multi-document writes (Insert, UpdateMany, Bulk, DeleteMany) are
// not atomic as a whole: Bulk with init empties the collection and then
// writes, in two steps.
package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/gridedge/gridedge/hub/store"
)

const (
	collLayers = "_layers"
	collEdges  = "_edges"
	// seqField holds per-edge sequence numbers in documents (internal,
	// see store.FieldSeq).
	seqField = store.FieldSeq
)

// DefaultMaxQueryTime is the default server-side time limit of a query
// (see WithMaxQueryTime).
const DefaultMaxQueryTime = 10 * time.Second

// Store is the MongoDB backend.
type Store struct {
	client    *mongo.Client
	db        *mongo.Database
	now       func() time.Time
	maxQuery  time.Duration
	ownClient bool
}

var _ store.Store = (*Store)(nil)

// Option configures Open and New.
type Option func(*Store)

// WithClock sets the clock used for _updated.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithMaxQueryTime caps the server-side time of every query (find, count,
// find-and-modify) the store sends: each carries maxTimeMS, the time left
// until the context's deadline but at most d (default
// DefaultMaxQueryTime; d <= 0 keeps the default). The server then stops a
// query that runs away (a $regex backtracking in PCRE) instead of the
// client merely giving up on it.
func WithMaxQueryTime(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.maxQuery = d
		}
	}
}

// MaxQueryTime returns the cap on a query's server-side time (see
// WithMaxQueryTime).
func (s *Store) MaxQueryTime() time.Duration { return s.maxQuery }

// Open connects to the MongoDB server at uri and uses database dbName.
// Close disconnects.
func Open(ctx context.Context, uri, dbName string, opts ...Option) (*Store, error) {
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri).SetServerSelectionTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("store: connect to mongodb: %w", err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("store: ping mongodb: %w", err)
	}
	s := New(client, dbName, opts...)
	s.ownClient = true
	return s, nil
}

// New uses an existing client; Close does not disconnect it.
func New(client *mongo.Client, dbName string, opts ...Option) *Store {
	s := &Store{client: client, db: client.Database(dbName), now: time.Now, maxQuery: DefaultMaxQueryTime}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Close disconnects the client when Open created it.
func (s *Store) Close() error {
	if !s.ownClient {
		return nil
	}
	if err := s.client.Disconnect(context.Background()); err != nil {
		return fmt.Errorf("store: disconnect from mongodb: %w", err)
	}
	return nil
}

// Database returns the database the store uses.
func (s *Store) Database() *mongo.Database { return s.db }

func (s *Store) clock() time.Time { return store.Timestamp(s.now()) }

// maxTime returns the maxTimeMS of a query made under ctx: the time left
// until ctx's deadline, at most the store's cap, at least a millisecond
// (an expired context fails in the driver before anything is sent).
func (s *Store) maxTime(ctx context.Context) time.Duration {
	d := s.maxQuery
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < d {
			d = left
		}
	}
	return max(d, time.Millisecond)
}

// Layers returns every layer ordered by _id.
func (s *Store) Layers(ctx context.Context) ([]store.Layer, error) {
	cur, err := s.db.Collection(collLayers).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetMaxTime(s.maxTime(ctx)))
	if err != nil {
		return nil, fmt.Errorf("store: list layers: %w", err)
	}
	var raw []bson.Raw
	if err := cur.All(ctx, &raw); err != nil {
		return nil, fmt.Errorf("store: list layers: %w", err)
	}
	out := make([]store.Layer, 0, len(raw))
	for _, r := range raw {
		l, err := decodeRawLayer(r)
		if err != nil {
			return nil, fmt.Errorf("store: list layers: %w", err)
		}
		out = append(out, *l)
	}
	return out, nil
}

// decodeRawLayer decodes a stored layer, keeping the key order of its
// index declarations (a bson.M loses it).
func decodeRawLayer(raw bson.Raw) (*store.Layer, error) {
	var r bson.M
	if err := bson.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode layer: %w", err)
	}
	l, err := decodeLayer(r)
	if err != nil {
		return nil, err
	}
	for i := range l.Collections {
		for j := range l.Collections[i].Indexes {
			ix := &l.Collections[i].Indexes[j]
			v, err := raw.LookupErr("collections", strconv.Itoa(i), "indexes", strconv.Itoa(j), "fields")
			if err != nil {
				continue
			}
			doc, ok := v.DocumentOK()
			if !ok {
				continue
			}
			elems, err := doc.Elements()
			if err != nil {
				continue
			}
			ordered := make(store.IndexFields, 0, len(ix.Fields))
			for _, e := range elems {
				for _, f := range ix.Fields {
					if f.Path == e.Key() {
						ordered = append(ordered, f)
					}
				}
			}
			if len(ordered) == len(ix.Fields) {
				ix.Fields = ordered
			}
		}
	}
	return l, nil
}

func decodeLayer(r bson.M) (*store.Layer, error) {
	data, err := json.Marshal(fromBSON(r))
	if err != nil {
		return nil, fmt.Errorf("decode layer %v: %w", r["_id"], err)
	}
	var l store.Layer
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("decode layer %v: %w", r["_id"], err)
	}
	return &l, nil
}

// Layer returns one layer.
func (s *Store) Layer(ctx context.Context, id string) (*store.Layer, error) {
	l, err := s.layer(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return l, nil
}

func (s *Store) layer(ctx context.Context, id string) (*store.Layer, error) {
	raw, err := s.db.Collection(collLayers).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetMaxTime(s.maxTime(ctx))).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("layer %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read layer %q: %w", id, err)
	}
	return decodeRawLayer(raw)
}

// collection checks that the collection exists and returns it.
func (s *Store) collection(ctx context.Context, layer, col string) (*mongo.Collection, error) {
	l, err := s.layer(ctx, layer)
	if err != nil {
		return nil, err
	}
	if l.Collection(col) == nil {
		return nil, fmt.Errorf("collection %q of layer %q: %w", col, layer, store.ErrNotFound)
	}
	return s.db.Collection(store.StoreName(layer, col)), nil
}

// PutLayer creates or replaces a layer and the indexes of its collections.
func (s *Store) PutLayer(ctx context.Context, l store.Layer) error {
	if err := s.putLayer(ctx, &l); err != nil {
		return fmt.Errorf("store: put layer %q: %w", l.ID, err)
	}
	return nil
}

func (s *Store) putLayer(ctx context.Context, l *store.Layer) error {
	if err := store.ValidateLayer(l); err != nil {
		return err
	}
	data, err := json.Marshal(l)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	// index key patterns are ordered: store them as bson.D
	cols, _ := doc["collections"].([]any)
	for i, c := range l.Collections {
		for j, ix := range c.Indexes {
			cm, _ := cols[i].(map[string]any)
			ixs, _ := cm["indexes"].([]any)
			im, _ := ixs[j].(map[string]any)
			keys := bson.D{}
			for _, f := range ix.Fields {
				if f.Geo {
					keys = append(keys, bson.E{Key: f.Path, Value: store.IndexGeo})
				} else {
					keys = append(keys, bson.E{Key: f.Path, Value: f.Order})
				}
			}
			im["fields"] = keys
		}
	}
	for _, c := range l.Collections {
		if err := s.ensureIndexes(ctx, l.ID, c); err != nil {
			return err
		}
	}
	_, err = s.db.Collection(collLayers).ReplaceOne(ctx, bson.D{{Key: "_id", Value: l.ID}}, doc, options.Replace().SetUpsert(true))
	return err
}

// ensureIndexes creates the history index and, with createIndexes, the
// collection's indexes: the defaults (_updated, timestamp) and the declared
// ones; an index no longer declared is dropped (never _id_ or a default).
// A declaration whose options changed under the same name is dropped and
// created again.
func (s *Store) ensureIndexes(ctx context.Context, layer string, col store.Collection) error {
	name := store.StoreName(layer, col.Name)
	c := s.db.Collection(name)
	want := map[string]store.Index{}
	var models []mongo.IndexModel
	for _, ix := range col.AllIndexes() {
		keys := bson.D{}
		for _, f := range ix.Fields {
			if f.Geo {
				keys = append(keys, bson.E{Key: f.Path, Value: store.IndexGeo})
			} else {
				keys = append(keys, bson.E{Key: f.Path, Value: int32(f.Order)})
			}
		}
		o := options.Index().SetName(ix.IndexName())
		if ix.Unique {
			o.SetUnique(true)
		}
		if ix.Sparse {
			o.SetSparse(true)
		}
		want[ix.IndexName()] = ix
		models = append(models, mongo.IndexModel{Keys: keys, Options: o})
	}
	existing, err := s.indexSpecs(ctx, c)
	if err != nil {
		return fmt.Errorf("list indexes of %s: %w", name, err)
	}
	for n, spec := range existing {
		if n == "_id_" {
			continue
		}
		w, declared := want[n]
		if declared && spec.Unique == w.Unique && spec.Sparse == w.Sparse {
			continue
		}
		if store.IsDefaultIndex(n) && declared {
			continue
		}
		if _, err := c.Indexes().DropOne(ctx, n); err != nil {
			return fmt.Errorf("drop index %q of %s: %w", n, name, err)
		}
	}
	if _, err := c.Indexes().CreateMany(ctx, models); err != nil {
		return fmt.Errorf("create indexes of %s: %w", name, err)
	}
	return nil
}

// indexSpec is what listIndexes says of one index.
type indexSpec struct {
	Name   string `bson:"name"`
	Unique bool   `bson:"unique"`
	Sparse bool   `bson:"sparse"`
}

// indexSpecs lists a collection's indexes by name (none for a collection
// that does not exist yet).
func (s *Store) indexSpecs(ctx context.Context, c *mongo.Collection) (map[string]indexSpec, error) {
	cur, err := c.Indexes().List(ctx)
	if err != nil {
		var ce mongo.CommandError
		if errors.As(err, &ce) && ce.Code == 26 { // NamespaceNotFound
			return nil, nil
		}
		return nil, err
	}
	var specs []indexSpec
	if err := cur.All(ctx, &specs); err != nil {
		return nil, err
	}
	out := make(map[string]indexSpec, len(specs))
	for _, sp := range specs {
		out[sp.Name] = sp
	}
	return out, nil
}

// DeleteLayer drops the layer's collections (also those it no longer
// lists) and their history, then the layer.
func (s *Store) DeleteLayer(ctx context.Context, id string) error {
	if _, err := s.layer(ctx, id); err != nil {
		return fmt.Errorf("store: delete layer: %w", err)
	}
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("store: delete layer %q: list collections: %w", id, err)
	}
	// Layer ids have no '_', so this prefix is only this layer's.
	for _, n := range names {
		if strings.HasPrefix(n, id+"_") {
			if err := s.db.Collection(n).Drop(ctx); err != nil {
				return fmt.Errorf("store: delete layer %q: drop %s: %w", id, n, err)
			}
		}
	}
	if _, err := s.db.Collection(collLayers).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("store: delete layer %q: %w", id, err)
	}
	return nil
}

// fromBSON converts a decoded BSON value to the store's document types:
// maps, []any, float64, time.Time (UTC), strings, bools, nil. The internal
// _seq field is dropped from documents.
func fromBSON(v any) any {
	switch x := v.(type) {
	case bson.M:
		return fromMap(x)
	case map[string]any:
		return fromMap(x)
	case bson.D:
		m := make(map[string]any, len(x))
		for _, e := range x {
			m[e.Key] = fromBSON(e.Value)
		}
		return m
	case bson.A:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromBSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromBSON(e)
		}
		return out
	case primitive.DateTime:
		return x.Time().UTC()
	case time.Time:
		return x.UTC()
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case int:
		return float64(x)
	case primitive.Decimal128:
		f, err := parseDecimal(x)
		if err != nil {
			return x.String()
		}
		return f
	case primitive.ObjectID:
		return x.Hex()
	case primitive.Regex:
		return map[string]any{"$regex": x.Pattern, "$options": x.Options}
	case primitive.Timestamp:
		return time.Unix(int64(x.T), 0).UTC()
	case primitive.Binary:
		return x.Data
	case primitive.Null, primitive.Undefined:
		return nil
	}
	return v
}

func fromMap(x map[string]any) map[string]any {
	m := make(map[string]any, len(x))
	for k, e := range x {
		m[k] = fromBSON(e)
	}
	return m
}

func parseDecimal(d primitive.Decimal128) (float64, error) {
	var f float64
	_, err := fmt.Sscan(d.String(), &f)
	return f, err
}

// toDoc converts a bson.M read from a collection to a store document.
func toDoc(r bson.M) store.Document {
	d := fromMap(r)
	delete(d, seqField)
	return d
}

// isDuplicate reports a duplicate-key error.
func isDuplicate(err error) bool { return mongo.IsDuplicateKeyError(err) }
