package incidents

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/subject"
)

// request sends a request to <domain>.incidents.<action> and decodes the reply.
func (e *env) request(action string, req any) Reply {
	e.t.Helper()
	b, _ := json.Marshal(req)
	m, err := e.nc.Request(subject.Incidents(domain, action), b, 10*time.Second)
	if err != nil {
		e.t.Fatalf("%s: %v", action, err)
	}
	var rep Reply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		e.t.Fatalf("%s: reply %s: %v", action, m.Data, err)
	}
	return rep
}

func serve(t *testing.T, s *Service, e *env) {
	t.Helper()
	r, err := s.Serve(e.connect())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
}

// TestStatusOverNATS walks the state machine through list, get, ack and
// resolve, and refuses what it does not allow.
func TestStatusOverNATS(t *testing.T) {
	e := newEnv(t)
	e.layer(map[string]any{})
	s, _ := e.start(fast(), Options{})
	serve(t, s, e)
	now := time.Now().UTC()
	e.insert(store.Document{"_id": "A", "type": "ALERT", "status": "open", "timestamp": now.Add(-time.Minute)})
	e.insert(store.Document{"_id": "B", "type": "BAD_DATA", "timestamp": now}) // no status: open
	e.insert(store.Document{"_id": "C", "type": "ALERT", "status": "resolved", "timestamp": now.Add(-time.Hour)})

	ids := func(rep Reply) string {
		t.Helper()
		if rep.Status != "success" {
			t.Fatalf("list: %+v", rep)
		}
		var out []string
		for _, d := range rep.Data.([]any) {
			out = append(out, d.(map[string]any)["_id"].(string))
		}
		return strings.Join(out, ",")
	}
	lists := []struct {
		req  Request
		want string
	}{
		{Request{}, "B,A,C"},
		{Request{Status: StatusOpen}, "B,A"},
		{Request{Status: StatusResolved}, "C"},
		{Request{Type: "ALERT"}, "A,C"},
		{Request{Limit: 1}, "B"},
		{Request{Selector: map[string]any{"type": map[string]any{"$ne": "ALERT"}}}, "B"},
	}
	for _, l := range lists {
		if got := ids(e.request(ActionList, l.req)); got != l.want {
			t.Errorf("list %+v: %s, want %s", l.req, got, l.want)
		}
	}

	steps := []struct {
		action, id string
		req        Request
		wantStatus string // of the incident after the step ("" : the request fails)
		wantErr    string
	}{
		{ActionAck, "A", Request{By: "ana", Note: "looking"}, StatusAcknowledged, ""},
		{ActionAck, "A", Request{By: "ana"}, StatusAcknowledged, ""}, // repeated: unchanged
		{ActionResolve, "A", Request{By: "bo", Note: "fuse replaced"}, StatusResolved, ""},
		{ActionAck, "A", Request{}, "", "an incident that is resolved cannot become acknowledged"},
		{ActionResolve, "B", Request{}, StatusResolved, ""}, // open (no status) → resolved
		{ActionAck, "nope", Request{}, "", `no incident "nope"`},
		{ActionGet, "", Request{}, "", "id is required"},
		{ActionList, "", Request{Status: "closed"}, "", `status "closed" is not open, acknowledged or resolved`},
		{ActionList, "", Request{Limit: 5000}, "", "limit 5000 is not between 1 and 1000"},
	}
	for _, st := range steps {
		req := st.req
		req.ID = st.id
		rep := e.request(st.action, req)
		if st.wantErr != "" {
			if rep.Status != "error" || !strings.Contains(rep.Message, st.wantErr) {
				t.Errorf("%s %s: %+v, want error %q", st.action, st.id, rep, st.wantErr)
			}
			continue
		}
		if rep.Status != "success" {
			t.Fatalf("%s %s: %+v", st.action, st.id, rep)
		}
		if got := rep.Data.(map[string]any)["status"]; got != st.wantStatus {
			t.Errorf("%s %s: status %v, want %s", st.action, st.id, got, st.wantStatus)
		}
	}
	a := e.get("A")
	if a[FieldAcknowledgedBy] != "ana" || a[FieldResolvedBy] != "bo" || a[FieldNote] != "fuse replaced" {
		t.Errorf("A records %v", a)
	}
	if _, ok := a[FieldAcknowledgedAt].(time.Time); !ok {
		t.Errorf("A has no acknowledgedAt: %v", a)
	}
	if rep := e.request(ActionGet, Request{ID: "A"}); rep.Status != "success" || rep.Data.(map[string]any)[FieldResolvedBy] != "bo" {
		t.Errorf("get A: %+v", rep)
	}
}

func TestNextStatus(t *testing.T) {
	tests := []struct {
		from, to string
		ok       bool
	}{
		{StatusOpen, StatusAcknowledged, true},
		{StatusOpen, StatusResolved, true},
		{StatusAcknowledged, StatusResolved, true},
		{StatusAcknowledged, StatusAcknowledged, true},
		{StatusResolved, StatusAcknowledged, false},
		{StatusResolved, StatusOpen, false},
		{StatusAcknowledged, StatusOpen, false},
		{StatusOpen, "closed", false},
	}
	for _, tt := range tests {
		if err := NextStatus(tt.from, tt.to); (err == nil) != tt.ok {
			t.Errorf("%s → %s: %v, want ok=%v", tt.from, tt.to, err, tt.ok)
		}
	}
}

// TestRetryOverNATS: a dead-lettered workflow call gets new attempts on
// request, through the work queue, audited with a retry entry.
func TestRetryOverNATS(t *testing.T) {
	e := newEnv(t)
	var up atomic.Bool
	rec := newRecorder(t, func(int) int {
		if up.Load() {
			return http.StatusCreated
		}
		return http.StatusServiceUnavailable
	})
	e.layer(seedNotify(rec.URL))
	cfg := fast()
	cfg.MaxAttempts = 2
	s, _ := e.start(cfg, Options{})
	serve(t, s, e)

	if rep := e.request(ActionRetry, Request{ID: "I1"}); rep.Status != "error" || !strings.Contains(rep.Message, `no incident "I1"`) {
		t.Errorf("retry of a missing incident: %+v", rep)
	}
	e.insert(seedIncident("I1"))
	e.waitDoc("I1", stateIs(StateDead))
	if rep := e.request(ActionRetry, Request{ID: "I1", Target: "webhook:x"}); rep.Status != "error" || !strings.Contains(rep.Message, `target "webhook:x" is not dead`) {
		t.Errorf("retry of a target that is not dead: %+v", rep)
	}
	up.Store(true)
	rep := e.request(ActionRetry, Request{ID: "I1"})
	if rep.Status != "success" {
		t.Fatalf("retry: %+v", rep)
	}
	if got := rep.Data.(map[string]any)["targets"]; len(got.([]any)) != 1 || got.([]any)[0] != TargetWorkflow {
		t.Errorf("retried targets %v", got)
	}
	doc := e.waitDoc("I1", stateIs(StateDelivered))
	list := doc[FieldNotifications].([]any)
	if len(list) != 4 {
		t.Fatalf("audit %v, want 2 failures, a retry and a success", list)
	}
	if r := list[2].(map[string]any); r["retry"] != true || r["target"] != TargetWorkflow {
		t.Errorf("retry entry %v", r)
	}
	if a := list[3].(map[string]any); a["attempt"] != float64(1) || a["error"] != nil {
		t.Errorf("attempt after the retry %v", a)
	}
	if n := len(rec.all()); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
	if rep := e.request(ActionRetry, Request{ID: "I1"}); rep.Status != "error" || !strings.Contains(rep.Message, "no dead target") {
		t.Errorf("second retry: %+v", rep)
	}
}

// onRead is a store on which something else happens right after the first
// read of a document: another operator's write landing between a status
// change's read and its write.
type onRead struct {
	store.Store
	then func()
}

func (s *onRead) Get(ctx context.Context, layer, col, id string) (store.Document, error) {
	d, err := s.Store.Get(ctx, layer, col, id)
	if then := s.then; then != nil {
		s.then = nil
		then()
	}
	return d, err
}

// Two operators at once: bo resolves incident A while ana's acknowledgement
// is between its read (A open) and its write. Ana's request is decided
// again on the status bo left, and refused: A stays resolved by bo, not
// acknowledged after its resolution.
func TestStatusChangedDuringAnAcknowledgement(t *testing.T) {
	e := newEnv(t)
	e.layer(map[string]any{})
	bo, err := New(Options{Config: fast(), Store: e.st, NC: e.nc, Domain: domain})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ id, status string }{{"A", "open"}, {"B", ""}} {
		d := store.Document{"_id": c.id, "type": "ALERT"}
		if c.status != "" {
			d["status"] = c.status
		}
		e.insert(d)
		race := &onRead{Store: e.st, then: func() {
			if _, err := bo.SetStatus(context.Background(), c.id, StatusResolved, "bo", "fuse replaced"); err != nil {
				t.Error(err)
			}
		}}
		ana, err := New(Options{Config: fast(), Store: race, NC: e.nc, Domain: domain})
		if err != nil {
			t.Fatal(err)
		}
		_, err = ana.SetStatus(context.Background(), c.id, StatusAcknowledged, "ana", "looking")
		if !errors.Is(err, ErrTransition) || !strings.Contains(err.Error(), "resolved cannot become acknowledged") {
			t.Errorf("%s: ana's acknowledgement after bo's resolution: %v", c.id, err)
		}
		if d := e.get(c.id); d[FieldStatus] != StatusResolved || d[FieldResolvedBy] != "bo" || d[FieldAcknowledgedBy] != nil || d[FieldNote] != "fuse replaced" {
			t.Errorf("%s after both: %v", c.id, d)
		}
	}
}
