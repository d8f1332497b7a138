// Methods: the X-FLEX connector's set (seed 000, 3.3.2.2).

package ddp

import (
	"context"
	"errors"
	"time"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
)

// maxLoginFailures is how many failed logins a connection may make before
// it is closed (each one costs the hub a bcrypt comparison).
const maxLoginFailures = 10

// methodFunc runs a method; changes are the store changes its writes made.
type methodFunc func(c *conn, ctx context.Context, params []any) (result any, changes []store.Change, err error)

// methods maps method names to their implementations.
var methods map[string]methodFunc

func init() {
	methods = map[string]methodFunc{
		"login":       (*conn).login,
		"loginApp":    (*conn).loginApp,
		"renewToken":  (*conn).renewToken,
		"getNewToken": (*conn).renewToken,
		"logout":      (*conn).logout,
		"isLogged":    (*conn).isLogged,
		"findAll":     (*conn).findAll,
		"findOne":     (*conn).findOne,
		"insert":      (*conn).insert,
		"update":      (*conn).update,
		"remove":      (*conn).remove,
	}
}

// call runs a method and answers result, then updated once the data
// messages of its writes are queued.
func (c *conn) call(id, name string, params []any) {
	var res any
	var e *Error
	f := methods[name]
	if f == nil {
		e = Errorf(404, "Method '%s' not found", name)
	} else {
		ctx, cancel := c.srv.ctx()
		r, changes, err := f(c, ctx, params)
		cancel()
		c.srv.applied(changes)
		if err != nil {
			e = c.srv.clientError(err, "method", name)
		}
		res = r
	}
	c.send(resultMessage(id, res, e))
	c.send(updatedMessage(id))
}

// setPrincipal changes the connection's user and re-runs its subscriptions.
func (c *conn) setPrincipal(p *auth.Principal) {
	c.principal.Store(p)
	c.srv.run(func() { c.srv.rerun(c) }, true)
}

// loginResult is Meteor's login result.
func loginResult(sess *auth.Session, typ string) map[string]any {
	return map[string]any{"id": sess.UserID, "token": sess.Token, "tokenExpires": sess.Expires.UTC(), "type": typ}
}

// login: {user: {username|email|id} or a name, password: text or {digest,
// algorithm: "sha-256"}}, or {resume: token}.
func (c *conn) login(ctx context.Context, params []any) (any, []store.Change, error) {
	opts, _ := arg(params, 0).(map[string]any)
	if opts == nil {
		return nil, nil, Errorf(400, "login needs an object: {user, password} or {resume}")
	}
	a := c.srv.cfg.Auth
	if tok, ok := opts["resume"]; ok {
		s, _ := tok.(string)
		p, sess, err := a.Resume(ctx, s)
		if err != nil {
			return nil, nil, c.loginFailed(err)
		}
		c.setPrincipal(p)
		return loginResult(sess, "resume"), nil, nil
	}
	user := loginUser(opts["user"])
	var sess *auth.Session
	var check func() error
	switch pw := opts["password"].(type) {
	case string:
		check = func() (err error) {
			sess, err = a.Login(ctx, user, pw)
			return err
		}
	case map[string]any:
		digest, _ := pw["digest"].(string)
		if alg, _ := pw["algorithm"].(string); alg != "sha-256" || digest == "" {
			return nil, nil, Errorf(400, "password: want {digest, algorithm: 'sha-256'}")
		}
		check = func() (err error) {
			sess, err = a.LoginDigest(ctx, user, digest)
			return err
		}
	default:
		return nil, nil, Errorf(400, "login needs a password (text or {digest, algorithm})")
	}
	// The REST API's throttle: the same counts per account and per client,
	// checked before bcrypt runs; reconnecting resets nothing.
	wait, err := c.srv.cfg.Guard.CheckPassword(user, c.client, check)
	if wait > 0 {
		return nil, nil, throttled("too many failed password checks for this account or from this client", wait)
	}
	if err != nil {
		return nil, nil, c.loginFailed(err)
	}
	if pw, ok := opts["password"].(string); ok {
		// Later logins may send the digest only.
		if derr := a.RememberDigest(ctx, sess.UserID, pw); derr != nil {
			c.log.Warn("ddp: store the password digest", "user", sess.UserID, "err", derr)
		}
	}
	p, err := a.Authenticate(ctx, sess.UserID, sess.Token)
	if err != nil {
		return nil, nil, err
	}
	c.setPrincipal(p)
	return loginResult(sess, "password"), nil, nil
}

// loginUser reads Meteor's user selector: {username}, {email}, {id}, or a
// plain name.
func loginUser(v any) string {
	switch u := v.(type) {
	case string:
		return u
	case map[string]any:
		for _, k := range []string{"username", "email", "id"} {
			if s, ok := u[k].(string); ok && s != "" {
				return s
			}
		}
	}
	return ""
}

// loginFailed gives every failed login the same answer, counts it, and
// closes a connection that keeps guessing.
func (c *conn) loginFailed(err error) error {
	if !errors.Is(err, auth.ErrUnauthorized) && !errors.Is(err, auth.ErrNotFound) {
		return err
	}
	c.loginFailures++
	if c.loginFailures >= maxLoginFailures {
		c.log.Warn("ddp: too many failed logins; closing the connection", "session", c.session)
		go func() {
			time.Sleep(100 * time.Millisecond)
			c.close(true)
		}()
	}
	return errLogin
}

// loginApp(appId, keyId) logs an application in.
func (c *conn) loginApp(ctx context.Context, params []any) (any, []store.Change, error) {
	appID, _ := arg(params, 0).(string)
	keyID, _ := arg(params, 1).(string)
	if m, ok := arg(params, 0).(map[string]any); ok {
		appID, _ = m["appId"].(string)
		keyID, _ = m["keyId"].(string)
	}
	if appID == "" || keyID == "" {
		return nil, nil, Errorf(400, "loginApp needs appId and keyId")
	}
	p, err := c.srv.cfg.Auth.Authenticate(ctx, appID, keyID)
	if err == nil && p.Kind != auth.KindApp {
		err = auth.ErrUnauthorized
	}
	if err != nil {
		return nil, nil, c.loginFailed(err)
	}
	c.setPrincipal(p)
	return map[string]any{"id": appID, "type": "app"}, nil, nil
}

// renewToken replaces the user's login token.
func (c *conn) renewToken(ctx context.Context, _ []any) (any, []store.Change, error) {
	a := c.srv.cfg.Auth
	sess, err := a.Renew(ctx, c.principal.Load())
	if err != nil {
		return nil, nil, err
	}
	p, err := a.Authenticate(ctx, sess.UserID, sess.Token)
	if err != nil {
		return nil, nil, err
	}
	c.principal.Store(p)
	return loginResult(sess, "resume"), nil, nil
}

// logout revokes a user's token (an app just leaves) and re-runs the
// subscriptions as anonymous.
func (c *conn) logout(ctx context.Context, _ []any) (any, []store.Change, error) {
	p := c.principal.Load()
	if p.Kind == auth.KindUser {
		if err := c.srv.cfg.Auth.Logout(ctx, p); err != nil {
			return nil, nil, err
		}
	}
	if p.Authenticated() {
		c.setPrincipal(auth.Anonymous(c.srv.anonymousGrants()))
	}
	return nil, nil, nil
}

func (c *conn) isLogged(context.Context, []any) (any, []store.Change, error) {
	return c.principal.Load().Authenticated(), nil, nil
}

// collectionArg reads the first parameter, "<layer>_<collection>".
func collectionArg(params []any) (string, error) {
	name, ok := arg(params, 0).(string)
	if !ok || name == "" {
		return "", Errorf(400, "the first parameter must be the collection, <layer>_<collection>")
	}
	return name, nil
}

// findAll(collection, selector) returns the matching documents (at most
// Limits.MaxFind).
func (c *conn) findAll(ctx context.Context, params []any) (any, []store.Change, error) {
	name, err := collectionArg(params)
	if err != nil {
		return nil, nil, err
	}
	t, err := c.srv.target(ctx, c.principal.Load(), name, auth.Public)
	if err != nil {
		return nil, nil, err
	}
	o := store.FindOptions{Limit: c.srv.limits.MaxFind + 1}
	if s := arg(params, 1); s != nil {
		if o.Selector, err = t.selector(s); err != nil {
			return nil, nil, err
		}
	}
	docs, err := c.srv.cfg.Store.Find(ctx, t.layer, t.col, o)
	if err != nil {
		return nil, nil, err
	}
	if len(docs) > c.srv.limits.MaxFind {
		return nil, nil, Errorf(400, "more than %d documents match; narrow the selector or subscribe to %s.find with a limit",
			c.srv.limits.MaxFind, name)
	}
	out := make([]any, len(docs))
	for i, d := range docs {
		out[i] = t.output(d)
	}
	return out, nil, nil
}

// findOne(collection, id) returns one document, or null.
func (c *conn) findOne(ctx context.Context, params []any) (any, []store.Change, error) {
	name, err := collectionArg(params)
	if err != nil {
		return nil, nil, err
	}
	t, err := c.srv.target(ctx, c.principal.Load(), name, auth.Public)
	if err != nil {
		return nil, nil, err
	}
	var d store.Document
	switch sel := arg(params, 1).(type) {
	case string:
		d, err = c.srv.cfg.Store.Get(ctx, t.layer, t.col, sel)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, nil
		}
	case map[string]any:
		s, serr := t.selector(sel)
		if serr != nil {
			return nil, nil, serr
		}
		var docs []store.Document
		docs, err = c.srv.cfg.Store.Find(ctx, t.layer, t.col, store.FindOptions{Selector: s, Limit: 1})
		if err == nil && len(docs) == 0 {
			return nil, nil, nil
		}
		if err == nil {
			d = docs[0]
		}
	default:
		return nil, nil, Errorf(400, "findOne needs a document id or a selector")
	}
	if err != nil {
		return nil, nil, err
	}
	return t.output(d), nil, nil
}

// docsArg reads data|[data].
func docsArg(v any) ([]store.Document, error) {
	switch x := v.(type) {
	case map[string]any:
		return []store.Document{x}, nil
	case []any:
		if len(x) == 0 {
			return nil, Errorf(400, "the array of documents is empty")
		}
		out := make([]store.Document, len(x))
		for i, e := range x {
			d, ok := e.(map[string]any)
			if !ok {
				return nil, Errorf(400, "element %d of the array is not a document (object)", i)
			}
			out[i] = d
		}
		return out, nil
	}
	return nil, Errorf(400, "data must be a document or an array of documents")
}

// writeResult is the seed's data object of a multi-document write.
func writeResult(res store.WriteResult, idsName string) map[string]any {
	ids := make([]any, len(res.IDs))
	for i, id := range res.IDs {
		ids[i] = id
	}
	errIDs := make([]any, len(res.ErrorIDs))
	for i, id := range res.ErrorIDs {
		errIDs[i] = id
	}
	return map[string]any{"ok": res.OK, idsName: ids, "err": res.Err, "errorIds": errIDs}
}

// write runs insert or update: partial success is a result with
// err/errorIds; when every document failed, the method fails.
func (c *conn) write(ctx context.Context, params []any, verb, idsName string,
	f func(ctx context.Context, layer, col string, docs []store.Document) (store.WriteResult, error)) (any, []store.Change, error) {
	name, err := collectionArg(params)
	if err != nil {
		return nil, nil, err
	}
	t, err := c.srv.target(ctx, c.principal.Load(), name, auth.Write)
	if err != nil {
		return nil, nil, err
	}
	docs, err := docsArg(arg(params, 1))
	if err != nil {
		return nil, nil, err
	}
	res, err := f(ctx, t.layer, t.col, docs)
	if err != nil {
		return nil, res.Changes, err
	}
	if res.OK == 0 && res.Err > 0 {
		reason := "no item " + verb
		if len(res.Errors) > 0 {
			reason += ": " + res.Errors[0]
		}
		return nil, nil, &Error{Code: 400, Reason: reason}
	}
	return writeResult(res, idsName), res.Changes, nil
}

func (c *conn) insert(ctx context.Context, params []any) (any, []store.Change, error) {
	return c.write(ctx, params, "inserted", "insertedIds", c.srv.cfg.Store.Insert)
}

func (c *conn) update(ctx context.Context, params []any) (any, []store.Change, error) {
	return c.write(ctx, params, "updated", "updatedIds", c.srv.cfg.Store.UpdateMany)
}

// remove(collection, selector) deletes the matching documents ({} is all).
func (c *conn) remove(ctx context.Context, params []any) (any, []store.Change, error) {
	name, err := collectionArg(params)
	if err != nil {
		return nil, nil, err
	}
	t, err := c.srv.target(ctx, c.principal.Load(), name, auth.Write)
	if err != nil {
		return nil, nil, err
	}
	if len(params) < 2 || params[1] == nil {
		return nil, nil, Errorf(400, "remove needs a selector ({} removes every document)")
	}
	sel, err := t.selector(params[1])
	if err != nil {
		return nil, nil, err
	}
	res, err := c.srv.cfg.Store.DeleteMany(ctx, t.layer, t.col, sel)
	if err != nil {
		return nil, res.Changes, err
	}
	return writeResult(res, "deletedIds"), res.Changes, nil
}

// arg returns params[i], or nil.
func arg(params []any, i int) any {
	if i < len(params) {
		return params[i]
	}
	return nil
}
