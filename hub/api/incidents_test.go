package api

import (
	"context"
	"strings"
	"testing"

	"github.com/gridedge/gridedge/hub/store"
)

// PATCH of the incidents collection follows the incidents' state machine
// (open → acknowledged → resolved, open → resolved): a change it does not
// allow is a 409 naming the allowed ones, and nothing is written; other
// collections are not checked.
func TestIncidentStatusPatch(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Incidents = IncidentsCollection{Layer: "demo", Collection: "series"} })
	ctx := context.Background()
	put := func(docs ...store.Document) {
		t.Helper()
		if _, err := e.st.Bulk(ctx, "demo", "series", docs, true); err != nil {
			t.Fatal(err)
		}
	}
	status := func(id string) any {
		t.Helper()
		d, err := e.st.Get(ctx, "demo", "series", id)
		if err != nil {
			t.Fatal(err)
		}
		return d["status"]
	}
	cases := []struct {
		name   string
		doc    store.Document // the incident before
		body   any
		status int
		msg    string
		after  any // the status after
	}{
		{"open to acknowledged", store.Document{"status": "open"}, map[string]any{"status": "acknowledged", "acknowledgedBy": "admin"}, 200, "", "acknowledged"},
		{"no status (open) to resolved", store.Document{}, map[string]any{"$set": map[string]any{"status": "resolved"}}, 200, "", "resolved"},
		{"acknowledged to resolved", store.Document{"status": "acknowledged"}, map[string]any{"status": "resolved"}, 200, "", "resolved"},
		{"same status again", store.Document{"status": "acknowledged"}, map[string]any{"status": "acknowledged"}, 200, "", "acknowledged"},
		{"other fields only", store.Document{"status": "resolved"}, map[string]any{"note": "post-mortem written"}, 200, "", "resolved"},
		{"resolved is final", store.Document{"status": "resolved"}, map[string]any{"status": "acknowledged"}, 409, "allowed: none: resolved is final", "resolved"},
		{"acknowledged back to open", store.Document{"status": "acknowledged"}, map[string]any{"status": "open"}, 409, "allowed: acknowledged → resolved", "acknowledged"},
		{"unset reopens", store.Document{"status": "resolved"}, map[string]any{"$unset": map[string]any{"status": ""}}, 409, "cannot become open", "resolved"},
		{"not a status", store.Document{"status": "open"}, map[string]any{"status": "closed"}, 409, "allowed: open → acknowledged or resolved", "open"},
		{"not a string", store.Document{"status": "open"}, map[string]any{"status": 3}, 400, "status: want one of", "open"},
		{"renamed into status", store.Document{"status": "open", "x": "resolved"}, map[string]any{"$rename": map[string]any{"x": "status"}}, 400, "changes only by setting it", "open"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.doc["_id"] = "INC1"
			put(c.doc)
			code, res := e.do("PATCH", "/demo/series/INC1", c.body, e.admin)
			if code != c.status {
				t.Fatalf("PATCH: %d %v, want %d", code, res, c.status)
			}
			if msg, _ := res["message"].(string); c.msg != "" && !strings.Contains(msg, c.msg) {
				t.Errorf("message %q, want it to say %q", msg, c.msg)
			}
			if got := status("INC1"); got != c.after {
				t.Errorf("status after: %v, want %v", got, c.after)
			}
		})
	}

	// the multi-document PATCH refuses the whole request, naming the incident
	put(store.Document{"_id": "A", "status": "open"}, store.Document{"_id": "B", "status": "resolved"})
	e.wantError("PATCH", "/demo/series", []any{map[string]any{"_id": "A", "status": "acknowledged"}, map[string]any{"_id": "B", "status": "open"}},
		e.admin, 409, "incident B")
	if status("A") != "open" || status("B") != "resolved" {
		t.Errorf("after a refused multi-document PATCH: A %v, B %v", status("A"), status("B"))
	}
	e.must("PATCH", "/demo/series", []any{map[string]any{"_id": "A", "status": "acknowledged"}}, e.admin)
	if status("A") != "acknowledged" {
		t.Errorf("A after an allowed multi-document PATCH: %v", status("A"))
	}

	// another collection is not checked
	if _, err := e.st.Bulk(ctx, "demo", "meters", []store.Document{{"_id": "m", "status": "resolved"}}, true); err != nil {
		t.Fatal(err)
	}
	e.must("PATCH", "/demo/meters/m", map[string]any{"status": "open"}, e.admin)
}
