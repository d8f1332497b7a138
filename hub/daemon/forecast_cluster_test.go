package daemon

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
)

// TestForecastTwoHubsOneMongo: two hub processes' worth of daemons on one
// MongoDB database serve the same forecast models over REST: a model made
// on A is found and trained through B (with A's login token), its
// completion seen on A, and both forecast the same rows; a train request
// on A while B trains answers 409.
func TestForecastTwoHubsOneMongo(t *testing.T) {
	uri, _ := mongotest.URI(t)
	t.Setenv(EnvAdminPassword, "demo-admin-password")
	release := make(chan struct{})
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	data := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("wait") == "1" {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		var rows []map[string]any
		for i := range 90 {
			rows = append(rows, map[string]any{"date": start.AddDate(0, 0, i).Format(time.RFC3339),
				"value": 100 + 3*math.Sin(2*math.Pi*float64(i)/7) + 0.1*float64(i)})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": rows})
	}))
	defer data.Close()

	db := mongotest.DatabaseName()
	hubs := map[string]*Hub{}
	for _, name := range []string{"hub-a", "hub-b"} {
		cfg := testConfig(t, t.TempDir())
		cfg.NATS.ServerName = name
		cfg.Store = StoreConfig{Backend: "mongo", MongoURI: uri, Database: db}
		h, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		hubs[name] = h
	}
	a := "http://" + hubs["hub-a"].HTTPAddr() + "/api/v2/forecast/model"
	b := "http://" + hubs["hub-b"].HTTPAddr() + "/api/v2/forecast/model"
	_, m := call(t, "POST", "http://"+hubs["hub-a"].HTTPAddr()+"/api/v2/login", map[string]any{"user": "admin", "password": "demo-admin-password"}, nil)
	d := m["data"].(map[string]any)
	hdr := map[string]string{"X-User-ID": d["userId"].(string), "X-Auth-Token": d["authToken"].(string)}

	stage := func(wait bool) map[string]any {
		u := data.URL
		if wait {
			u += "?wait=1"
		}
		return map[string]any{"http": map[string]any{"request": map[string]any{"url": u},
			"mapping": map[string]any{"rows": "data", "columns": map[string]any{"ds": "date", "y": "value"}}}}
	}
	type desc struct {
		ID        string     `json:"id"`
		Status    string     `json:"status"`
		Error     string     `json:"error"`
		TrainedAt *time.Time `json:"trainedAt"`
	}
	var made desc
	if code := forecastJSON(t, "POST", a, map[string]any{"name": "load", "input": []any{stage(true)}}, hdr, &made); code != 200 || made.ID == "" {
		t.Fatalf("create on A: %d %+v", code, made)
	}
	var got desc
	if code := forecastJSON(t, "GET", b+"/"+made.ID, nil, hdr, &got); code != 200 || got.Status != "untrained" {
		t.Fatalf("get on B: %d %+v, want the untrained model made on A", code, got)
	}
	if code := forecastJSON(t, "POST", b+"/"+made.ID+"/train", nil, hdr, &got); code != 200 || got.Status != "training" {
		t.Fatalf("train on B: %d %+v", code, got)
	}
	var e map[string]any
	if code := forecastJSON(t, "POST", a+"/"+made.ID+"/train", nil, hdr, &e); code != http.StatusConflict {
		t.Errorf("train on A while B trains: %d %v, want 409", code, e)
	}
	close(release)
	deadline := time.Now().Add(30 * time.Second)
	for {
		forecastJSON(t, "GET", a+"/"+made.ID, nil, hdr, &got)
		if got.Status == "trained" {
			break
		}
		if got.Status != "training" || time.Now().After(deadline) {
			t.Fatalf("model on A: %+v, want trained", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var ra, rb []map[string]any
	fp := map[string]any{"periods": 7, "freq": "D"}
	if code := forecastJSON(t, "POST", a+"/"+made.ID+"/forecast", fp, hdr, &ra); code != 200 || len(ra) != 7 {
		t.Fatalf("forecast on A: %d %v", code, ra)
	}
	if code := forecastJSON(t, "POST", b+"/"+made.ID+"/forecast", fp, hdr, &rb); code != 200 || len(rb) != 7 || rb[6]["yhat"] != ra[6]["yhat"] {
		t.Fatalf("forecast on B: %d %v, want A's rows %v", code, rb, ra)
	}
}
