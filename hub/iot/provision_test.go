package iot

import (
	"net/http"
	"testing"
	"time"
)

// The seed's config group example (Create config group POST /iot/services),
// replayed as it is: the legacy "type", trust, cbHost, commands and lazy
// attributes are kept.
const seedGroup = `{"services":[{"resource":"/deviceTest","apikey":"801230BJKL23Y9090DSFL123HJK09H324HV8732","type":"Light",
 "trust":"8970A9078A803H3BL98PINEQRW8342HBAMS","cbHost":"http://orion:1026","commands":[{"name":"wheel1","type":"Wheel"}],
 "attributes":[{"name":"luminescence","type":"Integer","metadata":{"unitCode":{"type":"Text","value":"CAL"}}}],
 "lazy":[{"name":"status","type":"Boolean"}]}]}`

func TestConfigGroups(t *testing.T) {
	h := newHarness(t, nil)
	hd := h.fiware("smart_gondor", "/gardens")
	h.must(200, "POST", PathServices, seedGroup, hd)

	got := h.must(200, "GET", PathServices, nil, hd)
	if got["count"] != 1.0 {
		t.Fatalf("GET /iot/services: %v", got)
	}
	g := got["services"].([]any)[0].(map[string]any)
	for k, want := range map[string]any{"entity_type": "Light", "apikey": "801230BJKL23Y9090DSFL123HJK09H324HV8732", "resource": "/deviceTest",
		"service": "smart_gondor", "subservice": "/gardens", "cbHost": "http://orion:1026"} {
		if g[k] != want {
			t.Errorf("group %s = %v, want %v", k, g[k], want)
		}
	}
	if _, ok := g["type"]; ok {
		t.Errorf("legacy type kept beside entity_type: %v", g)
	}
	// another service path does not see it; the wildcard does
	if got := h.must(200, "GET", PathServices, nil, h.fiware("smart_gondor", "/other")); got["count"] != 0.0 {
		t.Errorf("other service path sees %v", got)
	}
	if got := h.must(200, "GET", PathServices, nil, h.fiware("smart_gondor", "/*")); got["count"] != 1.0 {
		t.Errorf("wildcard sees %v", got)
	}

	m := h.wantError(409, NameDuplicateGroup, "POST", PathServices, seedGroup, hd)
	if want := "A device configuration already exists for resource /deviceTest and API Key 801230BJKL23Y9090DSFL123HJK09H324HV8732"; m["message"] != want {
		t.Errorf("duplicate message %q, want %q", m["message"], want)
	}
	h.wantError(400, NameMissingHeaders, "GET", PathServices, nil, h.fiware("", "/gardens"))
	h.wantError(400, NameMissingHeaders, "GET", PathServices, nil, h.fiware("smart_gondor", ""))

	// PUT: a partial update
	q := "?resource=/deviceTest&apikey=801230BJKL23Y9090DSFL123HJK09H324HV8732"
	up := h.must(200, "PUT", PathServices+q, `{"trust":"new-trust","cbHost":"http://orion:1027"}`, hd)
	if up["trust"] != "new-trust" || up["entity_type"] != "Light" || up["cbHost"] != "http://orion:1027" {
		t.Errorf("PUT answer %v", up)
	}
	h.wantError(404, NameGroupNotFound, "PUT", PathServices+"?resource=/deviceTest&apikey=nope", `{"trust":"x"}`, hd)
	h.wantError(400, NameMandatoryParams, "PUT", PathServices+"?resource=/deviceTest", `{"trust":"x"}`, hd)
	h.wantError(400, NameWrongSyntax, "PUT", PathServices+q, `{"entity_type":"Bad_Type"}`, hd)

	h.must(200, "DELETE", PathServices+q, nil, hd)
	h.wantError(404, NameGroupNotFound, "DELETE", PathServices+q, nil, hd)
	if got := h.must(200, "GET", PathServices, nil, hd); got["count"] != 0.0 {
		t.Errorf("after DELETE: %v", got)
	}
}

func TestConfigGroupBadInput(t *testing.T) {
	h := newHarness(t, nil)
	hd := h.fiware("smartcity", "/")
	for _, tc := range []struct {
		name, body, wantName string
	}{
		{"not JSON", `{"services":[`, NameWrongSyntax},
		{"no services", `{}`, NameWrongSyntax},
		{"empty services", `{"services":[]}`, NameWrongSyntax},
		{"devices in a group body", `{"devices":[{"device_id":"d"}],"services":[{"apikey":"a","resource":"/iot/json","entity_type":"T"}]}`, NameWrongSyntax},
		{"unknown field", `{"services":[{"apikey":"a","resource":"/iot/json","entity_type":"T","colour":"red"}]}`, NameWrongSyntax},
		{"no apikey", `{"services":[{"resource":"/iot/json","entity_type":"T"}]}`, NameWrongSyntax},
		{"no entity_type", `{"services":[{"apikey":"a","resource":"/iot/json"}]}`, NameWrongSyntax},
		{"type with '_'", `{"services":[{"apikey":"a","resource":"/iot/json","entity_type":"other_layer"}]}`, NameWrongSyntax},
		{"bad expression", `{"services":[{"apikey":"a","resource":"/iot/json","entity_type":"T","attributes":[{"object_id":"t","name":"t2","expression":"t *"}]}]}`, NameWrongSyntax},
		{"legacy expressions", `{"services":[{"apikey":"a","resource":"/iot/json","entity_type":"T","expressionLanguage":"legacy"}]}`, NameUnsupportedLanguage},
		{"apikey with /", `{"services":[{"apikey":"a/b","resource":"/iot/json","entity_type":"T"}]}`, NameWrongSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			h.wantError(400, tc.wantName, "POST", PathServices, tc.body, hd)
		})
	}
	h.t = t
	h.wantError(400, NameWrongSyntax, "POST", PathServices, `{"services":[{"apikey":"a","resource":"/iot/json","entity_type":"T"}]}`, h.fiware("system", "/"))
	h.wantError(400, NameWrongSyntax, "POST", PathServices, `{"services":[{"apikey":"a","resource":"/iot/json","entity_type":"T"}]}`, h.fiware("smartcity", "/*"))
}

// The seed's device example (Create device POST /iot/devices) and its
// multi-entity example.
const (
	seedDevice      = `{"devices":[{"device_id":"DevID1","entity_name":"urn:ngsi-ld:Device:TheDevice1","entity_type":"Device","attributes":[{"object_id":"t","name":"temperature","type":"Float"},{"object_id":"h","name":"humidity","type":"Float"}]}]}`
	seedMultiEntity = `{"devices":[{"protocol":"IoTA-UL","entity_name":"urn:ngsi-ld:Device:contador12","entity_type":"multientity","attributes":[
 {"object_id":"cont1","name":"vol","type":"Text","entity_name":"urn:ngsi-ld:Device:WaterMeterSoria01","entity_type":"WaterMeter"},
 {"object_id":"cont2","name":"vol","type":"Text","entity_name":"urn:ngsi-ld:Device:WaterMeterSoria02","entity_type":"WaterMeter"},
 {"object_id":"cont3","name":"vol","type":"Text","entity_name":"urn:ngsi-ld:Device:WaterMeterSoria03","entity_type":"WaterMeter"}],"device_id":"contador12"}]}`
)

func TestDevices(t *testing.T) {
	h := newHarness(t, nil)
	hd := h.fiware("smartcity", "/")
	h.wantError(404, NameDeviceNotFound, "GET", PathDevices, nil, hd) // the seed: 404 when there is none
	h.must(200, "POST", PathDevices, seedDevice, hd)
	h.must(200, "POST", PathDevices, seedMultiEntity, hd)

	list := h.must(200, "GET", PathDevices, nil, hd)
	if list["count"] != 2.0 {
		t.Fatalf("GET /iot/devices: %v", list)
	}
	if page := h.must(200, "GET", PathDevices+"?offset=1&limit=1", nil, hd); page["count"] != 2.0 || len(page["devices"].([]any)) != 1 ||
		page["devices"].([]any)[0].(map[string]any)["device_id"] != "contador12" {
		t.Errorf("page: %v", page)
	}
	d := h.must(200, "GET", PathDevices+"/DevID1", nil, hd)
	if d["entity_name"] != "urn:ngsi-ld:Device:TheDevice1" || d["service"] != "smartcity" || d["service_path"] != "/" || len(d["attributes"].([]any)) != 2 {
		t.Errorf("GET device: %v", d)
	}

	m := h.wantError(409, NameDuplicateDeviceID, "POST", PathDevices, seedDevice, hd)
	if m["message"] != "A device with the same pair (Service, DeviceId) was found:DevID1" {
		t.Errorf("duplicate message %q", m["message"])
	}
	// the same id in another service is another device
	h.must(200, "POST", PathDevices, seedDevice, h.fiware("othercity", "/"))
	m = h.wantError(404, NameDeviceNotFound, "GET", PathDevices+"/nope", nil, hd)
	if m["message"] != "No device was found with id:nope" {
		t.Errorf("not found message %q", m["message"])
	}
	h.wantError(404, NameDeviceNotFound, "GET", PathDevices+"/DevID1", nil, h.fiware("smartcity", "/elsewhere"))
	h.wantError(400, NameWrongSyntax, "POST", PathDevices, `{"devices":[{"entity_type":"T"}]}`, hd)
	h.wantError(400, NameMissingAttributes, "POST", PathDevices, `{"devices":[{"device_id":"x"}]}`, hd)
	h.wantError(400, NameWrongSyntax, "POST", PathDevices, `{"devices":[{"device_id":"x","entity_type":"T","attributes":[{"name":"a.b"}]}]}`, hd)

	up := h.must(200, "PUT", PathDevices+"/DevID1", `{"attributes":[{"object_id":"t","name":"temperature","type":"Float","expression":"t + 1"}]}`, hd)
	if len(up["attributes"].([]any)) != 1 || up["entity_name"] != "urn:ngsi-ld:Device:TheDevice1" {
		t.Errorf("PUT answer %v", up)
	}
	h.wantError(400, NameWrongSyntax, "PUT", PathDevices+"/DevID1", `{"entity_name":"renamed"}`, hd)
	h.wantError(404, NameDeviceNotFound, "PUT", PathDevices+"/nope", `{"timezone":"UTC"}`, hd)

	h.must(200, "DELETE", PathDevices+"/DevID1", nil, hd)
	h.wantError(404, NameDeviceNotFound, "DELETE", PathDevices+"/DevID1", nil, hd)
	h.must(200, "GET", PathDevices+"/DevID1", nil, h.fiware("othercity", "/"))

	// a device without entity_type takes its group's
	h.must(200, "POST", PathServices, `{"services":[{"apikey":"k1","resource":"/iot/json","entity_type":"Sensor"}]}`, hd)
	h.must(200, "POST", PathDevices, `{"devices":[{"device_id":"s1"}]}`, hd)
	if d := h.must(200, "GET", PathDevices+"/s1", nil, hd); d["entity_type"] != "Sensor" || d["entity_name"] != "Sensor:s1" {
		t.Errorf("device from group: %v", d)
	}
}

func TestProvisioningSurvivesRestart(t *testing.T) {
	h := newHarness(t, nil)
	hd := h.fiware("smartcity", "/")
	h.must(200, "POST", PathServices, `{"services":[{"apikey":"k1","resource":"/iot/json","entity_type":"Sensor","attributes":[{"object_id":"t","name":"temperature","expression":"t * 2"}]}]}`, hd)
	h.must(200, "POST", PathDevices, seedMultiEntity, hd)
	tok := h.must(201, "POST", PathDevices+"/contador12/token", nil, hd)["token"].(string)
	h.must(200, "POST", PathJSON+"?k=k1&i=s1", `{"t":2}`, nil)

	h.start(t)
	if got := h.must(200, "GET", PathServices, nil, hd); got["count"] != 1.0 {
		t.Errorf("groups after restart: %v", got)
	}
	if got := h.must(200, "GET", PathDevices, nil, hd); got["count"] != 2.0 { // contador12 and the autoprovisioned s1
		t.Errorf("devices after restart: %v", got)
	}
	h.wantError(401, NameUnauthorized, "POST", PathJSON+"?k=k1&i=contador12", `{"cont1":1}`, nil)
	h.must(200, "POST", PathJSON+"?k=k1&i=contador12", `{"cont1":1}`, http.Header{HeaderDeviceToken: {tok}})
	h.clock.Add(time.Second)
	h.must(200, "POST", PathJSON+"?k=k1&i=s1", `{"t":5}`, nil)
	if v := h.value("smartcity", "Sensor", "Sensor:s1", "temperature"); v != 10.0 {
		t.Errorf("temperature after restart = %v, want 10", v)
	}
	if got := h.points("smartcity", "Sensor", "Sensor:s1", "measurements.temperature"); len(got) != 2 || got[0] != 4 || got[1] != 10 {
		t.Errorf("history after restart = %v, want [4 10] (the sequence went on)", got)
	}
}

func TestProvisioningAuth(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	for _, u := range []struct {
		name  string
		grant map[string]authPerm
	}{{"reader", map[string]authPerm{Grant: permRead}}, {"nobody", nil}} {
		if _, err := h.auth.AddUser(ctx, newUser(u.name, u.grant)); err != nil {
			t.Fatal(err)
		}
	}
	login := func(name string) http.Header {
		s, err := h.auth.Login(ctx, name, "password-1234")
		if err != nil {
			t.Fatal(err)
		}
		return http.Header{"X-User-Id": {name}, "X-Auth-Token": {s.Token}, HeaderService: {"smartcity"}, HeaderServicePath: {"/"}}
	}
	h.wantError(401, NameUnauthorized, "GET", PathServices, nil, http.Header{HeaderService: {"smartcity"}, HeaderServicePath: {"/"}})
	reader, nobody := login("reader"), login("nobody")
	h.must(200, "GET", PathServices, nil, reader)
	h.wantError(403, NameAccessForbidden, "POST", PathServices, `{"services":[{"apikey":"a","resource":"/iot/json","entity_type":"T"}]}`, reader)
	h.wantError(403, NameAccessForbidden, "GET", PathServices, nil, nobody)
	// /iot/about needs no credentials
	if got := h.must(200, "GET", PathAbout, nil, nil); got["libVersion"] != "3.3.0" || got["baseRoot"] != "/" || got["port"] != "8080" || got["version"] != "test" {
		t.Errorf("/iot/about: %v", got)
	}
}

// TestDeleteGroupWithDevices: DELETE /iot/services?…&device=true removes
// the group's devices and no other group's.
func TestDeleteGroupWithDevices(t *testing.T) {
	h := newHarness(t, nil)
	hd := h.fiware("smartcity", "/")
	h.must(200, "POST", PathServices, `{"services":[{"apikey":"k1","resource":"/iot/json","entity_type":"A"},{"apikey":"k2","resource":"/iot/json","entity_type":"B"}]}`, hd)
	h.must(200, "POST", PathJSON+"?k=k1&i=a1", `{"x":1}`, nil)
	h.must(200, "POST", PathJSON+"?k=k2&i=b1", `{"x":1}`, nil)
	h.must(200, "POST", PathDevices, `{"devices":[{"device_id":"free","entity_type":"C"}]}`, hd)
	h.must(200, "DELETE", PathServices+"?resource=/iot/json&apikey=k1&device=true", nil, hd)
	h.wantError(404, NameDeviceNotFound, "GET", PathDevices+"/a1", nil, hd)
	h.must(200, "GET", PathDevices+"/b1", nil, hd)
	h.must(200, "GET", PathDevices+"/free", nil, hd) // another group remains for devices without apikey
	h.wantError(404, NameGroupNotFound, "POST", PathJSON+"?k=k1&i=a1", `{"x":2}`, nil)
}
