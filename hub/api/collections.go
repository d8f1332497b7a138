package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// target is a collection a request may use, with what the caller may see.
type target struct {
	layer, col string
	l          *store.Layer
	c          *store.Collection
	// public lists the public attributes when the caller may read only
	// those (publicOnly).
	public     []string
	publicOnly bool
	system     bool
}

// collectionFor checks that p may access layer/col with need and that the
// collection exists. Permission is checked first, so that a caller without
// a grant cannot learn which layers exist.
func (s *Server) collectionFor(ctx context.Context, p *auth.Principal, layer, col string, need auth.Perm) (*target, error) {
	t := &target{layer: layer, col: col, system: layer == auth.SystemLayer}
	if err := s.checkLayer(p, layer, need); err != nil {
		return nil, err
	}
	if t.system && need > auth.Read {
		// Users and apps change only through /users and /apps, which check
		// names, hash passwords, keep an admin and revoke tokens.
		return nil, httpErrorf(http.StatusForbidden,
			"layer %q is read-only through collection routes; manage users with /users and apps with /apps", layer)
	}
	l, err := s.Store.Layer(ctx, layer)
	if err != nil {
		return nil, err
	}
	t.l = l
	if t.c = l.Collection(col); t.c == nil {
		return nil, fmt.Errorf("collection %q of layer %q: %w", col, layer, store.ErrNotFound)
	}
	if p.Access(layer) == auth.Public {
		t.publicOnly = true
		t.public = auth.PublicFields(t.c.Extra, l.Config, col)
	}
	return t, nil
}

// checkLayer checks p's permission on a layer: 401 for anonymous callers
// without a grant, 403 for others.
func (s *Server) checkLayer(p *auth.Principal, layer string, need auth.Perm) error {
	if layer == auth.SystemLayer && !p.Admin {
		if !p.Authenticated() {
			return errCredentials
		}
		return httpErrorf(http.StatusForbidden, "only admins may access layer %q", layer)
	}
	if p.Can(layer, need) {
		return nil
	}
	if !p.Authenticated() {
		return errCredentials
	}
	have := p.Access(layer)
	if have == auth.None {
		return httpErrorf(http.StatusForbidden, "%s %q has no grant on layer %q", p.Kind, p.ID, layer)
	}
	return httpErrorf(http.StatusForbidden, "%s %q may only %s layer %q; this needs %s", p.Kind, p.ID, verb(have), layer, need)
}

func verb(p auth.Perm) string {
	switch p {
	case auth.Public:
		return "read the public attributes of"
	case auth.Read:
		return "read"
	}
	return "write"
}

// checkFields refuses paths outside the public attributes for callers
// limited to them: selecting or sorting on a private field would leak it.
func (t *target) checkFields(what string, paths []string) error {
	if !t.publicOnly {
		return nil
	}
	for _, f := range paths {
		if !auth.FieldAllowed(t.public, f) {
			return httpErrorf(http.StatusForbidden, "%s uses %q, which is not a public attribute of %s/%s (public: %s)",
				what, f, t.layer, t.col, strings.Join(t.public, ", "))
		}
	}
	return nil
}

// output filters a document for the caller: public attributes only, and
// never a secret of the system layer.
func (t *target) output(d store.Document) store.Document {
	if d == nil {
		return nil
	}
	if t.publicOnly {
		d = auth.PublicView(d, t.public)
	}
	if t.system {
		for _, f := range auth.SecretFields {
			delete(d, f)
		}
	}
	return d
}

func (t *target) outputAll(docs []store.Document) []store.Document {
	if docs == nil {
		return []store.Document{}
	}
	for i := range docs {
		docs[i] = t.output(docs[i])
	}
	return docs
}

// findOptions reads the query parameters query (or selector), sort, limit,
// skip and fields.
func (s *Server) findOptions(r *http.Request, t *target) (store.FindOptions, error) {
	q := r.URL.Query()
	var o store.FindOptions
	sel, err := selectorParam(q, t)
	if err != nil {
		return o, err
	}
	o.Selector = sel
	if v := q.Get("sort"); v != "" {
		var spec query.SortSpec
		if strings.HasPrefix(strings.TrimSpace(v), "{") || strings.HasPrefix(strings.TrimSpace(v), "[") {
			spec, err = query.ParseSortJSON([]byte(v))
		} else {
			spec, err = query.ParseSort(v)
		}
		if err != nil {
			return o, httpErrorf(http.StatusBadRequest, "query parameter sort: %v", err)
		}
		var paths []string
		for _, k := range spec {
			paths = append(paths, k.Field)
		}
		if err := t.checkFields("sort", paths); err != nil {
			return o, err
		}
		o.Sort = spec
	}
	if o.Projection, err = projectionParam(q.Get("fields")); err != nil {
		return o, err
	}
	if o.Limit, err = intParam(q, "limit", s.Config.HTTP.DefaultLimit, 1, s.Config.HTTP.MaxLimit); err != nil {
		return o, err
	}
	if o.Skip, err = intParam(q, "skip", 0, 0, math.MaxInt32); err != nil {
		return o, err
	}
	return o, nil
}

// selectorParam parses the "query" (alias "selector") parameter.
func selectorParam(q url.Values, t *target) (*query.Selector, error) {
	name, v := "query", q.Get("query")
	if v == "" {
		name, v = "selector", q.Get("selector")
	} else if q.Get("selector") != "" {
		return nil, httpErrorf(http.StatusBadRequest, "give the selector as query or as selector, not both")
	}
	if v == "" {
		return nil, nil
	}
	return parseSelector(name, []byte(v), t)
}

func parseSelector(name string, text []byte, t *target) (*query.Selector, error) {
	var v any
	if err := json.Unmarshal(text, &v); err != nil {
		return nil, httpErrorf(http.StatusBadRequest, "%s: bad selector: invalid JSON: %v", name, err)
	}
	return compileSelector(name, v, t)
}

// compileSelector checks and compiles a decoded selector.
func compileSelector(name string, v any, t *target) (*query.Selector, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, httpErrorf(http.StatusBadRequest, "%s: bad selector: want a JSON object, not %s", name, jsonType(v))
	}
	if err := t.checkFields("the selector", auth.SelectorPaths(m)); err != nil {
		return nil, err
	}
	sel, err := query.CompileSelector(m)
	if err != nil {
		return nil, httpErrorf(http.StatusBadRequest, "%s: %v", name, err)
	}
	return sel, nil
}

// projectionParam parses fields: JSON or a comma-separated list.
func projectionParam(v string) (*query.Projection, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	var p *query.Projection
	var err error
	if strings.HasPrefix(v, "{") {
		p, err = query.ParseProjection([]byte(v))
	} else {
		m := map[string]any{}
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				if rest, ok := strings.CutPrefix(f, "-"); ok {
					m[rest] = 0
				} else {
					m[f] = 1
				}
			}
		}
		p, err = query.ParseProjection(m)
	}
	if err != nil {
		return nil, httpErrorf(http.StatusBadRequest, "query parameter fields: %v", err)
	}
	return p, nil
}

func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, httpErrorf(http.StatusBadRequest, "query parameter %s=%q: want a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

// page writes a page of documents. It asked the store for one more than
// the limit: when that one exists, a Link header points at the next page.
func page(w http.ResponseWriter, r *http.Request, t *target, o store.FindOptions, docs []store.Document) error {
	if len(docs) > o.Limit {
		docs = docs[:o.Limit]
		q := r.URL.Query()
		q.Set("skip", strconv.Itoa(o.Skip+o.Limit))
		q.Set("limit", strconv.Itoa(o.Limit))
		q.Del("keyId") // never echo a secret into a URL
		next := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
		w.Header().Set("Link", "<"+next.String()+`>; rel="next"`)
	}
	return success(w, "", t.outputAll(docs))
}

func (s *Server) health(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	return success(w, "", s.Version)
}

func (s *Server) find(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	t, err := s.collectionFor(r.Context(), p, r.PathValue("layer"), r.PathValue("collection"), auth.Public)
	if err != nil {
		return err
	}
	o, err := s.findOptions(r, t)
	if err != nil {
		return err
	}
	return s.findPage(w, r, t, o)
}

func (s *Server) findField(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	t, err := s.collectionFor(r.Context(), p, r.PathValue("layer"), r.PathValue("collection"), auth.Public)
	if err != nil {
		return err
	}
	field := r.PathValue("field")
	if err := t.checkFields("the field", []string{field}); err != nil {
		return err
	}
	o, err := s.findOptions(r, t)
	if err != nil {
		return err
	}
	if o.Projection, err = query.ParseProjection(map[string]any{field: 1}); err != nil {
		return httpErrorf(http.StatusBadRequest, "field %q: %v", field, err)
	}
	return s.findPage(w, r, t, o)
}

// findPage answers a find with o: one page of documents (see lookAhead),
// or with explain=true the store's plan instead.
func (s *Server) findPage(w http.ResponseWriter, r *http.Request, t *target, o store.FindOptions) error {
	if r.URL.Query().Get("explain") == "true" {
		plan, ok, err := store.ExplainFind(r.Context(), s.Store, t.layer, t.col, o)
		if err != nil {
			return err
		}
		if !ok {
			return httpErrorf(http.StatusBadRequest, "explain: this store backend cannot explain a find")
		}
		return success(w, "", plan)
	}
	return s.lookAhead(w, r, t, o, func(o store.FindOptions) ([]store.Document, error) {
		return s.Store.Find(r.Context(), t.layer, t.col, o)
	})
}

// lookAhead answers with one page of what fetch returns under o, asking it
// for one document more than the page holds to tell whether another page
// follows.
func (s *Server) lookAhead(w http.ResponseWriter, r *http.Request, t *target, o store.FindOptions,
	fetch func(store.FindOptions) ([]store.Document, error)) error {
	o.Limit++
	docs, err := fetch(o)
	o.Limit--
	if err != nil {
		return err
	}
	return page(w, r, t, o, docs)
}

func (s *Server) getOne(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	t, err := s.collectionFor(r.Context(), p, r.PathValue("layer"), r.PathValue("collection"), auth.Public)
	if err != nil {
		return err
	}
	proj, err := projectionParam(r.URL.Query().Get("fields"))
	if err != nil {
		return err
	}
	if proj == nil && !t.publicOnly && !t.system {
		// the whole document as stored: no decoding and encoding
		if data, ok, err := store.GetJSON(r.Context(), s.Store, t.layer, t.col, r.PathValue("id")); ok {
			if err != nil {
				return err
			}
			return successJSON(w, data)
		}
	}
	doc, err := s.Store.Get(r.Context(), t.layer, t.col, r.PathValue("id"))
	if err != nil {
		return err
	}
	if proj != nil {
		doc = proj.Apply(doc)
	}
	return success(w, "", t.output(doc))
}

func (s *Server) getField(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	t, err := s.collectionFor(r.Context(), p, r.PathValue("layer"), r.PathValue("collection"), auth.Public)
	if err != nil {
		return err
	}
	field := r.PathValue("field")
	if err := t.checkFields("the field", []string{field}); err != nil {
		return err
	}
	proj, err := query.ParseProjection(map[string]any{field: 1})
	if err != nil {
		return httpErrorf(http.StatusBadRequest, "field %q: %v", field, err)
	}
	doc, err := s.Store.Get(r.Context(), t.layer, t.col, r.PathValue("id"))
	if err != nil {
		return err
	}
	return success(w, "", t.output(proj.Apply(doc)))
}

// readDocs reads a document or an array of documents. The body is decoded
// once, straight into the values the store takes.
func readDocs(r *http.Request) (docs []store.Document, single bool, err error) {
	var v any
	if err := readJSON(r, &v); err != nil {
		return nil, false, err
	}
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return nil, false, httpErrorf(http.StatusBadRequest, "the array of documents is empty")
		}
		docs = make([]store.Document, 0, len(x))
		for i, e := range x {
			d, ok := e.(map[string]any)
			if !ok {
				return nil, false, httpErrorf(http.StatusBadRequest, "element %d of the array is %s, not a document (object)", i, jsonType(e))
			}
			docs = append(docs, d)
		}
		return docs, false, nil
	case map[string]any:
		return []store.Document{x}, true, nil
	}
	return nil, false, httpErrorf(http.StatusBadRequest, "the body must be a document (object) or an array of documents")
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}

// writeData is the seed's data object of a multi-document write, with the
// ids under the operation's name.
func writeData(res store.WriteResult, idsName string) ordered {
	ids := res.IDs
	if ids == nil {
		ids = []string{}
	}
	errIDs := res.ErrorIDs
	if errIDs == nil {
		errIDs = []string{}
	}
	return ordered{{"ok", res.OK}, {idsName, ids}, {"err", res.Err}, {"errorIds", errIDs}}
}

// failed turns a write where no document succeeded into an error: 409 when
// every failed document's _id exists (duplicates), 404 when none exists
// (updates of missing documents), else 400; hint says which of the two
// the operation can produce.
func (s *Server) failed(ctx context.Context, t *target, docs []store.Document, res store.WriteResult, what string, hint int) error {
	exists := 0
	for _, d := range docs {
		id, ok := d["_id"].(string)
		if !ok {
			continue
		}
		if _, err := s.Store.Get(ctx, t.layer, t.col, id); err == nil {
			exists++
		}
	}
	status := http.StatusBadRequest
	switch {
	case hint == http.StatusConflict && exists == len(docs):
		status = http.StatusConflict
	case hint == http.StatusNotFound && exists == 0 && allHaveIDs(docs):
		status = http.StatusNotFound
	}
	msg := "no item " + what
	if len(res.Errors) > 0 {
		msg += ": " + res.Errors[0]
		if len(res.Errors) > 1 {
			msg += fmt.Sprintf(" (and %d more)", len(res.Errors)-1)
		}
	}
	return httpErrorf(status, "%s", msg)
}

func allHaveIDs(docs []store.Document) bool {
	for _, d := range docs {
		if _, ok := d["_id"].(string); !ok {
			return false
		}
	}
	return true
}

func (s *Server) insert(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return s.writeMany(w, r, p, s.Store.Insert, "inserted", "insertedIds", http.StatusConflict)
}

func (s *Server) updateMany(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return s.writeMany(w, r, p, s.Store.UpdateMany, "updated", "updatedIds", http.StatusNotFound)
}

// writeMany serves the seed's multi-document writes (POST and PATCH on
// /:layer/:col): partial success is a success with err/errorIds; when every
// document failed, the answer is an error with failStatus.
func (s *Server) writeMany(w http.ResponseWriter, r *http.Request, p *auth.Principal,
	write func(ctx context.Context, layer, col string, docs []store.Document) (store.WriteResult, error),
	verb, idsKey string, failStatus int) error {
	t, err := s.collectionFor(r.Context(), p, r.PathValue("layer"), r.PathValue("collection"), auth.Write)
	if err != nil {
		return err
	}
	docs, _, err := readDocs(r)
	if err != nil {
		return err
	}
	if verb == "updated" && s.isIncidents(t.layer, t.col) { // the incidents' state machine (incidents.go)
		if err := s.checkIncidentDocs(r.Context(), docs); err != nil {
			return err
		}
	}
	res, err := write(r.Context(), t.layer, t.col, docs)
	if err != nil {
		return err
	}
	if res.OK == 0 && res.Err > 0 {
		return s.failed(r.Context(), t, docs, res, verb, failStatus)
	}
	return success(w, "Item(s) "+verb, writeData(res, idsKey))
}

func (s *Server) deleteMany(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	t, err := s.collectionFor(r.Context(), p, r.PathValue("layer"), r.PathValue("collection"), auth.Write)
	if err != nil {
		return err
	}
	sel, err := selectorParam(r.URL.Query(), t)
	if err != nil {
		return err
	}
	if sel == nil && r.ContentLength != 0 {
		var v any
		if err := readJSON(r, &v); err != nil && !isEmptyBody(err) {
			return err
		} else if err == nil {
			if sel, err = compileSelector("body", v, t); err != nil {
				return err
			}
		}
	}
	res, err := s.Store.DeleteMany(r.Context(), t.layer, t.col, sel)
	if err != nil {
		return err
	}
	return success(w, "Item(s) deleted", writeData(res, "deletedIds"))
}

func isEmptyBody(err error) bool {
	var he *httpError
	return errors.As(err, &he) && strings.HasPrefix(he.msg, "request body is empty")
}

func (s *Server) updateOne(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	t, err := s.collectionFor(r.Context(), p, r.PathValue("layer"), r.PathValue("collection"), auth.Write)
	if err != nil {
		return err
	}
	var upd map[string]any
	if err := readJSON(r, &upd); err != nil {
		return err
	}
	if len(upd) == 0 {
		return httpErrorf(http.StatusBadRequest, "the body must be an object with the fields to update")
	}
	id := r.PathValue("id")
	if v, ok := upd["_id"]; ok {
		if v != id {
			return httpErrorf(http.StatusBadRequest, "_id %v in the body differs from %q in the path; _id cannot change", v, id)
		}
		delete(upd, "_id")
	}
	if s.isIncidents(t.layer, t.col) { // the incidents' state machine (incidents.go)
		if err := s.checkIncidentStatus(r.Context(), id, upd); err != nil {
			return err
		}
	}
	if _, err := s.Store.UpdateByID(r.Context(), t.layer, t.col, id, upd); err != nil {
		return err
	}
	return success(w, "Item updated", nil)
}

func (s *Server) deleteOne(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	t, err := s.collectionFor(r.Context(), p, r.PathValue("layer"), r.PathValue("collection"), auth.Write)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteByID(r.Context(), t.layer, t.col, r.PathValue("id")); err != nil {
		return err
	}
	return success(w, "Item deleted", nil)
}

func (s *Server) bulk(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	t, err := s.collectionFor(r.Context(), p, r.PathValue("layer"), r.PathValue("collection"), auth.Write)
	if err != nil {
		return err
	}
	var body any
	if err := readJSON(r, &body); err != nil {
		return err
	}
	// Decoded once: a bare array is the data; an object holds data and init.
	var req struct {
		Data []any
		Init bool
	}
	badBody := func(why string) error {
		return httpErrorf(http.StatusBadRequest, "invalid body: want {\"data\": [documents], \"init\": false}: %s", why)
	}
	switch x := body.(type) {
	case []any:
		req.Data = x
	case map[string]any:
		var ok bool
		if v, has := x["data"]; has && v != nil {
			if req.Data, ok = v.([]any); !ok {
				return badBody("data is " + jsonType(v) + ", not an array")
			}
		}
		if v, has := x["init"]; has && v != nil {
			if req.Init, ok = v.(bool); !ok {
				return badBody("init is " + jsonType(v) + ", not a boolean")
			}
		}
	default:
		return badBody("the body is " + jsonType(body))
	}
	docs := make([]store.Document, 0, len(req.Data))
	for i, e := range req.Data {
		d, ok := e.(map[string]any)
		if !ok {
			return httpErrorf(http.StatusBadRequest, "data[%d] is %s, not a document (object)", i, jsonType(e))
		}
		docs = append(docs, d)
	}
	if len(docs) == 0 && !req.Init {
		return httpErrorf(http.StatusBadRequest, "data is empty")
	}
	res, err := s.Store.Bulk(r.Context(), t.layer, t.col, docs, req.Init)
	if err != nil {
		return err
	}
	inserted, updated, deleted := []string{}, []string{}, []string{}
	for _, c := range res.Changes {
		switch c.Op {
		case store.OpInsert:
			inserted = append(inserted, c.ID)
		case store.OpUpdate:
			updated = append(updated, c.ID)
		case store.OpDelete:
			deleted = append(deleted, c.ID)
		}
	}
	errIDs := res.ErrorIDs
	if errIDs == nil {
		errIDs = []string{}
	}
	data := ordered{{"ok", len(inserted) + len(updated)}, {"insertedIds", inserted}, {"updatedIds", updated},
		{"err", res.Err}, {"errorIds", errIDs}}
	if req.Init {
		data = append(data, kv{"deletedIds", deleted})
	}
	if len(inserted)+len(updated) == 0 && res.Err > 0 {
		return s.failed(r.Context(), t, docs, res, "inserted or updated", 0)
	}
	return success(w, "Item(s) inserted", data)
}

// parseTime reads a date parameter: RFC 3339, a date (UTC midnight), or
// milliseconds since 1970.
func parseTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, httpErrorf(http.StatusBadRequest, "query parameter %s is required", name)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	return time.Time{}, httpErrorf(http.StatusBadRequest, "query parameter %s=%q: want an RFC 3339 date-time such as 2019-11-10T07:00:00.000Z, a date, or milliseconds", name, v)
}

func (s *Server) rangeQuery(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	t, err := s.collectionFor(r.Context(), p, r.PathValue("layer"), r.PathValue("collection"), auth.Public)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	from, err := parseTime("from", q.Get("from"))
	if err != nil {
		return err
	}
	to, err := parseTime("to", q.Get("to"))
	if err != nil {
		return err
	}
	if to.Before(from) {
		return httpErrorf(http.StatusBadRequest, "from (%s) is after to (%s)", q.Get("from"), q.Get("to"))
	}
	field := q.Get("field")
	if field == "" {
		field = "timestamp"
	}
	if err := t.checkFields("field", []string{field}); err != nil {
		return err
	}
	o, err := s.findOptions(r, t)
	if err != nil {
		return err
	}
	return s.lookAhead(w, r, t, o, func(o store.FindOptions) ([]store.Document, error) {
		return s.Store.Range(r.Context(), t.layer, t.col, field, from, to, o)
	})
}

func floatParam(q url.Values, name string, lo, hi float64) (float64, error) {
	v := q.Get(name)
	if v == "" {
		return 0, httpErrorf(http.StatusBadRequest, "query parameter %s is required", name)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < lo || f > hi {
		return 0, httpErrorf(http.StatusBadRequest, "query parameter %s=%q: want a number from %g to %g", name, v, lo, hi)
	}
	return f, nil
}

func (s *Server) near(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	t, err := s.collectionFor(r.Context(), p, r.PathValue("layer"), r.PathValue("collection"), auth.Public)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	lat, err := floatParam(q, "lat", -90, 90)
	if err != nil {
		return err
	}
	lon, err := floatParam(q, "lon", -180, 180)
	if err != nil {
		return err
	}
	dist, err := floatParam(q, "distance", 0, math.MaxFloat64)
	if err != nil {
		return err
	}
	if err := t.checkFields("near", []string{"geometry"}); err != nil {
		return err
	}
	o, err := s.findOptions(r, t)
	if err != nil {
		return err
	}
	return s.lookAhead(w, r, t, o, func(o store.FindOptions) ([]store.Document, error) {
		return s.Store.Near(r.Context(), t.layer, t.col, lon, lat, dist, o)
	})
}
