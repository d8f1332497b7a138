package convert

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/shared/config"
)

func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestRegistryCachesByVersion(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	r := NewRegistry(st, Config{}, nil)
	if err := r.EnsureCollection(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.EnsureCollection(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	if _, err := r.Apply(ctx, "nope", map[string]any{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: got %v, want ErrNotFound", err)
	}
	if _, err := st.Insert(ctx, DefaultLayer, DefaultCollection, []store.Document{cloneJSON(seedCode).(map[string]any)}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		got, err := r.Apply(ctx, "my-transformation", map[string]any{"a": 1.0})
		if err != nil {
			t.Fatal(err)
		}
		if want := (map[string]any{"a": 1.0, "newField": "myData"}); !reflect.DeepEqual(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if n := r.Compiles(); n != 1 {
		t.Errorf("compiled %d times for one version, want 1", n)
	}
	time.Sleep(2 * time.Millisecond) // _updated has millisecond precision
	if _, err := st.UpdateByID(ctx, DefaultLayer, DefaultCollection, "my-transformation", map[string]any{"code": "(d) => ({v: 2})"}); err != nil {
		t.Fatal(err)
	}
	got, err := r.Apply(ctx, "my-transformation", map[string]any{"a": 1.0})
	if err != nil {
		t.Fatal(err)
	}
	if want := (map[string]any{"v": 2.0}); !reflect.DeepEqual(got, want) {
		t.Errorf("after the change: got %v, want %v", got, want)
	}
	if n := r.Compiles(); n != 2 {
		t.Errorf("compiled %d times for two versions, want 2", n)
	}
	time.Sleep(2 * time.Millisecond)
	if _, err := st.UpdateByID(ctx, DefaultLayer, DefaultCollection, "my-transformation", map[string]any{"code": "(d) => {"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Apply(ctx, "my-transformation", map[string]any{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("broken version: got %v, want ErrInvalid", err)
	}
}

func TestNATSResponder(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	r := NewRegistry(st, Config{Limits: Limits{Timeout: config.Duration(2 * time.Second)}}, nil)
	if err := r.EnsureCollection(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Insert(ctx, DefaultLayer, DefaultCollection, []store.Document{cloneJSON(seedTemplate).(map[string]any)}); err != nil {
		t.Fatal(err)
	}
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats server not ready")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	rnc, err := nats.Connect(ns.ClientURL()) // the responder's own connection, as the hub's
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rnc.Close)
	resp, err := r.Serve(rnc, "xflex")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(resp.Stop)
	tests := []struct {
		name, subject string
		req           any
		want          string
	}{
		{"apply", "xflex.converters.apply", map[string]any{"id": "my-transformation", "document": map[string]any{"id": "SM1", "timestamp": 0, "AEexp": 3}},
			`{"status":"success","data":{"date":"1970-01-01T00:00:00.000Z","id":"SM1","measurements":{"activeEnergyExported":{"timestamp":0,"value":3}}}}`},
		{"test stored", "xflex.converters.test", map[string]any{"id": "my-transformation", "document": map[string]any{"id": "SM1"}},
			`{"status":"error","message":"converter \"my-transformation\": template.date: converter script failed: toISO: RangeError: Invalid time value`},
		{"test inline", "xflex.converters.test", map[string]any{"converter": seedCode, "document": map[string]any{"x": 1}},
			`{"status":"success","data":{"newField":"myData","x":1}}`},
		{"unknown", "xflex.converters.apply", map[string]any{"id": "nope", "document": map[string]any{}},
			`{"status":"error","message":"converter not found: no transformation \"nope\" in converters/transformations"}`},
		{"no document", "xflex.converters.apply", map[string]any{"id": "x"}, `{"status":"error","message":"invalid request: document is required"}`},
		{"not JSON", "xflex.converters.apply", "{", `{"status":"error","message":"invalid request: unexpected end of JSON input"}`},
	}
	t.Run("a slow script does not hold up others", func(t *testing.T) {
		// the slow one loops until its 2s budget ends; the fast one must be
		// answered before that
		slow := map[string]any{"converter": map[string]any{"_id": "slow", "code": "(d) => { for (;;) {} }"}, "document": map[string]any{}}
		b, _ := json.Marshal(slow)
		inbox := nats.NewInbox()
		replies, err := nc.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.PublishRequest("xflex.converters.test", inbox, b); err != nil {
			t.Fatal(err)
		}
		fast, _ := json.Marshal(map[string]any{"converter": seedCode, "document": map[string]any{}})
		if _, err := nc.Request("xflex.converters.test", fast, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if n, _, _ := replies.Pending(); n != 0 {
			t.Errorf("the slow request was answered before the fast one")
		}
		m, err := replies.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(m.Data), "ran longer than 2s") {
			t.Errorf("slow: %s", m.Data)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := json.Marshal(tt.req)
			if s, ok := tt.req.(string); ok {
				b = []byte(s)
			}
			m, err := nc.Request(tt.subject, b, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(m.Data), tt.want) {
				t.Errorf("got  %s\nwant %s…", m.Data, tt.want)
			}
		})
	}
}
