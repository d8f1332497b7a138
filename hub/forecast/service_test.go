package forecast

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/shared/subject"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// dataServer serves 120 days of a daily series y = 100 + 2·temp + weekly
// wave, and the temperature of 14 more days (?future=1), as a JSON API.
func dataServer(t *testing.T) (*httptest.Server, time.Time) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rows []map[string]any
		for i := range 134 {
			ds := start.AddDate(0, 0, i)
			temp := 15 + 5*math.Sin(float64(i)/9)
			row := map[string]any{"date": ds.Format(time.RFC3339), "temp": temp}
			if i < 120 {
				row["value"] = fmt.Sprint(100 + 2*temp + 3*math.Sin(2*math.Pi*float64(i)/7))
			}
			if (i < 120) != (r.URL.Query().Get("future") == "1") {
				rows = append(rows, row)
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": rows})
	}))
	t.Cleanup(srv.Close)
	return srv, start.AddDate(0, 0, 119)
}

func trainStage(url string) InputStage {
	return InputStage{HTTP: &HTTPStage{Request: HTTPRequest{URL: url},
		Mapping: Mapping{Rows: "data", Columns: map[string]string{"ds": "date", "y": "value | parsefloat", "temp": "temp"}}}}
}

func futureStage(url string) InputStage {
	return InputStage{HTTP: &HTTPStage{Request: HTTPRequest{URL: url, Params: map[string]any{"future": 1}},
		Mapping: Mapping{Rows: "data", Columns: map[string]string{"ds": "date", "temp": "temp"}}}}
}

// hubAuth is a real auth service on a bolt store with alice (forecast
// write), bob (no grant) and carol (forecast read); it returns their tokens.
func hubAuth(t *testing.T) (*auth.Service, map[string]string) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	as := auth.New(st, auth.Options{BcryptCost: bcrypt.MinCost, TokenTTL: time.Hour, Logger: quiet})
	if _, err := as.Bootstrap(ctx, "admin-password-1234"); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for name, g := range map[string]map[string]auth.Perm{"alice": {Grant: auth.Write}, "bob": {}, "carol": {Grant: auth.Read}} {
		if _, err := as.AddUser(ctx, auth.NewUser{Name: name, Password: "a long password 42", Grants: g}); err != nil {
			t.Fatal(err)
		}
		sess, err := as.Login(ctx, name, "a long password 42")
		if err != nil {
			t.Fatal(err)
		}
		tokens[name] = sess.Token
	}
	return as, tokens
}

// testStore is a bolt store, closed when the test ends.
func testStore(t *testing.T) store.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newService(t *testing.T, st store.Store) *Service {
	t.Helper()
	s, err := New(Options{Store: st, Logger: quiet, HTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// call makes a REST request as user and decodes the answer into out.
func call(t *testing.T, h http.Handler, user, token, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	if user != "" {
		req.Header.Set("X-User-ID", user)
		req.Header.Set("X-Auth-Token", token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, rec.Body.String(), err)
		}
	}
	return rec.Code
}

func waitStatus(t *testing.T, s *Service, id string, want string) ModelDescription {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := s.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status == want {
			return d
		}
		if d.Status != StatusTraining || time.Now().After(deadline) {
			t.Fatalf("status: got %s (%s), want %s", d.Status, d.Error, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRESTLifecycle creates, trains, forecasts and deletes a model over
// REST with the hub's authentication, and checks it survives a restart.
func TestRESTLifecycle(t *testing.T) {
	data, last := dataServer(t)
	as, tok := hubAuth(t)
	st := testStore(t)
	s := newService(t, st)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := s.Mount(next, as)

	// Authentication and the forecast grant.
	params := ModelParams{Name: "load", Input: []InputStage{trainStage(data.URL)}}
	if got := call(t, h, "", "", "POST", PathPrefix+"/model", params, nil); got != http.StatusUnauthorized {
		t.Errorf("no credentials: got %d, want 401", got)
	}
	if got := call(t, h, "bob", tok["bob"], "POST", PathPrefix+"/model", params, nil); got != http.StatusForbidden {
		t.Errorf("no grant: got %d, want 403", got)
	}
	if got := call(t, h, "carol", tok["carol"], "POST", PathPrefix+"/model", params, nil); got != http.StatusForbidden {
		t.Errorf("read grant creating: got %d, want 403", got)
	}
	if got := call(t, h, "alice", tok["alice"], "GET", "/api/v2/health", nil, nil); got != http.StatusTeapot {
		t.Errorf("other paths: got %d, want them passed on (418)", got)
	}

	var d ModelDescription
	if got := call(t, h, "alice", tok["alice"], "POST", PathPrefix+"/model", params, &d); got != http.StatusOK || d.Status != StatusUntrained || d.ID == "" {
		t.Fatalf("create: got %d %+v, want 200 untrained", got, d)
	}
	var e map[string]string
	if got := call(t, h, "alice", tok["alice"], "POST", PathPrefix+"/model/"+d.ID+"/forecast", ForecastParams{Periods: 3, Freq: "D"}, &e); got != http.StatusConflict {
		t.Errorf("forecast untrained: got %d %v, want 409", got, e)
	}
	if got := call(t, h, "alice", tok["alice"], "POST", PathPrefix+"/model/"+d.ID+"/train", nil, &d); got != http.StatusOK || d.Status != StatusTraining {
		t.Fatalf("train: got %d %+v, want 200 training", got, d)
	}
	d = waitStatus(t, s, d.ID, StatusTrained)
	if d.LastDataTimestamp == nil || !d.LastDataTimestamp.Equal(last) {
		t.Errorf("lastDataTimestamp: got %v, want %v", d.LastDataTimestamp, last)
	}
	if len(d.Regressors) != 1 || d.Regressors[0] != "temp" {
		t.Errorf("regressors: got %v, want [temp]", d.Regressors)
	}
	var got ModelDescription
	if code := call(t, h, "carol", tok["carol"], "GET", PathPrefix+"/model/"+d.ID, nil, &got); code != http.StatusOK || got.Status != StatusTrained {
		t.Errorf("get with read grant: got %d %+v", code, got)
	}
	if code := call(t, h, "alice", tok["alice"], "POST", PathPrefix+"/model/"+d.ID+"/forecast", ForecastParams{Periods: 7, Freq: "D"}, &e); code != http.StatusBadRequest || !strings.Contains(e["message"], "temp") {
		t.Errorf("forecast without regressor input: got %d %v, want 400 naming temp", code, e)
	}
	fp := ForecastParams{Periods: 7, Freq: "D", Input: []InputStage{futureStage(data.URL)}}
	var rows []ForecastRow
	if code := call(t, h, "alice", tok["alice"], "POST", PathPrefix+"/model/"+d.ID+"/forecast", fp, &rows); code != http.StatusOK || len(rows) != 7 {
		t.Fatalf("forecast: got %d, %d rows; want 200, 7 rows", code, len(rows))
	}
	for i, r := range rows {
		day := 120 + i
		temp := 15 + 5*math.Sin(float64(day)/9)
		want := 100 + 2*temp + 3*math.Sin(2*math.Pi*float64(day)/7)
		if !r.DS.Equal(last.AddDate(0, 0, i+1)) {
			t.Errorf("row %d ds: got %v, want %v", i, r.DS, last.AddDate(0, 0, i+1))
		}
		if math.Abs(r.Yhat-want) > 2 || r.YhatLower > r.Yhat || r.YhatUpper < r.Yhat {
			t.Errorf("row %d: got %.2f [%.2f, %.2f], want about %.2f inside its band", i, r.Yhat, r.YhatLower, r.YhatUpper, want)
		}
	}

	// A restart keeps the trained model.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := newService(t, st)
	defer s2.Close()
	h2 := s2.Handler(as)
	var rows2 []ForecastRow
	if code := call(t, h2, "alice", tok["alice"], "POST", PathPrefix+"/model/"+d.ID+"/forecast", fp, &rows2); code != http.StatusOK || len(rows2) != 7 || rows2[3].Yhat != rows[3].Yhat {
		t.Fatalf("forecast after restart: got %d %v, want the same rows", code, rows2)
	}
	if code := call(t, h2, "alice", tok["alice"], "DELETE", PathPrefix+"/model/"+d.ID, nil, nil); code != http.StatusOK {
		t.Errorf("delete: got %d, want 200", code)
	}
	if code := call(t, h2, "alice", tok["alice"], "GET", PathPrefix+"/model/"+d.ID, nil, nil); code != http.StatusNotFound {
		t.Errorf("get after delete: got %d, want 404", code)
	}
}

func TestTrainErrors(t *testing.T) {
	s := newService(t, testStore(t))
	defer s.Close()
	d, err := s.Create(ModelParams{Name: "no input"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Train(d.ID, TrainParams{}); err == nil || errStatus(err) != http.StatusBadRequest {
		t.Errorf("train without input: got %v, want a 400 error", err)
	}
	bad := InputStage{HTTP: &HTTPStage{Request: HTTPRequest{URL: "http://127.0.0.1:1/none"}, Mapping: Mapping{Rows: "data", Columns: map[string]string{"ds": "d", "y": "v"}}}}
	if _, err := s.Train(d.ID, TrainParams{Input: []InputStage{bad}}); err != nil {
		t.Fatal(err)
	}
	d = waitStatus(t, s, d.ID, StatusError)
	if !strings.Contains(d.Error, "127.0.0.1:1") {
		t.Errorf("error: got %q, want it to name the failed request", d.Error)
	}
	if _, err := s.Train("nope", TrainParams{}); errStatus(err) != http.StatusNotFound {
		t.Errorf("unknown model: got %v, want 404", err)
	}
}

// TestNATSInterface drives the seed's NATS subjects against an in-process
// NATS server and waits for the completion events.
func TestNATSInterface(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	data, _ := dataServer(t)
	s := newService(t, testStore(t))
	defer s.Close()
	n, err := s.ServeNATS(nc, "xflex")
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	request := func(subj string, v any, out any) {
		t.Helper()
		b, _ := json.Marshal(v)
		m, err := nc.Request(subj, b, 10*time.Second)
		if err != nil {
			t.Fatalf("request %s: %v", subj, err)
		}
		if err := json.Unmarshal(m.Data, out); err != nil {
			t.Fatalf("reply of %s: %v", subj, err)
		}
	}
	var d ModelDescription
	request(subject.ForecastCreate("xflex"), ModelParams{Name: "n", Input: []InputStage{trainStage(data.URL)}}, &d)
	if d.ID == "" || d.Status != StatusUntrained {
		t.Fatalf("create: got %+v", d)
	}
	trained, err := nc.SubscribeSync(subject.ForecastModel("xflex", d.ID, subject.ForecastTrainingCompleted))
	if err != nil {
		t.Fatal(err)
	}
	forecasted, err := nc.SubscribeSync(subject.ForecastModel("xflex", d.ID, subject.ForecastForecastingCompleted))
	if err != nil {
		t.Fatal(err)
	}
	var c ModelConfirmation
	request(subject.ForecastModel("xflex", d.ID, subject.ForecastTrain), TrainParams{}, &c)
	if c.Status != "ok" {
		t.Fatalf("train: got %+v", c)
	}
	m, err := trained.NextMsg(30 * time.Second)
	if err != nil {
		t.Fatalf("trainingcompleted: %v", err)
	}
	var done ModelDescription
	_ = json.Unmarshal(m.Data, &done)
	if done.Status != StatusTrained || done.ID != d.ID {
		t.Fatalf("trainingcompleted: got %+v", done)
	}
	request(subject.ForecastModel("xflex", d.ID, subject.ForecastForecast), ForecastParams{Periods: 24, Freq: "H", Input: []InputStage{futureStage(data.URL)}}, &c)
	if c.Status != "ok" {
		t.Fatalf("forecast: got %+v", c)
	}
	m, err = forecasted.NextMsg(30 * time.Second)
	if err != nil {
		t.Fatalf("forecastingcompleted: %v", err)
	}
	// Hourly steps after the last day: only midnight rows have temperatures.
	if !strings.Contains(string(m.Data), "regressor") {
		t.Errorf("forecastingcompleted: got %s, want the missing-regressor error", m.Data)
	}
	request(subject.ForecastModel("xflex", d.ID, subject.ForecastForecast), ForecastParams{Periods: 5, Freq: "D", Input: []InputStage{futureStage(data.URL)}}, &c)
	m, err = forecasted.NextMsg(30 * time.Second)
	if err != nil {
		t.Fatalf("forecastingcompleted: %v", err)
	}
	var rows []ForecastRow
	if err := json.Unmarshal(m.Data, &rows); err != nil || len(rows) != 5 {
		t.Fatalf("FORECAST_RESULT: got %s (%v), want 5 rows", m.Data, err)
	}
	var got ModelDescription
	request(subject.ForecastModel("xflex", d.ID, subject.ForecastGet), nil, &got)
	if got.Status != StatusTrained {
		t.Errorf("get: got %+v", got)
	}
	request(subject.ForecastModel("xflex", d.ID, subject.ForecastDelete), nil, &c)
	if c.Status != "ok" {
		t.Errorf("delete: got %+v", c)
	}
}

// TestHistoryStage trains from the hub's own history (the TSDB engine).
func TestHistoryStage(t *testing.T) {
	db, err := history.OpenTSDB(history.TSDBOptions{Dir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	end := time.Now().UTC().Truncate(time.Hour)
	start := end.Add(-20 * 24 * time.Hour)
	var samples []history.Sample
	for ts := start; !ts.After(end); ts = ts.Add(15 * time.Minute) {
		h := float64(ts.Hour())
		samples = append(samples,
			history.Sample{Layer: "demo", Collection: "meters", ID: "M1", Field: "measurements.activePower.value", T: ts, Value: 50 + 10*math.Sin(2*math.Pi*h/24), Quality: 1},
			history.Sample{Layer: "demo", Collection: "meters", ID: "M1", Field: "measurements.temperature.value", T: ts, Value: 20 + h/4, Quality: 1})
	}
	if _, err := db.Append(context.Background(), samples); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Store: testStore(t), Logger: quiet, History: db})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stage := InputStage{History: &HistoryStage{Layer: "demo", Collection: "meters", ID: "M1", From: start,
		Columns: map[string]string{"y": "measurements.activePower.value", "temp": "measurements.temperature.value"}, Step: 3600e9}}
	d, err := s.Create(ModelParams{Name: "h", Input: []InputStage{stage}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Train(d.ID, TrainParams{}); err != nil {
		t.Fatal(err)
	}
	d = waitStatus(t, s, d.ID, StatusTrained)
	if d.Rows < 20*24-2 || d.Rows > 20*24+1 {
		t.Errorf("rows: got %d, want one per hour of 20 days", d.Rows)
	}
	if len(d.Regressors) != 1 || d.Regressors[0] != "temp" {
		t.Errorf("regressors: got %v, want [temp]", d.Regressors)
	}
}
