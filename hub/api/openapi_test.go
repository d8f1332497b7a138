package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRouter fails when a route is missing from the served
// OpenAPI document or from the router, or when the router sends a
// documented path to another route.
func TestOpenAPIMatchesRouter(t *testing.T) {
	e := newEnv(t)
	code, body, _ := e.send(e.request("GET", "/openapi.json", nil, noCred))
	if code != 200 {
		t.Fatalf("GET /openapi.json: %d %s", code, body)
	}
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	mux, ok := e.api.Handler().(interface {
		Handler(*http.Request) (http.Handler, string)
	})
	if !ok {
		t.Fatal("Handler does not tell which pattern serves a request")
	}
	routes := e.api.routes()
	inTable := map[string]bool{}
	for _, rt := range routes {
		m := strings.ToLower(rt.method)
		if m == "" {
			m = "get"
		}
		inTable[m+" "+rt.path] = true
		if _, ok := doc.Paths[rt.path][m]; !ok {
			t.Errorf("route %s %s is not in the OpenAPI document", m, rt.path)
		}
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	for path, ops := range doc.Paths {
		for m, op := range ops {
			if MountedPaths[path] {
				continue // served by the forecast service mounted in front of the router
			}
			if !inTable[m+" "+path] {
				t.Errorf("documented %s %s has no route", m, path)
				continue
			}
			// The router must send a concrete request of this path to the
			// route documented for it, not to a more general one.
			concrete := param.ReplaceAllStringFunc(path, func(p string) string { return "x" + strings.Trim(p, "{}") })
			req := httptest.NewRequest(strings.ToUpper(m), Prefix+concrete, nil)
			_, pattern := mux.Handler(req)
			want := ""
			for _, rt := range routes {
				if rt.path == path && (strings.ToLower(rt.method) == m || rt.method == "" && m == "get") {
					want = rt.pattern()
				}
			}
			if pattern != want {
				t.Errorf("%s %s is routed to %q, want %q", m, concrete, pattern, want)
			}
			if op["operationId"] == nil || op["responses"] == nil {
				t.Errorf("%s %s: no operationId or responses", m, path)
			}
		}
	}
}

// TestOpenAPICoversSeed checks every path and operationId of the seed's
// annex (and the gateway of its summary) is served.
func TestOpenAPICoversSeed(t *testing.T) {
	seed := map[string]string{
		"get /health": "health", "post /login": "login",
		"get /{layer}/{collection}": "layer_col_get", "post /{layer}/{collection}": "layer_col_post",
		"patch /{layer}/{collection}": "layer_col_patch", "delete /{layer}/{collection}": "layer_col_delete",
		"get /{layer}/{collection}/{id}": "layer_col_id_get", "patch /{layer}/{collection}/{id}": "layer_col_id_patch",
		"delete /{layer}/{collection}/{id}":       "layer_col_id_delete",
		"get /{layer}/{collection}/field/{field}": "layer_col_field", "get /{layer}/{collection}/{id}/field/{field}": "layer_col_id_field",
		"get /range/{layer}/{collection}": "range", "get /near/{layer}/{collection}": "near", "post /bulk/{layer}/{collection}": "bulk",
		"get /config/{layer}/{item}": "config_get", "put /config/{layer}/{item}": "config_put",
		"post /notify/twitter": "twitter", "post /notify/email": "mail",
		"get /resources": "resources_get", "post /resources": "resources_post",
		"get /resources/{id}": "resources_id_get", "delete /resources/{id}": "resources_id_del",
		"get /resources/{id}/info": "resources_id_info", "patch /resources/{id}/metadata": "resources_id_metadata",
		"post /gateway": "gateway",
	}
	doc := (&Server{Version: "x"}).OpenAPI()
	paths := doc["paths"].(map[string]any)
	var missing []string
	for k, opID := range seed {
		m, p, _ := strings.Cut(k, " ")
		item, _ := paths[p].(map[string]any)
		op, _ := item[m].(map[string]any)
		if op == nil || op["operationId"] != opID {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Fatalf("seed operations missing or renamed: %v", missing)
	}
}

func TestReservedLayers(t *testing.T) {
	for _, n := range []string{"health", "login", "logout", "me", "config", "range", "near", "bulk", "resources", "notify", "gateway", "layers", "users", "apps", "system"} {
		if !ReservedLayer(n) {
			t.Errorf("ReservedLayer(%q) = false", n)
		}
	}
	if ReservedLayer("demo") {
		t.Error("demo is reserved")
	}
}
