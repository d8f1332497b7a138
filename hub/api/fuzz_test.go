package api

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// FuzzFindParams sends arbitrary query parameters to GET /:layer/:col: the
// answer is 200 or a 400 saying what was wrong, never a 500 or a panic.
func FuzzFindParams(f *testing.F) {
	e := newEnv(f)
	e.must("POST", "/demo/meters", []any{
		map[string]any{"_id": "a", "n": 1, "tags": []any{"x", "y"}, "m": map[string]any{"v": 2.5}},
		map[string]any{"_id": "b", "n": "two", "ts": map[string]any{"$date": "2024-01-01T00:00:00Z"}},
	}, e.admin)
	h := e.api.Handler()
	for _, s := range [][5]string{
		{`{"n":{"$gt":0}}`, `{"n":-1}`, `n,m.v`, "10", "0"},
		{`{"$or":[{"n":1},{"tags":{"$in":["x"]}}]}`, `-n,_id`, `{"m":0}`, "", ""},
		{`{"m.v":{"$not":{"$lt":3}}}`, `[["n",1]]`, `{"_id":0,"n":1}`, "1", "1"},
		{`{"tags":{"$elemMatch":{"$regex":"^x"}}}`, "", "", "", ""},
		{`{"a":{"$regex":"(","$options":"q"}}`, `{"a":"up"}`, `{"a.$":1}`, "-1", "x"},
		{`{"ts":{"$gte":{"$date":"2023-01-01T00:00:00Z"}}}`, "", "", "99999999999999999999", ""},
		{"\x00", "{", "[", "1e3", " 1"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4])
	}
	f.Fuzz(func(t *testing.T, sel, sort, fields, limit, skip string) {
		q := url.Values{}
		for k, v := range map[string]string{"query": sel, "sort": sort, "fields": fields, "limit": limit, "skip": skip} {
			if v != "" {
				q.Set(k, v)
			}
		}
		req := httptest.NewRequest("GET", Prefix+"/demo/meters?"+q.Encode(), nil)
		req.Header.Set("X-User-ID", e.admin.id)
		req.Header.Set("X-Auth-Token", e.admin.secret)
		rec := httptest.NewRecorder()
		watchdog := time.AfterFunc(3*time.Second, func() { panic(fmt.Sprintf("hung on %q", q.Encode())) })
		h.ServeHTTP(rec, req)
		watchdog.Stop()
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("answer is not JSON: %q", rec.Body.String())
		}
		switch rec.Code {
		case 200:
			if body["status"] != "success" {
				t.Fatalf("200 with %v", body)
			}
		case 400:
			if body["status"] != "error" || body["message"] == "" {
				t.Fatalf("400 with %v", body)
			}
		default:
			t.Fatalf("query %v: status %d %v", q, rec.Code, body)
		}
	})
}
