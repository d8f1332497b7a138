package iotjson

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/pipeline/transform"
)

func TestCompileApplySeedDevice(t *testing.T) {
	// seed 003: a group with an expression attribute and a static
	// attribute; the device renames an object_id
	var g Group
	if err := DecodeStrict([]byte(`{"apikey":"801230BJKL23Y9090DSFL123HJK09H324HV8732","resource":"/iot/json","entity_type":"Thing",
		"attributes":[{"object_id":"t","name":"temperature","type":"Number","expression":"t * 10"}],
		"static_attributes":[{"name":"location","type":"Text","value":"hall"}]}`), &g); err != nil {
		t.Fatal(err)
	}
	g.Service, g.Subservice = "smart_city", "/"
	if e := CheckGroup(&g); e != nil {
		t.Fatal(e)
	}
	d := Device{DeviceID: "d1", Service: "smart_city", ServicePath: "/"}
	c, err := Compile(&d, &g)
	if err != nil {
		t.Fatal(err)
	}
	if c.Doc.Layer != "smart-city" || c.Doc.Collection != "Thing" || c.Doc.ID != "Thing:d1" {
		t.Fatalf("doc = %+v", c.Doc)
	}
	objs, err := Measures([]byte(`{"t": 2.5, "TimeInstant": "2024-05-01T10:00:00Z"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	us := c.Apply(objs, time.Now())
	if len(us) != 1 {
		t.Fatalf("updates = %+v", us)
	}
	b, _ := json.Marshal(us[0])
	var got struct {
		TS  time.Time      `json:"ts"`
		Set map[string]any `json:"set"`
	}
	_ = json.Unmarshal(b, &got)
	if got.Set["location"] != "hall" {
		t.Errorf("static attribute missing: %s", b)
	}
	if m, ok := got.Set["measurements.temperature"].(map[string]any); !ok || m["value"] != 25.0 {
		t.Errorf("temperature = %v, want 25: %s", got.Set["measurements.temperature"], b)
	}
}

func TestChecksAndErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *Error
		want string
	}{
		{"no apikey", CheckGroup(&Group{Resource: "/iot/json", EntityType: "T"}), NameWrongSyntax},
		{"underscore type", CheckGroup(&Group{APIKey: "k", Resource: "/iot/json", EntityType: "a_b"}), NameWrongSyntax},
		{"legacy", CheckLanguage("legacy"), NameUnsupportedLanguage},
		{"device slash", CheckDevice(&Device{DeviceID: "a/b"}), NameWrongSyntax},
		{"bad expression", CheckDevice(&Device{DeviceID: "d", Attributes: []transform.Attribute{{ObjectID: "x", Name: "y", Expression: "x *"}}}), NameWrongSyntax},
		{"good device", CheckDevice(&Device{DeviceID: "d", Attributes: []transform.Attribute{{ObjectID: "x", Name: "y", Expression: "x * 2"}}}), ""},
	} {
		got := ""
		if tc.err != nil {
			got = tc.err.Name
		}
		if got != tc.want {
			t.Errorf("%s: got %v, want %s", tc.name, tc.err, tc.want)
		}
	}
	if _, err := LayerOf("a.b"); err == nil {
		t.Error("LayerOf(a.b) accepted")
	}
}

func TestWriteErrorRetryAfter(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, TooManyRequests("d", 1, 2, 2500*time.Millisecond))
	if w.Code != 429 || w.Header().Get("Retry-After") != "3" {
		t.Fatalf("code %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	var body map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if body["name"] != NameTooManyRequests {
		t.Errorf("body = %v", body)
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter[string](1, 2)
	now := time.Unix(0, 0)
	for i, want := range []bool{true, true, false} {
		if ok, _ := l.Allow("a", now); ok != want {
			t.Errorf("take %d: %v, want %v", i, ok, want)
		}
	}
	if ok, _ := l.Allow("b", now); !ok {
		t.Error("another device was limited")
	}
	if ok, _ := l.Allow("a", now.Add(time.Second)); !ok {
		t.Error("no token after a second")
	}
}

func TestTokens(t *testing.T) {
	tok, hash, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if !ValidHash(hash) || !TokenMatches(tok, hash) || TokenMatches(tok+"x", hash) || ValidHash("zz") {
		t.Error("token hashing")
	}
}
