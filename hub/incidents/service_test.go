package incidents

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/notify"
	"github.com/gridedge/gridedge/hub/notify/smtptest"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/subject"
)

func cfgDur(d time.Duration) config.Duration { return config.Duration(d) }

// seedLayer is the seed's incidents layer (3.2.4) pointing at url.
func seedNotify(url string) map[string]any {
	return map[string]any{"OVERVOLTAGE": map[string]any{
		"url":  url + "/flowable-rest/service/runtime/process-instances",
		"auth": "user:pass",
		"body": map[string]any{
			"processDefinitionKey": "overvoltage", "businessKey": "meterevents", "returnVariables": false,
			"variables": []any{map[string]any{"name": "data", "value": "VALUE_INCIDENT"}},
		},
		"method": "POST",
	}}
}

// seedIncident is the seed's incident document.
func seedIncident(id string) store.Document {
	return store.Document{"_id": id, "type": "OVERVOLTAGE",
		"details":     map[string]any{"meterId": "SM001", "timestamp": time.Date(2020, 11, 22, 10, 30, 0, 0, time.UTC), "voltage": 287.0},
		"description": "An overvoltage was detected by SM001 (287V) at 12:30 22/11/2020"}
}

// TestSeedWorkflow: the seed's layer and incident start one process
// instance with the seed's body, VALUE_INCIDENT replaced by the document,
// basic auth and the business key; the attempt is audited on the incident.
func TestSeedWorkflow(t *testing.T) {
	e := newEnv(t)
	rec := newRecorder(t, nil)
	e.layer(seedNotify(rec.URL))
	s, _ := e.start(fast(), Options{})
	e.insert(seedIncident("z5uikc3dbfNvFssjs"))
	doc := e.waitDoc("z5uikc3dbfNvFssjs", stateIs(StateDelivered))

	calls := rec.all()
	if len(calls) != 1 {
		t.Fatalf("got %d calls, want 1", len(calls))
	}
	c := calls[0]
	if c.Method != "POST" || c.Path != "/flowable-rest/service/runtime/process-instances" {
		t.Errorf("call %s %s", c.Method, c.Path)
	}
	if got, want := c.Header.Get("Authorization"), "Basic "+base64.StdEncoding.EncodeToString([]byte("user:pass")); got != want {
		t.Errorf("Authorization %q, want %q", got, want)
	}
	if got := c.Header.Get(HeaderIdempotencyKey); got != "xflex:incidents_items:z5uikc3dbfNvFssjs" {
		t.Errorf("Idempotency-Key %q", got)
	}
	var body map[string]any
	if err := json.Unmarshal(c.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body["processDefinitionKey"] != "overvoltage" || body["businessKey"] != "meterevents" || body["returnVariables"] != false {
		t.Errorf("body %s", c.Body)
	}
	v := body["variables"].([]any)[0].(map[string]any)
	inc, ok := v["value"].(map[string]any)
	if !ok || v["name"] != "data" || inc["_id"] != "z5uikc3dbfNvFssjs" || inc["type"] != "OVERVOLTAGE" ||
		inc["details"].(map[string]any)["voltage"] != 287.0 || inc["details"].(map[string]any)["timestamp"] != "2020-11-22T10:30:00Z" {
		t.Errorf("VALUE_INCIDENT not replaced by the document: %s", c.Body)
	}
	if _, has := inc[FieldNotifications]; has {
		t.Errorf("the body carries the audit: %s", c.Body)
	}
	list := doc[FieldNotifications].([]any)
	if len(list) != 1 {
		t.Fatalf("notifications %v", list)
	}
	a := list[0].(map[string]any)
	if a["target"] != TargetWorkflow || a["status"] != 201.0 || a["attempt"] != 1.0 || a["error"] != nil {
		t.Errorf("audit %v", a)
	}
	if _, ok := a["at"].(time.Time); !ok {
		t.Errorf("audit at %T %v", a["at"], a["at"])
	}
	if st := s.Stats(); st.Incidents != 1 || st.Attempts != 1 || st.Delivered != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestRetries: failures are retried with backoff, each attempt audited,
// with the same business key, until the call succeeds; a call that fails
// maxAttempts times is dead-lettered and marked dead.
func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(n int) int
		calls     int
		state     string
		lastError string
	}{
		{"third attempt succeeds", func(n int) int {
			if n < 3 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		}, 3, StateDelivered, ""},
		{"always failing", func(int) int { return http.StatusInternalServerError }, 4, StateDead, "500 Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			rec := newRecorder(t, tt.answer)
			e.layer(seedNotify(rec.URL))
			dead, err := e.nc.SubscribeSync(subject.DeadLetter(domain, ServiceName))
			if err != nil {
				t.Fatal(err)
			}
			cfg := fast()
			cfg.MaxAttempts = 4
			s, _ := e.start(cfg, Options{})
			start := time.Now()
			e.insert(seedIncident("I1"))
			doc := e.waitDoc("I1", stateIs(tt.state))
			calls := rec.all()
			if len(calls) != tt.calls {
				t.Fatalf("got %d calls, want %d", len(calls), tt.calls)
			}
			for _, c := range calls {
				if c.Header.Get(HeaderIdempotencyKey) != calls[0].Header.Get(HeaderIdempotencyKey) || string(c.Body) != string(calls[0].Body) {
					t.Errorf("attempts differ: %s %s", c.Header.Get(HeaderIdempotencyKey), c.Body)
				}
			}
			// backoff 20ms, 40ms, 80ms between the attempts
			if el, min := time.Since(start), 20*time.Millisecond*time.Duration(1<<(tt.calls-1)-1); el < min {
				t.Errorf("%d attempts took %v, less than the backoff %v", tt.calls, el, min)
			}
			list := doc[FieldNotifications].([]any)
			if len(list) != tt.calls {
				t.Fatalf("audit has %d entries, want %d: %v", len(list), tt.calls, list)
			}
			for i, x := range list {
				a := x.(map[string]any)
				if a["attempt"] != float64(i+1) {
					t.Errorf("entry %d: %v", i, a)
				}
				last := i == len(list)-1
				if !last || tt.lastError != "" {
					if msg, _ := a["error"].(string); !strings.Contains(msg, "process-instances") {
						t.Errorf("entry %d error %q does not name the call", i, msg)
					}
				}
			}
			if tt.lastError != "" {
				if msg := list[len(list)-1].(map[string]any)["error"].(string); !strings.Contains(msg, tt.lastError) {
					t.Errorf("last error %q, want %q", msg, tt.lastError)
				}
				m, err := dead.NextMsg(5 * time.Second)
				if err != nil {
					t.Fatalf("no dead letter: %v", err)
				}
				if !strings.Contains(string(m.Data), `"id":"I1"`) || !strings.Contains(m.Header.Get("GridEdge-Reason"), "failed 4 times") {
					t.Errorf("dead letter %s %v", m.Data, m.Header)
				}
				if st := s.Stats(); st.Dead != 1 || st.Failures != 4 {
					t.Errorf("stats %+v", st)
				}
			}
			// nothing more comes
			time.Sleep(300 * time.Millisecond)
			if n := len(rec.all()); n != tt.calls {
				t.Errorf("%d calls after the end, want %d", n, tt.calls)
			}
		})
	}
}

// TestWhatIsNotCalled: types without a workflow, updates of incidents,
// and incidents whose document records a successful call already (a
// redelivery) make no call; a malformed notify entry is an audited error
// naming its path.
func TestWhatIsNotCalled(t *testing.T) {
	e := newEnv(t)
	rec := newRecorder(t, nil)
	notify := seedNotify(rec.URL)
	notify["BROKEN"] = map[string]any{"url": "ftp://example.org/x"}
	notify["TYPO"] = map[string]any{"url": rec.URL, "bodyy": 1}
	e.layer(notify)
	cfg := fast()
	cfg.MaxAttempts = 1
	s, _ := e.start(cfg, Options{})

	e.insert(store.Document{"_id": "other", "type": "UNDERVOLTAGE"})
	e.insert(store.Document{"_id": "untyped"})
	done := seedIncident("done")
	done[FieldNotifications] = []any{map[string]any{"at": time.Now().UTC(), "target": TargetWorkflow, "attempt": 1, "status": 201}}
	e.insert(done)
	e.insert(store.Document{"_id": "broken", "type": "BROKEN"})
	e.insert(store.Document{"_id": "typo", "type": "TYPO"})
	for id, want := range map[string]string{"broken": "incidents.config.notify.BROKEN.url", "typo": "bodyy"} {
		d := e.waitDoc(id, stateIs(StateDead))
		msg := d[FieldNotifications].([]any)[0].(map[string]any)["error"].(string)
		if !strings.Contains(msg, want) {
			t.Errorf("%s: error %q does not name %q", id, msg, want)
		}
	}
	// an update of an incident of a configured type: no call
	if _, err := e.st.UpdateByID(t.Context(), "incidents", "items", "other", map[string]any{"type": "OVERVOLTAGE"}); err != nil {
		t.Fatal(err)
	}
	e.insert(seedIncident("last"))
	e.waitDoc("last", stateIs(StateDelivered))
	if calls := rec.all(); len(calls) != 1 || !strings.Contains(string(calls[0].Body), `"_id":"last"`) {
		t.Fatalf("calls %d, want the one of 'last'", len(calls))
	}
	for _, id := range []string{"other", "untyped", "done"} {
		if d := e.get(id); d[FieldState] != nil {
			t.Errorf("%s was handled: %v", id, d)
		}
	}
	if st := s.Stats(); st.Skipped != 1 {
		t.Errorf("stats %+v, want 1 skipped", st)
	}
}

// TestSubscriptions: a webhook subscription receives matching incidents
// as signed JSON, an e-mail subscription by SMTP; types and layers filter.
func TestSubscriptions(t *testing.T) {
	e := newEnv(t)
	rec := newRecorder(t, func(int) int { return http.StatusNoContent })
	e.layer(nil)
	mail := smtptest.Start(t, "", "")
	t.Setenv("TEST_HOOK_SECRET", "hook-secret")
	cfg := fast()
	cfg.Subscriptions = []Subscription{
		{ID: "ops", Types: []string{"OVER*"}, Layers: []string{"gridflex"}, Webhook: &WebhookTarget{URL: rec.URL + "/hook", Secret: "$TEST_HOOK_SECRET"}},
		{ID: "oncall", Types: []string{"BAD_DATA"}, Email: &EmailTarget{To: []string{"oncall@grid.test"}}},
	}
	smtp := &notify.SMTPConfig{Host: "127.0.0.1", Port: mail.Port(), TLS: notify.TLSNone, From: "hub@grid.test"}
	e.start(cfg, Options{SMTP: smtp})

	in := func(id, typ, layer string) store.Document {
		return store.Document{"_id": id, "type": typ, "description": typ + " on " + layer, "details": map[string]any{"layer": layer}}
	}
	e.insert(in("a", "OVERVOLTAGE", "gridflex"))
	e.insert(in("b", "OVERVOLTAGE", "other"))
	e.insert(in("c", "UNDERVOLTAGE", "gridflex"))
	e.insert(in("d", "BAD_DATA", "gridflex"))
	e.waitDoc("a", stateIs(StateDelivered))
	e.waitDoc("d", stateIs(StateDelivered))
	calls := rec.all()
	if len(calls) != 1 {
		t.Fatalf("webhook calls %d, want 1", len(calls))
	}
	c := calls[0]
	ts := c.Header.Get(HeaderTimestamp)
	var tsn int64
	if err := json.Unmarshal([]byte(ts), &tsn); err != nil {
		t.Fatalf("timestamp %q", ts)
	}
	if got, want := c.Header.Get(HeaderSignature), Sign("hook-secret", tsn, c.Body); got != want || !strings.HasPrefix(got, "sha256=") {
		t.Errorf("signature %q, want %q", got, want)
	}
	var b webhookBody
	if err := json.Unmarshal(c.Body, &b); err != nil || b.Event != "incident" || b.ID != "a" || b.Incident["type"] != "OVERVOLTAGE" || b.Layer != "incidents" {
		t.Errorf("webhook body %s (%v)", c.Body, err)
	}
	msgs := mail.Messages()
	if len(msgs) != 1 || msgs[0].Rcpt[0] != "oncall@grid.test" || !strings.Contains(msgs[0].Data, "Subject: [GridEdge] BAD_DATA: BAD_DATA on gridflex") {
		t.Fatalf("mails %+v", msgs)
	}
	a := e.get("d")[FieldNotifications].([]any)[0].(map[string]any)
	if a["target"] != "email:oncall" || a["status"] != 250.0 {
		t.Errorf("audit %v", a)
	}
	for _, id := range []string{"b", "c"} {
		if d := e.get(id); d[FieldState] != nil {
			t.Errorf("%s was notified: %v", id, d)
		}
	}
}

// TestAtLeastOnce: incidents inserted while no hub runs the service are
// delivered when one starts; with two services on one work queue each
// incident is called once.
func TestAtLeastOnce(t *testing.T) {
	e := newEnv(t)
	rec := newRecorder(t, nil)
	e.layer(seedNotify(rec.URL))
	_, stop := e.start(fast(), Options{})
	stop()
	e.insert(seedIncident("while-down"))
	e.start(fast(), Options{})
	e.start(fast(), Options{})
	e.waitDoc("while-down", stateIs(StateDelivered))
	const n = 30
	for i := range n {
		e.insert(seedIncident("I" + string(rune('A'+i))))
	}
	for i := range n {
		e.waitDoc("I"+string(rune('A'+i)), stateIs(StateDelivered))
	}
	keys := map[string]int{}
	for _, c := range rec.all() {
		keys[c.Header.Get(HeaderIdempotencyKey)]++
	}
	if len(keys) != n+1 {
		t.Errorf("%d incidents called, want %d", len(keys), n+1)
	}
	for k, c := range keys {
		if c != 1 {
			t.Errorf("%s called %d times", k, c)
		}
	}
}

// TestConfig: bad config is refused with the path of every problem.
func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"defaults", Config{Enabled: true}, nil},
		{"off is not checked", Config{Workers: -1}, nil},
		{"numbers", Config{Enabled: true, MaxAttempts: -1, Workers: 1000, Backoff: cfgDur(time.Minute), MaxBackoff: cfgDur(time.Second)},
			[]string{"x.maxAttempts: -1 is below 1", "x.workers: 1000 is not between 1 and 256", "x.maxBackoff: (1s) is shorter than backoff (1m0s)"}},
		{"subscriptions", Config{Enabled: true, Subscriptions: []Subscription{
			{ID: "a", Types: []string{"["}, Webhook: &WebhookTarget{URL: "ftp://x"}},
			{ID: "a", Email: &EmailTarget{To: []string{"not an address"}}},
			{}}},
			[]string{`x.subscriptions[0].types[0]: "[" is not a glob`, `x.subscriptions[0].webhook.url: "ftp://x" is not an absolute http or https URL`,
				"x.subscriptions[0].webhook.secret: is required", `x.subscriptions[1].id: subscription "a" is listed twice`,
				`x.subscriptions[1].email.to[0]: "not an address" is not an e-mail address`, "x.subscriptions[2].id: is required",
				"x.subscriptions[2]: needs email or webhook"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg
			c.Defaults()
			var es config.Errors
			c.Validate("x", &es)
			got := ""
			if err := es.Err(); err != nil {
				got = err.Error()
			}
			if len(tt.want) == 0 && got != "" {
				t.Fatalf("got %s, want no error", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %s\nwant it to contain %q", got, w)
				}
			}
		})
	}
}

// TestSubstitute covers VALUE_INCIDENT and VALUE_INCIDENT_ID at any depth.
func TestSubstitute(t *testing.T) {
	doc := store.Document{"_id": "x1", "type": "T"}
	tests := []struct {
		name string
		body any
		want string
	}{
		{"top", "VALUE_INCIDENT", `{"_id":"x1","type":"T"}`},
		{"nested", map[string]any{"a": []any{"VALUE_INCIDENT", 1, map[string]any{"k": "VALUE_INCIDENT_ID"}}}, `{"a":[{"_id":"x1","type":"T"},1,{"k":"x1"}]}`},
		{"only whole strings", map[string]any{"s": "see VALUE_INCIDENT"}, `{"s":"see VALUE_INCIDENT"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(substitute(tt.body, doc))
			if err != nil || string(b) != tt.want {
				t.Errorf("got %s (%v), want %s", b, err, tt.want)
			}
		})
	}
}

// TestAuthorization: "user:pass" is basic, a scheme is passed on.
func TestAuthorization(t *testing.T) {
	for in, want := range map[string]string{"": "", "user:pass": "Basic dXNlcjpwYXNz", "Bearer abc": "Bearer abc", "us er:p w": "Basic dXMgZXI6cCB3"} {
		if got := authorization(in); got != want {
			t.Errorf("authorization(%q) = %q, want %q", in, got, want)
		}
	}
}
