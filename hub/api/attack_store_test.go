package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
	"github.com/gridedge/gridedge/shared/model"
)

// Attack tests of the store's internal fields and query limits (items 3
// and 12 of the hardening issue). A user with write access to a layer
// tries, through REST, to write or read the fields the store keeps for
// itself (the per-edge sequence _seq the mongo backend's ingest path
// guards every document with), and to send a regular expression MongoDB
// would spend unbounded time on. Each attack runs on both backends.

// onBothBackends runs fn on the bolt backend and, when a MongoDB (or
// mongo-java-server) is available, on the mongo backend.
func onBothBackends(t *testing.T, fn func(t *testing.T)) {
	t.Run("bolt", fn)
	t.Run("mongo", func(t *testing.T) {
		mongotest.URI(t) // skips (or fails under GRIDEDGE_REQUIRE_INTEROP=1) without a server
		backend = "mongo"
		defer func() { backend = "bolt" }()
		fn(t)
	})
}

// edgeUpdate applies one update of edge e1 through the store's apply path,
// as the ingest applier does, and fails the test on an error.
func (e *env) edgeUpdate(seq uint64, id string, power float64) {
	e.t.Helper()
	ts := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(seq) * time.Second)
	b := &model.Batch{Edge: "e1", SeqFirst: seq, SeqLast: seq, Updates: []model.Update{{
		Layer: "demo", Collection: "meters", ID: id,
		Set: map[string]any{"measurements.power": model.Measurement{Value: power, Quality: 1, Timestamp: ts}}, TS: ts,
	}}}
	res, err := e.st.ApplyBatch(context.Background(), b, store.ApplyOptions{})
	if err != nil {
		e.t.Fatalf("apply batch seq %d: %v", seq, err)
	}
	if res.Applied != 1 {
		e.t.Fatalf("apply batch seq %d: got %d applied, want 1", seq, res.Applied)
	}
}

// power reads measurements.power.value of a document through REST.
func (e *env) power(id string) any {
	e.t.Helper()
	m := e.must("GET", "/demo/meters/"+id, nil, e.admin)
	d, _ := m["data"].(map[string]any)
	ms, _ := d["measurements"].(map[string]any)
	p, _ := ms["power"].(map[string]any)
	return p["value"]
}

// TestAttackSeqFreezesEdgeUpdates is the attack reproduced on mongo: a
// PATCH setting _seq.e1 far ahead made the guarded upserts of edge e1 match
// nothing, so e1's later updates of that document were dropped while the
// store reported them applied.
func TestAttackSeqFreezesEdgeUpdates(t *testing.T) {
	onBothBackends(t, func(t *testing.T) {
		e := newEnv(t)
		writer := e.addUser("mallory", map[string]Perm{"demo": PermWrite})
		e.edgeUpdate(1, "m1", 1)
		e.wantError("PATCH", "/demo/meters/m1", map[string]any{"$set": map[string]any{"_seq.e1": 1e15}}, writer,
			http.StatusBadRequest, `"_seq.e1"`)
		e.edgeUpdate(2, "m1", 2)
		if got := e.power("m1"); got != 2.0 {
			t.Fatalf("after the attack, edge e1's update: got power %v, want 2", got)
		}
	})
}

// TestAttackInternalFieldWrites tries every write route and update
// operator on internal fields: each must be refused with a 400 naming the
// field, and the document must be left as it was.
func TestAttackInternalFieldWrites(t *testing.T) {
	onBothBackends(t, func(t *testing.T) {
		e := newEnv(t)
		writer := e.addUser("mallory", map[string]Perm{"demo": PermWrite})
		e.must("POST", "/demo/meters", map[string]any{"_id": "m1", "name": "meter", "x": 1, "list": []any{1}}, writer)
		before := strip(e.must("GET", "/demo/meters/m1", nil, e.admin)["data"])
		attacks := []struct {
			name         string
			method, path string
			body         any
			field        string // named in the message
		}{
			{"$set", "PATCH", "/demo/meters/m1", map[string]any{"$set": map[string]any{"_seq.e1": 1e15}}, "_seq.e1"},
			{"$set whole _seq", "PATCH", "/demo/meters/m1", map[string]any{"$set": map[string]any{"_seq": map[string]any{"e1": 1e15}}}, "_seq"},
			{"plain fields", "PATCH", "/demo/meters/m1", map[string]any{"_seq.e1": 1e15}, "_seq.e1"},
			{"$inc", "PATCH", "/demo/meters/m1", map[string]any{"$inc": map[string]any{"_seq.e1": 1e15}}, "_seq.e1"},
			{"$max", "PATCH", "/demo/meters/m1", map[string]any{"$max": map[string]any{"_seq.e1": 1e15}}, "_seq.e1"},
			{"$mul", "PATCH", "/demo/meters/m1", map[string]any{"$mul": map[string]any{"_seq.e1": 2}}, "_seq.e1"},
			{"$unset", "PATCH", "/demo/meters/m1", map[string]any{"$unset": map[string]any{"_seq": ""}}, "_seq"},
			{"$rename to", "PATCH", "/demo/meters/m1", map[string]any{"$rename": map[string]any{"x": "_seq"}}, "_seq"},
			{"$rename from", "PATCH", "/demo/meters/m1", map[string]any{"$rename": map[string]any{"_seq": "y"}}, "_seq"},
			{"$push", "PATCH", "/demo/meters/m1", map[string]any{"$push": map[string]any{"_seq": 1}}, "_seq"},
			{"$addToSet", "PATCH", "/demo/meters/m1", map[string]any{"$addToSet": map[string]any{"_seq": 1}}, "_seq"},
			{"$currentDate", "PATCH", "/demo/meters/m1", map[string]any{"$currentDate": map[string]any{"_seq": true}}, "_seq"},
			{"another internal field", "PATCH", "/demo/meters/m1", map[string]any{"$set": map[string]any{"_owner": "mallory"}}, "_owner"},
			{"_updated", "PATCH", "/demo/meters/m1", map[string]any{"$set": map[string]any{"_updated": 0}}, "_updated"},
			{"update many", "PATCH", "/demo/meters", []any{map[string]any{"_id": "m1", "_seq.e1": 1e15}}, "_seq.e1"},
			{"insert", "POST", "/demo/meters", map[string]any{"_id": "m2", "_seq": map[string]any{"e1": 1e15}}, "_seq"},
			{"insert dotted", "POST", "/demo/meters", map[string]any{"_id": "m2", "_seq.e1": 1e15}, "_seq.e1"},
			{"bulk update", "POST", "/bulk/demo/meters", map[string]any{"data": []any{map[string]any{"_id": "m1", "_seq": map[string]any{"e1": 1e15}}}}, "_seq"},
			{"bulk insert", "POST", "/bulk/demo/meters", map[string]any{"data": []any{map[string]any{"_id": "m2", "_seq": map[string]any{"e1": 1e15}}}}, "_seq"},
		}
		for _, a := range attacks {
			t.Run(a.name, func(t *testing.T) {
				e.t = t
				e.wantError(a.method, a.path, a.body, writer, http.StatusBadRequest, `"`+a.field+`"`)
				jsonEq(t, "m1 after the attack", strip(e.must("GET", "/demo/meters/m1", nil, e.admin)["data"]), before)
				if code, _ := e.do("GET", "/demo/meters/m2", nil, e.admin); code != http.StatusNotFound {
					t.Fatalf("m2: got %d, want 404 (not inserted)", code)
				}
			})
		}
	})
}

// TestAttackInternalFieldWritable checks the internal fields the seed
// lets a user write: _id on insert and _expired anywhere.
func TestAttackInternalFieldWritable(t *testing.T) {
	onBothBackends(t, func(t *testing.T) {
		e := newEnv(t)
		writer := e.addUser("walter", map[string]Perm{"demo": PermWrite})
		e.must("POST", "/demo/meters", map[string]any{"_id": "m1", "_expired": true}, writer)
		e.must("PATCH", "/demo/meters/m1", map[string]any{"$set": map[string]any{"_expired": false}}, writer)
		e.must("POST", "/bulk/demo/meters", map[string]any{"data": []any{map[string]any{"_id": "m1", "_expired": true}}}, writer)
		d := e.must("GET", "/demo/meters/m1", nil, e.admin)["data"].(map[string]any)
		if d["_expired"] != true {
			t.Fatalf("_expired: got %v, want true", d["_expired"])
		}
	})
}

// TestAttackInternalFieldReads selects, sorts and projects on _seq to
// learn edges' sequence numbers: each is refused with a 400 naming the
// field, and no answer carries _seq.
func TestAttackInternalFieldReads(t *testing.T) {
	onBothBackends(t, func(t *testing.T) {
		e := newEnv(t)
		reader := e.addUser("eve", map[string]Perm{"demo": PermWrite})
		e.edgeUpdate(5, "m1", 1)
		q := url.QueryEscape
		attacks := []struct {
			name, method, path, field string
		}{
			{"query", "GET", "/demo/meters?query=" + q(`{"_seq.e1": {"$gt": 0}}`), "_seq.e1"},
			{"selector in $or", "GET", "/demo/meters?selector=" + q(`{"$or": [{"x": 1}, {"_seq.e1": {"$gte": 5}}]}`), "_seq.e1"},
			{"selector in $nor/$and", "GET", "/demo/meters?query=" + q(`{"$nor": [{"$and": [{"_seq": {"$exists": true}}]}]}`), "_seq"},
			{"sort", "GET", "/demo/meters?sort=" + q(`{"_seq.e1": -1}`), "_seq.e1"},
			{"fields", "GET", "/demo/meters?fields=_seq", "_seq"},
			{"fields JSON", "GET", "/demo/meters?fields=" + q(`{"_seq.e1": 1}`), "_seq.e1"},
			{"field route", "GET", "/demo/meters/field/_seq", "_seq"},
			{"range field", "GET", "/range/demo/meters?field=_seq.e1&from=0&to=1", "_seq.e1"},
			{"range selector", "GET", "/range/demo/meters?from=0&to=1&query=" + q(`{"_seq.e1": 5}`), "_seq.e1"},
			{"near selector", "GET", "/near/demo/sites?lat=0&lon=0&distance=1&query=" + q(`{"_seq.e1": 5}`), "_seq.e1"},
			{"delete by selector", "DELETE", "/demo/meters?query=" + q(`{"_seq.e1": {"$lt": 10}}`), "_seq.e1"},
		}
		for _, a := range attacks {
			t.Run(a.name, func(t *testing.T) {
				e.t = t
				e.wantError(a.method, a.path, nil, reader, http.StatusBadRequest, `"`+a.field+`"`)
			})
		}
		e.t = t
		if got := e.power("m1"); got != 1.0 {
			t.Fatalf("m1 after the attacks: got power %v, want 1 (not deleted)", got)
		}
		for _, path := range []string{"/demo/meters/m1", "/demo/meters/m1?fields=_seq", "/demo/meters/m1/field/_seq", "/demo/meters"} {
			code, body, _ := e.send(e.request("GET", path, nil, reader))
			if strings.Contains(string(body), "_seq") {
				t.Fatalf("GET %s: %d %s: the answer shows _seq", path, code, body)
			}
		}
	})
}

// TestAttackLongRegex sends a $regex longer than the store accepts: both
// backends refuse it with a 400 before any document is read.
func TestAttackLongRegex(t *testing.T) {
	onBothBackends(t, func(t *testing.T) {
		e := newEnv(t)
		reader := e.addUser("eve", map[string]Perm{"demo": PermRead})
		long := "^(a+)+" + strings.Repeat("(a|b)", 120) + "$"
		for _, sel := range []string{
			`{"name": {"$regex": "` + long + `"}}`,
			`{"name": {"$not": {"$regex": "` + long + `"}}}`,
			`{"list": {"$elemMatch": {"$regex": "` + long + `"}}}`,
		} {
			e.wantError("GET", "/demo/meters?query="+url.QueryEscape(sel), nil, reader, http.StatusBadRequest, "longer than")
		}
		// a short pattern is still served
		e.must("GET", "/demo/meters?query="+url.QueryEscape(`{"name": {"$regex": "^(a+)+$"}}`), nil, reader)
	})
}
