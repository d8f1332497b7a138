package history

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/subject"
)

// startNATS runs an embedded nats-server with a small maximum payload
// (to test the refusal of answers that do not fit) and connects to it.
func startNATS(t *testing.T) *nats.Conn {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, MaxPayload: 4096})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

type natsAnswer struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Data    []struct {
		ID     string  `json:"_id"`
		Field  string  `json:"field"`
		Points [][]any `json:"points"`
	} `json:"data"`
}

// <domain>.storage.history answers with the REST envelope, takes the REST
// parameters (fields as a list or a comma-separated string, from/to as
// RFC 3339, dates or milliseconds, step/agg, limit, a query selector on
// the current documents), and says what was wrong with a bad request.
func TestNATSHistory(t *testing.T) {
	ctx := context.Background()
	rec, db := newRecorder(t)
	for _, d := range []store.Document{{"_id": "M1", "site": "north"}, {"_id": "M2", "site": "south"}} {
		if _, err := rec.Store.Insert(ctx, "demo", "meters", []store.Document{d}); err != nil {
			t.Fatal(err)
		}
	}
	var samples []Sample
	for s := range 120 {
		samples = append(samples, sample("M1", "measurements.voltage", s, 230.0+float64(s%2), 1),
			sample("M2", "measurements.voltage", s, 400.0, 1), sample("M1", "measurements.current", s, 5.0, 1))
	}
	if _, err := db.Append(ctx, samples); err != nil {
		t.Fatal(err)
	}
	nc := startNATS(t)
	r, err := ServeNATS(nc, "xflex", db, rec.Store, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	from := t0.Format(time.RFC3339)
	to := t0.Add(2 * time.Minute).Format(time.RFC3339)
	for _, c := range []struct {
		name    string
		req     string
		series  []string // "id field points"
		wantErr string
	}{
		{"one document, fields as a string, one-minute steps", `{"layer":"demo","collection":"meters","id":"M1","fields":"measurements.voltage","from":"` + from + `","to":"` + to + `","step":"1m","agg":"max"}`,
			[]string{"M1 measurements.voltage 2"}, ""},
		{"fields as a list, from as milliseconds, limit", `{"layer":"demo","collection":"meters","ids":["M1","M2"],"fields":["measurements.voltage"],"from":` + jsonMillis(t0) + `,"to":"` + to + `","limit":10}`,
			[]string{"M1 measurements.voltage 10", "M2 measurements.voltage 10"}, ""},
		{"every field of every document", `{"layer":"demo","collection":"meters","from":"` + from + `","to":"` + to + `","step":"1h","agg":"count"}`,
			[]string{"M1 measurements.current 1", "M1 measurements.voltage 1", "M2 measurements.voltage 1"}, ""},
		{"a selector on the current documents", `{"layer":"demo","collection":"meters","query":{"site":"south"},"from":"` + from + `","to":"` + to + `","step":"1h"}`,
			[]string{"M2 measurements.voltage 1"}, ""},
		{"a selector matching nothing", `{"layer":"demo","collection":"meters","query":{"site":"east"},"from":"` + from + `","to":"` + to + `"}`,
			nil, ""},
		{"too large for one message", `{"layer":"demo","collection":"meters","from":"` + from + `","to":"` + to + `"}`,
			nil, "exceeds the NATS maximum payload of 4096 bytes"},
		{"a misspelt parameter", `{"layer":"demo","collection":"meters","form":"2024-05-01"}`, nil, `unknown field "form"`},
		{"a bad aggregation", `{"layer":"demo","collection":"meters","step":"1m","agg":"median"}`, nil, `agg "median" is not one of`},
		{"a bad time", `{"layer":"demo","collection":"meters","from":"yesterday"}`, nil, `from="yesterday": want an RFC 3339`},
		{"a missing collection", `{"layer":"demo","collection":"nope"}`, nil, `layer demo has no collection "nope"`},
		{"no layer", `{"collection":"meters"}`, nil, "layer and collection are required"},
		{"not JSON", `layer=demo`, nil, "the request is a JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg, err := nc.Request(subject.StorageHistory("xflex"), []byte(c.req), 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var a natsAnswer
			if err := json.Unmarshal(msg.Data, &a); err != nil {
				t.Fatalf("answer %s: %v", msg.Data, err)
			}
			if c.wantErr != "" {
				if a.Status != "error" || !strings.Contains(a.Message, c.wantErr) {
					t.Fatalf("got %s, want an error containing %q", msg.Data, c.wantErr)
				}
				return
			}
			if a.Status != "success" {
				t.Fatalf("got %s, want success", msg.Data)
			}
			var got []string
			for _, s := range a.Data {
				got = append(got, s.ID+" "+s.Field+" "+itoa(len(s.Points)))
			}
			if strings.Join(got, "|") != strings.Join(c.series, "|") {
				t.Errorf("series: got %q, want %q", got, c.series)
			}
		})
	}
	// the aggregated values are the REST route's
	msg, err := nc.Request(subject.StorageHistory("xflex"), []byte(`{"layer":"demo","collection":"meters","id":"M1","fields":"measurements.voltage","from":"`+from+`","to":"`+to+`","step":"1m","agg":"max"}`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[["2024-05-01T10:00:00.000Z",231,1],["2024-05-01T10:01:00.000Z",231,1]`; !strings.Contains(string(msg.Data), want) {
		t.Errorf("got %s, want points %s", msg.Data, want)
	}
}

func jsonMillis(t time.Time) string { return itoa(int(t.UnixMilli())) }

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
