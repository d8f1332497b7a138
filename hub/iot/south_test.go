package iot

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/pipeline/baddata"
)

// TestSeedMultiEntity replays the seed's multi-entity device: one reading
// of contador12 writes three WaterMeter documents, and their history.
func TestSeedMultiEntity(t *testing.T) {
	h := newHarness(t, nil)
	hd := h.fiware("smartcity", "/")
	h.must(200, "POST", PathServices, `{"services":[{"apikey":"water","resource":"/iot/json","entity_type":"multientity"}]}`, hd)
	h.must(200, "POST", PathDevices, seedMultiEntity, hd)
	h.must(200, "POST", PathJSON+"?k=water&i=contador12", `{"cont1":"12.5","cont2":"30","cont3":"7"}`, nil)
	for i, want := range []string{"12.5", "30", "7"} {
		id := fmt.Sprintf("urn:ngsi-ld:Device:WaterMeterSoria0%d", i+1)
		if v := h.value("smartcity", "WaterMeter", id, "vol"); v != want {
			t.Errorf("%s vol = %v, want %s", id, v, want)
		}
	}
	h.clock.Add(time.Second)
	h.must(200, "POST", PathJSON+"?k=water&i=contador12", `{"cont1":13,"cont2":31,"cont3":8}`, nil)
	// the first value was text (a state in the history), the second a number
	if got := h.points("smartcity", "WaterMeter", "urn:ngsi-ld:Device:WaterMeterSoria02", "measurements.vol"); len(got) != 2 || got[1] != 31 {
		t.Errorf("history of WaterMeterSoria02 = %v, want 2 points, the last 31", got)
	}
	// change events for every document written
	h.mu.Lock()
	n := len(h.changes)
	h.mu.Unlock()
	if n < 6 {
		t.Errorf("%d change events, want at least 6", n)
	}
}

// TestSeedExpressions: the seed's expression examples (measures value=6,
// name, object, array) as attribute expressions, with static attributes,
// skipValue and explicitAttrs.
func TestSeedExpressions(t *testing.T) {
	h := newHarness(t, nil)
	hd := h.fiware("smartcity", "/")
	h.must(200, "POST", PathServices, `{"services":[{"apikey":"k1","resource":"/iot/json","entity_type":"Thing",
	 "static_attributes":[{"name":"category","type":"Text","value":"sensor"}],
	 "attributes":[
	  {"object_id":"value","name":"times5","type":"Number","expression":"5 * value"},
	  {"object_id":"name","name":"upper","type":"Text","expression":"name | touppercase"},
	  {"object_id":"object","name":"surname","type":"Text","expression":"object.surname"},
	  {"object_id":"array","name":"first","type":"Number","expression":"array[0]"},
	  {"object_id":"level","name":"level","type":"Number","expression":"level == 0 ? -1 : level / 100","skipValue":-1}]}]}`, hd)
	h.must(200, "POST", PathJSON+"?k=k1&i=d1", `{"value":6,"name":"DevId629","object":{"name":"John","surname":"Doe"},"array":[1,3],"level":85,"extra":true}`, nil)
	doc := h.doc("smartcity", "Thing", "Thing:d1")
	for name, want := range map[string]any{"times5": 30.0, "upper": "DEVID629", "surname": "Doe", "first": 1.0, "level": 0.85, "extra": true} {
		if v := h.value("smartcity", "Thing", "Thing:d1", name); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	if doc["category"] != "sensor" {
		t.Errorf("static attribute category = %v", doc["category"])
	}
	// skipValue: level 0 gives -1, which is not written (the old value stays)
	h.clock.Add(time.Second)
	h.must(200, "POST", PathJSON+"?k=k1&i=d1", `{"level":0}`, nil)
	if v := h.value("smartcity", "Thing", "Thing:d1", "level"); v != 0.85 {
		t.Errorf("level after a skipped value = %v, want 0.85", v)
	}
	// explicitAttrs on the device: only its attributes are written
	h.must(200, "PUT", PathDevices+"/d1", `{"explicitAttrs":true}`, hd)
	h.clock.Add(time.Second)
	h.must(200, "POST", PathJSON+"?k=k1&i=d1", `{"value":7,"other":1}`, nil)
	ms := h.doc("smartcity", "Thing", "Thing:d1")["measurements"].(map[string]any)
	if _, ok := ms["other"]; ok {
		t.Errorf("explicitAttrs true wrote an undefined measure: %v", ms)
	}
	if v := h.value("smartcity", "Thing", "Thing:d1", "times5"); v != 35.0 {
		t.Errorf("times5 = %v, want 35", v)
	}
	// a measurement array: one reading per element, TimeInstant as its time
	h.must(200, "POST", PathJSON+"?k=k1&i=d2", `[{"value":1,"TimeInstant":"2024-05-01T09:00:00Z"},{"value":2,"TimeInstant":"2024-05-01T09:00:01Z"}]`, nil)
	if got := h.points("smartcity", "Thing", "Thing:d2", "measurements.times5"); len(got) != 2 || got[0] != 5 || got[1] != 10 {
		t.Errorf("history of an array = %v, want [5 10]", got)
	}
}

func TestEntityNameExpAndAutoprovision(t *testing.T) {
	h := newHarness(t, nil)
	hd := h.fiware("smartcity", "/")
	h.must(200, "POST", PathServices, `{"services":[
	 {"apikey":"named","resource":"/iot/json","entity_type":"Meter","entityNameExp":"'urn:Meter:' + id + ':' + site"},
	 {"apikey":"closed","resource":"/iot/json","entity_type":"Meter","autoprovision":false}]}`, hd)
	h.must(200, "POST", PathJSON+"?k=named&i=m7", `{"site":"north","p":1}`, nil)
	if v := h.value("smartcity", "Meter", "urn:Meter:m7:north", "p"); v != 1.0 {
		t.Errorf("p = %v", v)
	}
	if d := h.must(200, "GET", PathDevices+"/m7", nil, hd); d["entity_name"] != "urn:Meter:m7:north" || d["apikey"] != "named" {
		t.Errorf("autoprovisioned device %v", d)
	}
	h.wantError(404, NameDeviceNotFound, "POST", PathJSON+"?k=closed&i=m8", `{"p":1}`, nil)
	if st := h.svc.Stats(); st.Autoprovisioned != 1 || st.Readings != 1 {
		t.Errorf("stats %+v", st)
	}

	// autoprovisioning off for the whole hub
	h2 := newHarness(t, func(c *Config) { f := false; c.Autoprovision = &f })
	h2.must(200, "POST", PathServices, `{"services":[{"apikey":"k","resource":"/iot/json","entity_type":"Meter"}]}`, h2.fiware("smartcity", "/"))
	h2.wantError(404, NameDeviceNotFound, "POST", PathJSON+"?k=k&i=new", `{"p":1}`, nil)
}

func TestSouthboundBadInput(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxPayload = 256 })
	hd := h.fiware("smartcity", "/")
	h.must(200, "POST", PathServices, `{"services":[{"apikey":"k1","resource":"/iot/json","entity_type":"Sensor"},{"apikey":"k2","resource":"/iot/json","entity_type":"Sensor"}]}`, hd)
	h.must(200, "POST", PathDevices, `{"devices":[{"device_id":"own2","apikey":"k2","entity_type":"Sensor"}]}`, hd)
	h.must(200, "POST", PathJSON+"?k=k1&i=good", `{"t":1}`, nil)
	for _, tc := range []struct {
		name, path, body string
		code             int
		errName          string
	}{
		{"unknown apikey", "?k=nope&i=good", `{"t":1}`, 404, NameGroupNotFound},
		{"no apikey", "?i=good", `{"t":1}`, 400, NameMandatoryParams},
		{"no device", "?k=k1", `{"t":1}`, 400, NameMandatoryParams},
		{"device of another apikey", "?k=k1&i=own2", `{"t":1}`, 404, NameDeviceNotFound},
		{"malformed JSON", "?k=k1&i=good", `{"t":`, 400, NameWrongSyntax},
		{"trailing data", "?k=k1&i=good", `{"t":1} {"t":2}`, 400, NameWrongSyntax},
		{"not an object", "?k=k1&i=good", `42`, 400, NameWrongSyntax},
		{"empty object", "?k=k1&i=good", `{}`, 400, NameWrongSyntax},
		{"array of numbers", "?k=k1&i=good", `[1,2]`, 400, NameWrongSyntax},
		{"empty body", "?k=k1&i=good", ``, 400, NameWrongSyntax},
		{"oversized", "?k=k1&i=good", `{"t":"` + strings.Repeat("x", 300) + `"}`, 413, NamePayloadTooLarge},
		{"device id with /", "?k=k1&i=a/b", `{"t":1}`, 400, NameWrongSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			m := h.wantError(tc.code, tc.errName, "POST", PathJSON+tc.path, tc.body, nil)
			t.Logf("%d %v", tc.code, m["message"])
		})
	}
	h.t = t
	if want := `Couldn't find device group for fields: ["resource","apikey"] and values: {"apikey":"nope","resource":"/iot/json"}`; h.wantError(404, NameGroupNotFound, "POST", PathJSON+"?k=nope&i=x", `{"t":1}`, nil)["message"] != want {
		t.Errorf("unknown apikey message, want %q", want)
	}
	// nothing else disturbed: the good device still writes
	h.clock.Add(time.Second)
	h.must(200, "POST", PathJSON+"?k=k1&i=good", `{"t":2}`, nil)
	if v := h.value("smartcity", "Sensor", "Sensor:good", "t"); v != 2.0 {
		t.Errorf("t = %v", v)
	}
}

// TestFloodFromOneDevice: one device above its rate limit gets 429 while
// another device still gets through.
func TestFloodFromOneDevice(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RateLimit = RateConfig{PerSecond: 5, Burst: 5} })
	hd := h.fiware("smartcity", "/")
	h.must(200, "POST", PathServices, `{"services":[{"apikey":"k1","resource":"/iot/json","entity_type":"Sensor"}]}`, hd)
	var ok, limited int
	for i := 0; i < 50; i++ {
		code, _ := h.raw("POST", PathJSON+"?k=k1&i=noisy", fmt.Sprintf(`{"n":%d}`, i), nil)
		switch code {
		case 200:
			ok++
		case 429:
			limited++
		default:
			t.Fatalf("flood: status %d", code)
		}
	}
	if ok != 5 || limited != 45 {
		t.Errorf("flood: %d accepted, %d limited; want 5 and 45 (burst 5, clock stopped)", ok, limited)
	}
	m := h.wantError(429, NameTooManyRequests, "POST", PathJSON+"?k=k1&i=noisy", `{"n":1}`, nil)
	t.Logf("429: %v", m["message"])
	// another device is not affected
	h.must(200, "POST", PathJSON+"?k=k1&i=quiet", `{"n":1}`, nil)
	// a second later the noisy device has 5 more
	h.clock.Add(time.Second)
	for i := 0; i < 5; i++ {
		h.must(200, "POST", PathJSON+"?k=k1&i=noisy", `{"n":2}`, nil)
	}
	h.wantError(429, NameTooManyRequests, "POST", PathJSON+"?k=k1&i=noisy", `{"n":1}`, nil)
	if st := h.svc.Stats(); st.Limited != 47 {
		t.Errorf("limited = %d, want 47", st.Limited)
	}
}

// TestDeviceTokens: rotated and revoked one device at a time.
func TestDeviceTokens(t *testing.T) {
	h := newHarness(t, nil)
	hd := h.fiware("smartcity", "/")
	h.must(200, "POST", PathServices, `{"services":[{"apikey":"k1","resource":"/iot/json","entity_type":"Kit"}]}`, hd)
	h.must(200, "POST", PathDevices, `{"devices":[{"device_id":"kit1"},{"device_id":"kit2"}]}`, hd)
	t1 := h.must(201, "POST", PathDevices+"/kit1/token", nil, hd)["token"].(string)
	t2 := h.must(201, "POST", PathDevices+"/kit2/token", nil, hd)["token"].(string)
	if len(t1) != 64 || t1 == t2 {
		t.Fatalf("tokens %q %q", t1, t2)
	}
	if d := h.must(200, "GET", PathDevices+"/kit1", nil, hd); d["token_created"] == nil || strings.Contains(fmt.Sprint(d), t1) {
		t.Errorf("device shows %v (want token_created, never the token)", d)
	}
	// stored hashed: the token is nowhere in the store
	doc := h.doc(SystemLayer, DevicesCollection, "smartcity|kit1")
	if strings.Contains(fmt.Sprint(doc), t1) || doc["tokenHash"] != hashToken(t1) {
		t.Errorf("stored device %v", doc)
	}
	tok := func(s string) http.Header { return http.Header{HeaderDeviceToken: {s}} }
	h.wantError(401, NameUnauthorized, "POST", PathJSON+"?k=k1&i=kit1", `{"pm":1}`, nil)
	h.wantError(401, NameUnauthorized, "POST", PathJSON+"?k=k1&i=kit1", `{"pm":1}`, tok(t2))
	h.must(200, "POST", PathJSON+"?k=k1&i=kit1", `{"pm":1}`, tok(t1))

	// rotate kit1: the old token stops working, kit2's does not
	n1 := h.must(201, "POST", PathDevices+"/kit1/token", nil, hd)["token"].(string)
	h.clock.Add(time.Second)
	h.wantError(401, NameUnauthorized, "POST", PathJSON+"?k=k1&i=kit1", `{"pm":2}`, tok(t1))
	h.must(200, "POST", PathJSON+"?k=k1&i=kit1", `{"pm":2}`, tok(n1))
	h.must(200, "POST", PathJSON+"?k=k1&i=kit2", `{"pm":2}`, tok(t2))

	// revoke kit2's token: kit2 writes without one (apikey only), kit1 still needs its own
	h.must(200, "DELETE", PathDevices+"/kit2/token", nil, hd)
	h.clock.Add(time.Second)
	h.must(200, "POST", PathJSON+"?k=k1&i=kit2", `{"pm":3}`, nil)
	h.wantError(401, NameUnauthorized, "POST", PathJSON+"?k=k1&i=kit1", `{"pm":3}`, nil)
	h.wantError(404, NameDeviceNotFound, "POST", PathDevices+"/nope/token", nil, hd)
	if d := h.must(200, "GET", PathDevices+"/kit2", nil, hd); d["token_created"] != nil {
		t.Errorf("revoked device still shows a token: %v", d)
	}
}

// TestBadDataRules: readings go through the configured rules after the
// transformation (a range rule flags a value out of range).
func TestBadDataRules(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Rules = []baddata.Rule{{ID: "range", Match: baddata.Match{Fields: []string{"temperature"}},
			Detect:  baddata.Detect{Type: baddata.DetectRange, Min: ptr(-40.0), Max: ptr(85.0)},
			Actions: []baddata.Action{{Type: baddata.ActionFlag}}}}
	})
	hd := h.fiware("smartcity", "/")
	h.must(200, "POST", PathServices, `{"services":[{"apikey":"k1","resource":"/iot/json","entity_type":"Sensor","attributes":[{"object_id":"t","name":"temperature","expression":"t / 10"}]}]}`, hd)
	h.must(200, "POST", PathJSON+"?k=k1&i=s1", `{"t":215}`, nil)
	ms := h.doc("smartcity", "Sensor", "Sensor:s1")["measurements"].(map[string]any)
	if q := ms["temperature"].(map[string]any)["quality"]; q != 1.0 && q != 1 {
		t.Errorf("in-range quality = %v", q)
	}
	h.clock.Add(time.Second)
	h.must(200, "POST", PathJSON+"?k=k1&i=s1", `{"t":9990}`, nil)
	ms = h.doc("smartcity", "Sensor", "Sensor:s1")["measurements"].(map[string]any)
	if q := ms["temperature"].(map[string]any)["quality"]; q == 1.0 || q == 1 {
		t.Errorf("out-of-range value 999 kept good quality: %v", ms["temperature"])
	}
}

func ptr[T any](v T) *T { return &v }

// TestConcurrentDevices: many devices at once are grouped into batches and
// every reading lands.
func TestConcurrentDevices(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RateLimit = RateConfig{PerSecond: 1e9, Burst: 1e9} })
	hd := h.fiware("smartcity", "/")
	h.must(200, "POST", PathServices, `{"services":[{"apikey":"k1","resource":"/iot/json","entity_type":"Sensor","attributes":[{"object_id":"t","name":"temperature","expression":"t * 2"}]}]}`, hd)
	var wg sync.WaitGroup
	errs := make(chan string, 400)
	for d := 0; d < 20; d++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				code, b := h.raw("POST", fmt.Sprintf("%s?k=k1&i=dev%d", PathJSON, d), fmt.Sprintf(`{"t":%d}`, i), nil)
				if code != 200 {
					errs <- fmt.Sprintf("dev%d: %d %s", d, code, b)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for d := 0; d < 20; d++ {
		if v := h.value("smartcity", "Sensor", fmt.Sprintf("Sensor:dev%d", d), "temperature"); v != 38.0 {
			t.Errorf("dev%d temperature = %v, want 38", d, v)
		}
	}
	if st := h.svc.Stats(); st.Readings != 400 || st.Updates != 400 {
		t.Errorf("stats %+v", st)
	}
}
