package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
)

// collectionJSON is a collection as the seed shows it: the known
// attributes plus the free-form ones kept in Extra.
func collectionJSON(c store.Collection) map[string]any {
	out := map[string]any{}
	for k, v := range c.Extra {
		out[k] = v
	}
	b, _ := json.Marshal(c)
	var known map[string]any
	_ = json.Unmarshal(b, &known)
	for k, v := range known {
		out[k] = v
	}
	return out
}

// collectionFrom reads a collection object: known attributes into their
// fields, the others into Extra.
func collectionFrom(m map[string]any) (store.Collection, error) {
	var c store.Collection
	b, _ := json.Marshal(m)
	if err := json.Unmarshal(b, &c); err != nil {
		return c, httpErrorf(http.StatusBadRequest, "collection: %v", err)
	}
	for k, v := range m {
		switch k {
		case "name", "label", "geo", "metrics":
		default:
			if c.Extra == nil {
				c.Extra = map[string]any{}
			}
			c.Extra[k] = v
		}
	}
	if pf, ok := m["publicFields"]; ok {
		if _, ok := pf.([]any); !ok {
			return c, httpErrorf(http.StatusBadRequest, "collection %q: publicFields must be an array of field paths", c.Name)
		}
	}
	return c, nil
}

func layerJSON(l *store.Layer) map[string]any {
	out := map[string]any{"_id": l.ID}
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	set("label", l.Label)
	set("description", l.Description)
	set("owner", l.Owner)
	set("category", l.Category)
	cols := make([]any, 0, len(l.Collections))
	for _, c := range l.Collections {
		cols = append(cols, collectionJSON(c))
	}
	out["collections"] = cols
	if l.Config != nil {
		out["config"] = l.Config
	}
	return out
}

// publicLayerJSON is the layer as callers with only public access see it:
// no layer config and no collection attributes beyond name, label, geo,
// metrics and publicFields (reading configuration needs read).
func publicLayerJSON(l *store.Layer) map[string]any {
	out := layerJSON(l)
	delete(out, "config")
	cols := make([]any, 0, len(l.Collections))
	for _, c := range l.Collections {
		cm := map[string]any{"name": c.Name}
		if c.Label != "" {
			cm["label"] = c.Label
		}
		if c.Geo {
			cm["geo"] = true
		}
		if pf, ok := c.Extra["publicFields"]; ok {
			cm["publicFields"] = pf
		}
		cols = append(cols, cm)
	}
	out["collections"] = cols
	return out
}

// layerFor is the layer as p may see it.
func layerFor(p *auth.Principal, l *store.Layer) map[string]any {
	if p.Can(l.ID, auth.Read) {
		return layerJSON(l)
	}
	return publicLayerJSON(l)
}

// applyLayer sets the attributes present in m on l.
func applyLayer(l *store.Layer, m map[string]any) error {
	str := func(k string, dst *string) error {
		v, ok := m[k]
		if !ok {
			return nil
		}
		s, ok := v.(string)
		if !ok && v != nil {
			return httpErrorf(http.StatusBadRequest, "layer attribute %s must be a string", k)
		}
		*dst = s
		return nil
	}
	for k, dst := range map[string]*string{"label": &l.Label, "description": &l.Description, "owner": &l.Owner, "category": &l.Category} {
		if err := str(k, dst); err != nil {
			return err
		}
	}
	if v, ok := m["config"]; ok {
		cfg, ok := v.(map[string]any)
		if !ok && v != nil {
			return httpErrorf(http.StatusBadRequest, "layer attribute config must be an object")
		}
		l.Config = cfg
	}
	if v, ok := m["collections"]; ok {
		arr, ok := v.([]any)
		if !ok {
			return httpErrorf(http.StatusBadRequest, "layer attribute collections must be an array")
		}
		l.Collections = l.Collections[:0:0]
		seen := map[string]bool{}
		for i, e := range arr {
			cm, ok := e.(map[string]any)
			if !ok {
				return httpErrorf(http.StatusBadRequest, "collections[%d] must be an object", i)
			}
			c, err := collectionFrom(cm)
			if err != nil {
				return err
			}
			if err := store.CheckName("collection", c.Name); err != nil {
				return fmt.Errorf("collections[%d]: %w", i, err)
			}
			if seen[c.Name] {
				return httpErrorf(http.StatusBadRequest, "collection %q is listed twice", c.Name)
			}
			seen[c.Name] = true
			l.Collections = append(l.Collections, c)
		}
	}
	return nil
}

func (s *Server) listLayers(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ls, err := s.Store.Layers(r.Context())
	if err != nil {
		return err
	}
	out := []any{}
	for i := range ls {
		if p.Admin || (ls[i].ID != auth.SystemLayer && p.Access(ls[i].ID) > auth.None) {
			out = append(out, layerFor(p, &ls[i]))
		}
	}
	return success(w, "", out)
}

func (s *Server) getLayer(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id := r.PathValue("id")
	if err := s.checkLayer(p, id, auth.Public); err != nil {
		return err
	}
	l, err := s.Store.Layer(r.Context(), id)
	if err != nil {
		return err
	}
	return success(w, "", layerFor(p, l))
}

func (s *Server) createLayer(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var m map[string]any
	if err := readJSON(r, &m); err != nil {
		return err
	}
	id, _ := m["_id"].(string)
	if err := store.CheckName("layer", id); err != nil {
		return err
	}
	if ReservedLayer(id) {
		return httpErrorf(http.StatusBadRequest, "layer name %q is reserved (it names an API path)", id)
	}
	if _, err := s.Store.Layer(r.Context(), id); err == nil {
		return httpErrorf(http.StatusConflict, "layer %q exists already", id)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	l := &store.Layer{ID: id}
	if err := applyLayer(l, m); err != nil {
		return err
	}
	if err := s.Store.PutLayer(r.Context(), *l); err != nil {
		return err
	}
	s.log().Info("layer created", "layer", id, "by", p.ID)
	return success(w, "Layer created", layerJSON(l))
}

func (s *Server) patchLayer(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id := r.PathValue("id")
	if id == auth.SystemLayer {
		return httpErrorf(http.StatusForbidden, "layer %q is managed by the hub", id)
	}
	var m map[string]any
	if err := readJSON(r, &m); err != nil {
		return err
	}
	if v, ok := m["_id"]; ok && v != id {
		return httpErrorf(http.StatusBadRequest, "_id cannot change (%v in the body, %q in the path)", v, id)
	}
	l, err := s.Store.Layer(r.Context(), id)
	if err != nil {
		return err
	}
	if err := applyLayer(l, m); err != nil {
		return err
	}
	if err := s.Store.PutLayer(r.Context(), *l); err != nil {
		return err
	}
	return success(w, "Layer updated", layerJSON(l))
}

func (s *Server) deleteLayer(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id := r.PathValue("id")
	if id == auth.SystemLayer {
		return httpErrorf(http.StatusForbidden, "layer %q is managed by the hub", id)
	}
	if err := s.Store.DeleteLayer(r.Context(), id); err != nil {
		return err
	}
	s.log().Info("layer deleted", "layer", id, "by", p.ID)
	return success(w, "Layer deleted", nil)
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	layer, item := r.PathValue("layer"), r.PathValue("item")
	if err := s.checkLayer(p, layer, auth.Read); err != nil {
		return err
	}
	l, err := s.Store.Layer(r.Context(), layer)
	if err != nil {
		return err
	}
	if c := l.Collection(item); c != nil {
		return success(w, "", collectionJSON(*c))
	}
	if v, ok := l.Config[item]; ok {
		return success(w, "", v)
	}
	return fmt.Errorf("layer %q has no collection or serie %q: %w", layer, item, store.ErrNotFound)
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	layer, item := r.PathValue("layer"), r.PathValue("item")
	// The route is admin-only: a collection's configuration decides what
	// public callers see (publicFields), which a writer must not widen.
	if layer == auth.SystemLayer {
		return httpErrorf(http.StatusForbidden, "layer %q is managed by the hub", layer)
	}
	var m map[string]any
	if err := readJSON(r, &m); err != nil {
		return err
	}
	if m == nil {
		return httpErrorf(http.StatusBadRequest, "the body must be the configuration object")
	}
	if n, ok := m["name"]; ok && n != item {
		return httpErrorf(http.StatusBadRequest, "name %v in the body differs from %q in the path", n, item)
	}
	m["name"] = item
	if err := store.CheckName("collection", item); err != nil {
		return err
	}
	c, err := collectionFrom(m)
	if err != nil {
		return err
	}
	l, err := s.Store.Layer(r.Context(), layer)
	if err != nil {
		return err
	}
	if old := l.Collection(item); old != nil {
		*old = c
	} else {
		l.Collections = append(l.Collections, c)
	}
	if err := s.Store.PutLayer(r.Context(), *l); err != nil {
		return err
	}
	return success(w, "", nil)
}
