// Publications and subscriptions: <layer>_<collection>.all and
// <layer>_<collection>.find.

package ddp

import (
	"fmt"
	"strings"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// Publication name suffixes.
const (
	// PubAll publishes every document of a collection: "<layer>_<collection>.all", no params.
	PubAll = ".all"
	// PubFind publishes the documents matching a selector:
	// "<layer>_<collection>.find" with params [selector, {sort, limit, skip, fields}].
	PubFind = ".find"
)

// subscription is one sub of a connection. Every field is owned by the
// dispatcher goroutine.
type subscription struct {
	c      *conn
	id     string
	seq    uint64
	name   string
	coll   string // <layer>_<collection>, the DDP collection name
	layer  string
	col    string
	params []any
	// view is the connection's document set of the collection (its merge
	// box entry), looked up once.
	view map[string]*docView

	// Computed from the principal by prepare.
	sel        *query.Selector
	sort       query.SortSpec
	limit      int
	skip       int
	proj       *query.Projection
	publicOnly bool
	public     []string
	system     bool
	viewKey    string
}

// splitCollection splits "<layer>_<collection>" (layer names hold no '_').
func splitCollection(name string) (layer, col string, ok bool) {
	layer, col, ok = strings.Cut(name, "_")
	return layer, col, ok && layer != "" && col != ""
}

// prepare checks that p may subscribe and compiles the params. Errors are
// *Error.
func (s *Server) prepare(sub *subscription, p *auth.Principal) error {
	ctx, cancel := s.ctx()
	defer cancel()
	t, err := s.target(ctx, p, sub.coll, auth.Public)
	if err != nil {
		return err
	}
	sub.publicOnly, sub.public, sub.system = t.publicOnly, t.public, t.system
	sub.sel, sub.sort, sub.limit, sub.skip, sub.proj = nil, nil, 0, 0, nil
	if strings.HasSuffix(sub.name, PubFind) {
		if err := sub.findParams(t); err != nil {
			return err
		}
	}
	sub.viewKey = t.viewKey(sub.proj)
	return nil
}

// findParams compiles [selector, {sort, limit, skip, fields}].
func (sub *subscription) findParams(t *target) error {
	if len(sub.params) > 0 && sub.params[0] != nil {
		sel, err := t.selector(sub.params[0])
		if err != nil {
			return err
		}
		sub.sel = sel
	}
	if len(sub.params) < 2 || sub.params[1] == nil {
		return nil
	}
	opts, ok := sub.params[1].(map[string]any)
	if !ok {
		return Errorf(400, "the second parameter of %s must be an object {sort, limit, skip, fields}", sub.name)
	}
	for k, v := range opts {
		switch k {
		case "sort":
			spec, err := query.ParseSort(v)
			if err != nil {
				return Errorf(400, "sort: %v", err)
			}
			paths := make([]string, len(spec))
			for i, key := range spec {
				paths[i] = key.Field
			}
			if err := t.checkPaths("sort", paths); err != nil {
				return err
			}
			sub.sort = spec
		case "limit", "skip":
			n, ok := v.(float64)
			if !ok || n < 0 || n != float64(int(n)) {
				return Errorf(400, "%s must be a whole number ≥ 0", k)
			}
			if k == "limit" {
				sub.limit = int(n)
			} else {
				sub.skip = int(n)
			}
		case "fields", "projection":
			p, err := query.ParseProjection(v)
			if err != nil {
				return Errorf(400, "fields: %v", err)
			}
			sub.proj = p
		default:
			return Errorf(400, "unknown option %q of %s (sort, limit, skip, fields)", k, sub.name)
		}
	}
	return nil
}

// live reports whether the subscription is re-run on every change of its
// collection (a limit or skip makes membership depend on other documents).
func (sub *subscription) rerunOnChange() bool { return sub.limit > 0 || sub.skip > 0 }

// findOptions is the store query of the subscription.
func (sub *subscription) findOptions() store.FindOptions {
	return store.FindOptions{Selector: sub.sel, Sort: sub.sort, Limit: sub.limit, Skip: sub.skip}
}

// matches reports whether doc belongs to a subscription without limit.
func (sub *subscription) matches(doc store.Document) bool {
	return sub.sel == nil || sub.sel.Match(doc)
}

// fieldsOf returns the EJSON-encoded top-level fields (without _id) the
// subscription publishes of doc, computed once per view per event (cache).
func (sub *subscription) fieldsOf(doc store.Document, cache map[string]*fieldSet) *fieldSet {
	if f, ok := cache[sub.viewKey]; ok {
		return f
	}
	d := doc
	if sub.publicOnly {
		d = auth.PublicView(d, sub.public)
	}
	if sub.system {
		d = auth.WithoutSecrets(d)
	}
	if sub.proj != nil {
		d = sub.proj.Apply(d)
	}
	m := make(map[string][]byte, len(d))
	for k, v := range d {
		if k != store.FieldID {
			m[k] = appendEJSON(nil, v)
		}
	}
	f := &fieldSet{m: m}
	if cache != nil {
		cache[sub.viewKey] = f
	}
	return f
}

// subscribe handles a sub message.
func (s *Server) subscribe(c *conn, id, name string, params []any) {
	p := c.principal.Load()
	s.run(func() {
		if c.gone {
			return
		}
		if _, dup := c.subs[id]; dup {
			return // DDP: a duplicate sub id is ignored
		}
		sub := &subscription{c: c, id: id, name: name, params: params}
		base, ok := strings.CutSuffix(name, PubAll)
		if !ok {
			base, ok = strings.CutSuffix(name, PubFind)
		}
		layer, col, okc := splitCollection(base)
		if !ok || !okc {
			c.send(nosubMessage(id, Errorf(404, "Subscription '%s' not found", name)))
			return
		}
		sub.coll, sub.layer, sub.col = base, layer, col
		if err := s.prepare(sub, p); err != nil {
			c.send(nosubMessage(id, s.clientError(err, "subscribe", name)))
			return
		}
		docs, err := s.query(sub)
		if err != nil {
			c.send(nosubMessage(id, s.clientError(err, "subscribe", name)))
			return
		}
		c.subSeq++
		sub.seq = c.subSeq
		c.subs[id] = sub
		s.index(sub)
		for _, d := range docs {
			if did, ok := d[store.FieldID].(string); ok {
				c.set(sub, did, sub.fieldsOf(d, nil))
			}
		}
		c.flush()
		c.send(readyMessage(id))
	}, true)
}

// query runs the subscription's store query.
func (s *Server) query(sub *subscription) ([]store.Document, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	docs, err := s.cfg.Store.Find(ctx, sub.layer, sub.col, sub.findOptions())
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", sub.coll, err)
	}
	return docs, nil
}

func (s *Server) index(sub *subscription) {
	m := s.byColl[sub.coll]
	if m == nil {
		m = map[*subscription]struct{}{}
		s.byColl[sub.coll] = m
	}
	m[sub] = struct{}{}
}

func (s *Server) unindex(sub *subscription) {
	if m := s.byColl[sub.coll]; m != nil {
		delete(m, sub)
		if len(m) == 0 {
			delete(s.byColl, sub.coll)
		}
	}
}

// unsubscribe handles unsub: removed for the documents no other
// subscription publishes, then nosub.
func (s *Server) unsubscribe(c *conn, id string) {
	s.run(func() {
		if c.gone {
			return
		}
		sub := c.subs[id]
		if sub != nil {
			s.stop(sub)
			c.flush()
		}
		c.send(nosubMessage(id, nil))
	}, true)
}

// stop removes a subscription and what it publishes (sent at the next flush).
func (s *Server) stop(sub *subscription) {
	for _, id := range sub.c.held(sub) {
		sub.c.set(sub, id, nil)
	}
	delete(sub.c.subs, sub.id)
	s.unindex(sub)
}

// rerun re-runs every subscription of c for its new principal and sends
// only the difference; a subscription the principal may no longer read
// ends with nosub and the error.
func (s *Server) rerun(c *conn) {
	if c.gone {
		return
	}
	p := c.principal.Load()
	var failed []*subscription
	var errs []*Error
	for _, sub := range c.subs {
		err := s.prepare(sub, p)
		var docs []store.Document
		if err == nil {
			docs, err = s.query(sub)
		}
		if err != nil {
			failed = append(failed, sub)
			errs = append(errs, s.clientError(err, "re-run subscription", sub.name))
			continue
		}
		keep := make(map[string]bool, len(docs))
		for _, d := range docs {
			if did, ok := d[store.FieldID].(string); ok {
				keep[did] = true
				c.set(sub, did, sub.fieldsOf(d, nil))
			}
		}
		for _, id := range c.held(sub) {
			if !keep[id] {
				c.set(sub, id, nil)
			}
		}
	}
	for _, sub := range failed {
		s.stop(sub)
	}
	c.flush()
	for i, sub := range failed {
		c.send(nosubMessage(sub.id, errs[i]))
	}
}

// dropConn forgets a closed connection's subscriptions.
func (s *Server) dropConn(c *conn) {
	c.gone = true
	for _, sub := range c.subs {
		s.unindex(sub)
	}
	c.subs, c.box, c.dirty = nil, nil, nil
}

// clientError logs unexpected errors and returns what the client may see.
func (s *Server) clientError(err error, what, name string) *Error {
	e, internal := toError(err)
	if internal {
		s.log.Error("ddp: "+what+" failed", "name", name, "err", err)
	}
	return e
}
