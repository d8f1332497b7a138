package forecast

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// listPage calls GET /model as user and returns the page, the status and the Link header.
func listPage(t *testing.T, h http.Handler, user, token, query string) (ModelList, int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", PathPrefix+"/model"+query, nil)
	req.Header.Set("X-User-ID", user)
	req.Header.Set("X-Auth-Token", token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var l ModelList
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil {
			t.Fatalf("list %s: %q: %v", query, rec.Body.String(), err)
		}
		if got := rec.Header().Get("X-Total-Count"); got != fmt.Sprint(l.Total) {
			t.Errorf("X-Total-Count %q, total %d", got, l.Total)
		}
	}
	return l, rec.Code, rec.Header().Get("Link")
}

func names(l ModelList) []string {
	var out []string
	for _, d := range l.Models {
		out = append(out, d.Config.Name)
	}
	return out
}

// GET /model lists the models with their status, paged, for the forecast
// read grant; the NATS subject <domain>.forecast.model.list answers the same.
func TestModelList(t *testing.T) {
	as, tok := hubAuth(t)
	s := newService(t, testStore(t))
	defer s.Close()
	h := s.Handler(as)

	l, code, _ := listPage(t, h, "carol", tok["carol"], "")
	if code != 200 || l.Total != 0 || l.Models == nil || len(l.Models) != 0 {
		t.Fatalf("empty list: %d %+v, want 200 with models []", code, l)
	}
	for _, n := range []string{"e", "c", "a", "d", "b"} {
		if _, err := s.Create(ModelParams{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ModelParams{Name: "f"}); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, user, query string
		status            int
		want              []string
		total             int
		next              string
	}{
		{"all, default page", "carol", "", 200, []string{"a", "b", "c", "d", "e", "f"}, 6, ""},
		{"first page", "carol", "?limit=2", 200, []string{"a", "b"}, 6, "skip=2"},
		{"second page", "alice", "?limit=2&skip=2", 200, []string{"c", "d"}, 6, "skip=4"},
		{"last page", "carol", "?limit=2&skip=4", 200, []string{"e", "f"}, 6, ""},
		{"past the end", "carol", "?skip=10", 200, nil, 6, ""},
		{"untrained only", "carol", "?status=untrained&limit=5", 200, []string{"a", "b", "c", "d", "e"}, 6, "skip=5"},
		{"trained only", "carol", "?status=trained", 200, nil, 0, ""},
		{"bad status", "carol", "?status=done", 400, nil, 0, ""},
		{"bad limit", "carol", "?limit=x", 400, nil, 0, ""},
		{"limit too large", "carol", "?limit=5000", 400, nil, 0, ""},
		{"negative skip", "carol", "?skip=-1", 400, nil, 0, ""},
		{"no grant", "bob", "", 403, nil, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, code, link := listPage(t, h, c.user, tok[c.user], c.query)
			if code != c.status {
				t.Fatalf("status %d, want %d", code, c.status)
			}
			if code != 200 {
				return
			}
			if !slices.Equal(names(l), c.want) || l.Total != c.total {
				t.Errorf("models %v of %d, want %v of %d", names(l), l.Total, c.want, c.total)
			}
			if (c.next == "") != (link == "") || !strings.Contains(link, c.next) || c.next != "" && !strings.Contains(link, `rel="next"`) {
				t.Errorf("Link %q, want next with %q", link, c.next)
			}
			for _, d := range l.Models {
				if d.ID == "" || d.Status == "" || d.Regressors == nil && d.Status == StatusTrained {
					t.Errorf("model %+v lacks its id or status", d)
				}
			}
		})
	}
	if _, code, _ := listPage(t, h, "", "", ""); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", code)
	}

	// NATS
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
	n, err := s.ServeNATS(nc, "xflex")
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	for _, c := range []struct {
		body string
		want []string
		err  string
	}{
		{"", []string{"a", "b", "c", "d", "e", "f"}, ""},
		{`{"skip":1,"limit":2}`, []string{"b", "c"}, ""},
		{`{"limit":-1}`, nil, "limit"},
	} {
		m, err := nc.Request(ListSubject("xflex"), []byte(c.body), 10*time.Second)
		if err != nil {
			t.Fatalf("request %s: %v", ListSubject("xflex"), err)
		}
		var got struct {
			ModelList
			Message string `json:"message"`
		}
		if err := json.Unmarshal(m.Data, &got); err != nil {
			t.Fatal(err)
		}
		if c.err != "" {
			if !strings.Contains(got.Message, c.err) {
				t.Errorf("NATS list %s: %s, want an error naming %s", c.body, m.Data, c.err)
			}
			continue
		}
		if !slices.Equal(names(got.ModelList), c.want) {
			t.Errorf("NATS list %s: %v, want %v", c.body, names(got.ModelList), c.want)
		}
	}
}
