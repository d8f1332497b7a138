package forecast

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/expression"
)

// InputStage is the seed's INPUT_STAGE: exactly one of History (GridEdge's
// own history, the natural default), Mongo (an aggregate pipeline) or HTTP
// (a request and a mapping). Each yields rows with ds, y and regressor
// columns.
type InputStage struct {
	History *HistoryStage `json:"history,omitempty"`
	Mongo   *MongoStage   `json:"mongo,omitempty"`
	HTTP    *HTTPStage    `json:"http,omitempty"`
}

// HistoryStage reads the hub's measurement history of one document: each
// column is a field path, aggregated over Step; rows are the steps where
// every column has a value.
type HistoryStage struct {
	Layer      string `json:"layer"`
	Collection string `json:"collection"`
	// ID is the document's _id.
	ID string `json:"id"`
	// Columns map a column name (y, or a regressor) to a field path, e.g.
	// {"y": "measurements.activePower.value"}.
	Columns map[string]string `json:"columns"`
	// From and To bound the time (RFC 3339); zero To means now.
	From time.Time `json:"from"`
	To   time.Time `json:"to,omitzero"`
	// Step aggregates the points of each interval ("1h"; empty: raw points).
	Step config.Duration `json:"step,omitempty"`
	// Agg is the aggregation of a step: avg (default), min, max, sum, count, first, last.
	Agg string `json:"agg,omitempty"`
}

// MongoStage runs an aggregate pipeline (seed 3.2.2.4.2.1). It is allowed
// when the hub's store is MongoDB; URI defaults to the store's.
type MongoStage struct {
	URI        string `json:"uri,omitempty"`
	Database   string `json:"database"`
	Collection string `json:"collection"`
	// Aggregate is the pipeline as (extended) JSON text, as in the seed.
	Aggregate string `json:"aggregate"`
}

// HTTPStage requests JSON from a URL and maps it to rows
// (seed 3.2.2.4.2.2; the seed's jsonbender mapping is replaced by
// expressions, see docs/forecast.md).
type HTTPStage struct {
	Request HTTPRequest `json:"request"`
	// Converter is the id of a data-model converter (hub/convert, seed
	// 3.2.3) applied to the response, a JSON object, before the mapping
	// reads it; its result is what the mapping sees. Needs
	// services.converters.
	Converter string  `json:"converter,omitempty"`
	Mapping   Mapping `json:"mapping"`
}

// Converters transforms a document with a stored data-model converter;
// *convert.Registry is one.
type Converters interface {
	Apply(ctx context.Context, id string, doc map[string]any) (any, error)
}

// HTTPRequest is the subset of Python requests' arguments the seed uses.
type HTTPRequest struct {
	Method  string            `json:"method,omitempty"` // default GET
	URL     string            `json:"url"`
	Params  map[string]any    `json:"params,omitempty"`  // query parameters
	Headers map[string]string `json:"headers,omitempty"` // request headers
	JSON    any               `json:"json,omitempty"`    // JSON body
	Data    string            `json:"data,omitempty"`    // raw body
	// Files are sent as multipart form fields (the seed's InfluxDB example).
	Files map[string]string `json:"files,omitempty"`
}

// Mapping turns a JSON response into rows. Rows is an expression over the
// response selecting the array of rows; each column's expression is
// evaluated per row, with the row's fields as variables (when it is an
// object) and the row itself as `row`.
type Mapping struct {
	Rows    string            `json:"rows"`
	Columns map[string]string `json:"columns"`
}

// check reports a malformed stage.
func (s InputStage) check(i int) error {
	n := 0
	for _, set := range []bool{s.History != nil, s.Mongo != nil, s.HTTP != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("%w: input[%d] must have exactly one of history, mongo, http", ErrInvalid, i)
	}
	switch {
	case s.History != nil:
		h := s.History
		if h.Layer == "" || h.Collection == "" || h.ID == "" || len(h.Columns) == 0 {
			return fmt.Errorf("%w: input[%d].history needs layer, collection, id and columns", ErrInvalid, i)
		}
		if _, err := history.ParseAgg(h.Agg); err != nil {
			return fmt.Errorf("%w: input[%d].history: %v", ErrInvalid, i, err)
		}
	case s.Mongo != nil:
		if s.Mongo.Database == "" || s.Mongo.Collection == "" || s.Mongo.Aggregate == "" {
			return fmt.Errorf("%w: input[%d].mongo needs database, collection and aggregate", ErrInvalid, i)
		}
		if _, err := parsePipeline(s.Mongo.Aggregate); err != nil {
			return fmt.Errorf("%w: input[%d].mongo.%v", ErrInvalid, i, err)
		}
	case s.HTTP != nil:
		u, err := url.Parse(s.HTTP.Request.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("%w: input[%d].http.request.url %q (want an http or https URL)", ErrInvalid, i, s.HTTP.Request.URL)
		}
		if _, err := s.HTTP.Mapping.compile(); err != nil {
			return fmt.Errorf("%w: input[%d].http.mapping: %v", ErrInvalid, i, err)
		}
	}
	return nil
}

// UnmarshalJSON accepts the object form of a mapping and explains that the
// seed's jsonbender strings are not supported.
func (m *Mapping) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return fmt.Errorf("%w: a jsonbender mapping string is not supported; use {\"rows\": expression, \"columns\": {\"ds\": expression, \"y\": expression}} (docs/forecast.md)", ErrInvalid)
	}
	type plain Mapping
	return json.Unmarshal(b, (*plain)(m))
}

type compiledMapping struct {
	rows *expression.Program
	cols map[string]*expression.Program
}

func (m Mapping) compile() (*compiledMapping, error) {
	if m.Rows == "" || m.Columns["ds"] == "" {
		return nil, fmt.Errorf("mapping needs rows and a ds column")
	}
	c := &compiledMapping{cols: map[string]*expression.Program{}}
	var err error
	if c.rows, err = expression.Compile(m.Rows, expression.Options{Location: time.UTC}); err != nil {
		return nil, fmt.Errorf("rows: %w", err)
	}
	for name, src := range m.Columns {
		if c.cols[name], err = expression.Compile(src, expression.Options{Location: time.UTC}); err != nil {
			return nil, fmt.Errorf("column %q: %w", name, err)
		}
	}
	return c, nil
}

// stageRunner runs input stages with what the hub provides.
type stageRunner struct {
	history    history.Reader
	mongoURI   string
	client     *http.Client
	converters Converters
	maxRows    int
}

// run executes the stages and joins them on ds.
func (r *stageRunner) run(ctx context.Context, stages []InputStage) (*table, error) {
	if len(stages) == 0 {
		return nil, fmt.Errorf("%w: no input stage (give input in MODEL_PARAMS or TRAIN_PARAMS)", ErrInvalid)
	}
	var tabs []*table
	for i, s := range stages {
		if err := s.check(i); err != nil {
			return nil, err
		}
		var t *table
		var err error
		switch {
		case s.History != nil:
			t, err = r.runHistory(ctx, s.History)
		case s.Mongo != nil:
			t, err = r.runMongo(ctx, s.Mongo)
		default:
			t, err = r.runHTTP(ctx, s.HTTP)
		}
		if err != nil {
			return nil, fmt.Errorf("input[%d]: %w", i, err)
		}
		tabs = append(tabs, t)
	}
	return innerJoin(tabs)
}

func (r *stageRunner) runHistory(ctx context.Context, h *HistoryStage) (*table, error) {
	if r.history == nil {
		return nil, fmt.Errorf("%w: this hub keeps no history", ErrStage)
	}
	agg, _ := history.ParseAgg(h.Agg)
	byField := map[string][]string{}
	var fields []string
	for col, f := range h.Columns {
		if _, ok := byField[f]; !ok {
			fields = append(fields, f)
		}
		byField[f] = append(byField[f], col)
	}
	slices.Sort(fields)
	vals := map[string]map[int64]float64{} // column → time → value
	q := history.Query{Layer: h.Layer, Collection: h.Collection, IDs: []string{h.ID}, Fields: fields,
		From: h.From, To: h.To, Step: h.Step.Std(), Agg: agg, Limit: r.maxRows}
	err := r.history.Select(ctx, q, func(s history.Series) error {
		for _, col := range byField[s.Field] {
			m := map[int64]float64{}
			for p := range s.Points {
				if v, ok := p.Value().(float64); ok {
					m[p.T] = v
				}
			}
			vals[col] = m
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: read history of %s/%s/%s: %v", ErrStage, h.Layer, h.Collection, h.ID, err)
	}
	t := newTable()
	cols := make([]string, 0, len(h.Columns))
	for c := range h.Columns {
		cols = append(cols, c)
		if vals[c] == nil {
			return nil, fmt.Errorf("%w: no history of %s/%s/%s field %s", ErrStage, h.Layer, h.Collection, h.ID, h.Columns[c])
		}
	}
	slices.Sort(cols)
	first := vals[cols[0]]
	ts := make([]int64, 0, len(first))
	for ms := range first {
		ts = append(ts, ms)
	}
	slices.Sort(ts)
next:
	for _, ms := range ts {
		for _, c := range cols {
			if _, ok := vals[c][ms]; !ok {
				continue next
			}
		}
		t.ds = append(t.ds, time.UnixMilli(ms).UTC())
		for _, c := range cols {
			t.cols[c] = append(t.cols[c], vals[c][ms])
		}
	}
	return t, nil
}

// parsePipeline reads an aggregate pipeline: a JSON array of stage
// documents, extended JSON allowed ({"$date": …}).
func parsePipeline(text string) (bson.A, error) {
	var wrap struct {
		P bson.A `bson:"p"`
	}
	if err := bson.UnmarshalExtJSON([]byte(`{"p":`+text+`}`), false, &wrap); err != nil {
		return nil, fmt.Errorf("aggregate is not a JSON array of stages: %v", err)
	}
	for i, st := range wrap.P {
		if _, ok := st.(bson.D); !ok {
			return nil, fmt.Errorf("aggregate stage %d is a %T, not a document such as {\"$match\": {…}}", i, st)
		}
	}
	return wrap.P, nil
}

// checkBackend refuses mongo stages when the hub's store is not MongoDB,
// before a training is queued.
func (r *stageRunner) checkBackend(stages []InputStage) error {
	for i, s := range stages {
		if s.Mongo != nil && r.mongoURI == "" {
			return fmt.Errorf("%w: input[%d].mongo: mongo input stages need the hub's mongo store backend (store.backend mongo)", ErrInvalid, i)
		}
	}
	return nil
}

func (r *stageRunner) runMongo(ctx context.Context, m *MongoStage) (*table, error) {
	uri := m.URI
	if r.mongoURI == "" {
		return nil, fmt.Errorf("%w: mongo input stages need the hub's mongo store backend", ErrStage)
	}
	if uri == "" {
		uri = r.mongoURI
	}
	pipeline, err := parsePipeline(m.Aggregate)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		return nil, fmt.Errorf("%w: connect to mongo: %v", ErrStage, err)
	}
	defer func() { _ = client.Disconnect(context.WithoutCancel(ctx)) }()
	cur, err := client.Database(m.Database).Collection(m.Collection).Aggregate(ctx, pipeline)
	if err != nil {
		return nil, fmt.Errorf("%w: aggregate %s.%s: %v", ErrStage, m.Database, m.Collection, err)
	}
	defer cur.Close(ctx)
	t := newTable()
	for i := 0; cur.Next(ctx); i++ {
		if i >= r.maxRows {
			return nil, fmt.Errorf("%w: more than %d rows (forecast.maxRows)", ErrStage, r.maxRows)
		}
		var doc bson.M
		if err := cur.Decode(&doc); err != nil {
			return nil, fmt.Errorf("%w: decode row %d: %v", ErrStage, i, err)
		}
		delete(doc, "_id")
		if err := t.addRow(i, doc); err != nil {
			if literalFieldPath(doc) {
				return nil, fmt.Errorf("%w (a \"$field\" path came back as text: this server does not evaluate field paths in $project/$addFields; FerretDB v1 is one)", err)
			}
			return nil, err
		}
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("%w: aggregate %s.%s: %v", ErrStage, m.Database, m.Collection, err)
	}
	return t, nil
}

// literalFieldPath reports a row with a value such as "$timestamp": a
// field path the server returned as a literal string.
func literalFieldPath(doc bson.M) bool {
	for _, v := range doc {
		if s, ok := v.(string); ok && len(s) > 1 && s[0] == '$' && !strings.ContainsAny(s, " ") {
			return true
		}
	}
	return false
}

func (r *stageRunner) runHTTP(ctx context.Context, h *HTTPStage) (*table, error) {
	cm, err := h.Mapping.compile()
	if err != nil {
		return nil, fmt.Errorf("%w: mapping: %v", ErrInvalid, err)
	}
	rq := h.Request
	u, err := url.Parse(rq.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: url: %v", ErrInvalid, err)
	}
	q := u.Query()
	for k, v := range rq.Params {
		q.Set(k, fmt.Sprint(v))
	}
	u.RawQuery = q.Encode()
	var body io.Reader
	contentType := ""
	switch {
	case rq.JSON != nil:
		b, err := json.Marshal(rq.JSON)
		if err != nil {
			return nil, fmt.Errorf("%w: json: %v", ErrInvalid, err)
		}
		body, contentType = bytes.NewReader(b), "application/json"
	case len(rq.Files) > 0:
		var b bytes.Buffer
		contentType, err = writeMultipart(&b, rq.Files)
		if err != nil {
			return nil, err
		}
		body = &b
	case rq.Data != "":
		body = strings.NewReader(rq.Data)
	}
	method := strings.ToUpper(rq.Method)
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%w: request: %v", ErrInvalid, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range rq.Headers {
		req.Header.Set(k, v)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v", ErrStage, method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%w: %s %s: status %s", ErrStage, method, u.Redacted(), resp.Status)
	}
	var doc any
	dec := json.NewDecoder(io.LimitReader(resp.Body, 256<<20))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %s %s: response is not JSON: %v", ErrStage, method, u.Redacted(), err)
	}
	if h.Converter != "" {
		if doc, err = r.convert(ctx, h.Converter, doc); err != nil {
			return nil, err
		}
	}
	return cm.apply(normalise(doc), r.maxRows)
}

// convert applies converter id to a decoded response and returns its
// result in the decoded form (json.Number for numbers).
func (r *stageRunner) convert(ctx context.Context, id string, doc any) (any, error) {
	if r.converters == nil {
		return nil, fmt.Errorf("%w: http.converter %q needs the converters service (services.converters.enabled)", ErrInvalid, id)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: converter %q takes a JSON object; the response is %s", ErrStage, id, jsonKind(doc))
	}
	out, err := r.converters.Apply(ctx, id, obj)
	if err != nil {
		return nil, fmt.Errorf("%w: converter %q: %w", ErrStage, id, err)
	}
	// the engine's values (int64, nested maps) read as a response does
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("%w: converter %q: result is not JSON: %v", ErrStage, id, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var res any
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("%w: converter %q: result is not JSON: %v", ErrStage, id, err)
	}
	return res, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	}
	return "a number"
}

// normalise turns json.Number into float64 for the expression engine.
func normalise(v any) any {
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return v.String()
		}
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = normalise(x)
		}
	case []any:
		for i, x := range v {
			v[i] = normalise(x)
		}
	}
	return v
}

// apply evaluates the mapping on a decoded response.
func (c *compiledMapping) apply(doc any, maxRows int) (*table, error) {
	env, _ := doc.(map[string]any)
	if env == nil {
		env = map[string]any{}
	}
	env = mapsWith(env, "response", doc)
	rowsV, err := c.rows.Eval(env)
	if err != nil {
		return nil, fmt.Errorf("%w: mapping rows: %v", ErrStage, err)
	}
	rows, ok := rowsV.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: mapping rows gave %T, want an array", ErrStage, rowsV)
	}
	if len(rows) > maxRows {
		return nil, fmt.Errorf("%w: %d rows, more than %d (forecast.maxRows)", ErrStage, len(rows), maxRows)
	}
	t := newTable()
	names := make([]string, 0, len(c.cols))
	for n := range c.cols {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, row := range rows {
		renv := map[string]any{}
		if m, ok := row.(map[string]any); ok {
			for k, v := range m {
				renv[k] = v
			}
		}
		renv["row"] = row
		rec := make(map[string]any, len(names))
		for _, n := range names {
			v, err := c.cols[n].Eval(renv)
			if err != nil {
				return nil, fmt.Errorf("%w: row %d: column %q: %v", ErrStage, i, n, err)
			}
			rec[n] = v
		}
		if err := t.addRow(i, rec); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func mapsWith(m map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for kk, vv := range m {
		out[kk] = vv
	}
	if _, taken := out[k]; !taken {
		out[k] = v
	}
	return out
}
