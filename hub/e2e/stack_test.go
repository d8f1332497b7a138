package e2e

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stack is a hub, an edge agent and a simulator running as processes.
type stack struct {
	dir                            string
	httpPort, leafPort, modbusPort int
	hub, agent, sim                *proc
	hubArgs, agentArgs             []string
	hubEnv                         []string
	auth                           map[string]string // X-User-ID and X-Auth-Token
	proxy                          *proxy
}

// stackSettings is the SETTINGS document of the e2e stack: the seed's
// PANASONIC map plus a counter meter, polled every period seconds.
func stackSettings(modbusPort int, period float64) string {
	return fmt.Sprintf(`{
  "modbusMaps": {
    "PANASONIC": [
      {"name": "temperature", "type": "holding", "address": 1, "datatype": "16uint", "factor": 1},
      {"name": "luminance", "type": "holding", "address": 2, "datatype": "16int", "factor": 10},
      {"name": "mode", "type": "holding", "address": 3, "datatype": "16int", "translation": [[1, "COLD"], [2, "HEAT"], [3, "FAN"]]},
      {"name": "pollCount", "type": "holding", "address": 20, "datatype": "32uint"}
    ],
    "METER": [
      {"name": "counter", "type": "input", "address": 0, "datatype": "32uint"},
      {"name": "voltage", "type": "input", "address": 2, "datatype": "32float"},
      {"name": "pollCount", "type": "input", "address": 10, "datatype": "32uint"}
    ]
  },
  "modbusSlaves": [
    {"ip": "127.0.0.1", "port": %[1]d, "slaveId": 1, "map": "PANASONIC", "document": {"layer": "site", "collection": "hvac", "id": "SENSOR_ABC"}},
    {"ip": "127.0.0.1", "port": %[1]d, "slaveId": 2, "map": "METER", "document": {"layer": "site", "collection": "meters", "id": "M1"}}
  ],
  "period": %[2]g,
  "logLevel": "Info"
}`, modbusPort, period)
}

// stackOptions vary the stack.
type stackOptions struct {
	// period is the poll period in seconds.
	period float64
	// proxy puts a controllable TCP proxy on the leaf link.
	proxy bool
	// agentYAML is appended to the agent's config.
	agentYAML string
	// hubEnv is the first hub process's extra environment.
	hubEnv []string
	// hubYAML is appended to the hub's config.
	hubYAML string
}

// startStack starts simulator, hub and agent, and waits until the hub's REST
// API answers.
func startStack(t testing.TB, period float64) *stack {
	t.Helper()
	return startStackWith(t, stackOptions{period: period})
}

func startStackWith(t testing.TB, o stackOptions) *stack {
	t.Helper()
	period := o.period
	s := &stack{dir: t.TempDir(), httpPort: freePort(t), leafPort: freePort(t), modbusPort: freePort(t)}
	agentLeaf := s.leafPort
	if o.proxy {
		s.proxy = newProxy(t, fmt.Sprintf("127.0.0.1:%d", s.leafPort))
		agentLeaf = s.proxy.port()
	}
	settings := writeFile(t, s.dir, "settings.json", stackSettings(s.modbusPort, period))
	hubCfg := writeFile(t, s.dir, "hub.yaml", fmt.Sprintf(`
domain: e2e
dataDir: %s
http: {listen: "127.0.0.1:%d"}
nats: {listen: "off", leafListen: "127.0.0.1:%d"}
edges: [{id: edge1, password: e2e-secret-1}]
layers:
  - _id: site
    collections: [{name: hvac}, {name: meters}]
%s
`, filepath.Join(s.dir, "hub"), s.httpPort, s.leafPort, o.hubYAML))
	agentCfg := writeFile(t, s.dir, "agent.yaml", fmt.Sprintf(`
edge: {id: edge1}
domain: e2e
hub: {url: "nats-leaf://127.0.0.1:%d", password: e2e-secret-1}
dataDir: %s
nats: {listen: "off"}
settingsFile: settings.json
forwarder: {ackTimeout: 2s}
heartbeat: {interval: 500ms}
logLevel: info
%s
`, agentLeaf, filepath.Join(s.dir, "edge1"), o.agentYAML))
	s.sim = start(t, "gridedge", "sim", "--settings", settings, "--listen", fmt.Sprintf("tcp://127.0.0.1:%d", s.modbusPort), "--log-level", "warn")
	s.hubArgs = []string{"--config", hubCfg}
	s.agentArgs = []string{"--config", agentCfg}
	s.hubEnv = []string{adminPasswordEnv}
	s.hub = startEnv(t, append(append([]string{}, s.hubEnv...), o.hubEnv...), "gridedge-hub", s.hubArgs...)
	eventually(t, 60*time.Second, 50*time.Millisecond, "the hub's REST API", func() bool {
		var v map[string]any
		code, err := getJSON(s.url("/api/v2/health"), &v)
		return err == nil && code == 200
	})
	s.login(t)
	s.agent = start(t, "gridedge-agent", s.agentArgs...)
	return s
}

// adminPasswordEnv sets the password of the admin user the hub creates on first start.
const adminPasswordEnv = "GRIDEDGE_ADMIN_PASSWORD=e2e-admin-password"

func (s *stack) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", s.httpPort, path)
}

// login gets a token for admin; tokens are stored by the hub, so they
// survive hub restarts.
func (s *stack) login(t testing.TB) {
	t.Helper()
	body := strings.NewReader(`{"user":"admin","password":"e2e-admin-password"}`)
	resp, err := http.Post(s.url("/api/v2/login"), "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			AuthToken string `json:"authToken"`
			UserID    string `json:"userId"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Data.AuthToken == "" {
		t.Fatalf("login: status %d, %v, %+v", resp.StatusCode, err, r)
	}
	s.auth = map[string]string{"X-User-ID": r.Data.UserID, "X-Auth-Token": r.Data.AuthToken}
}

// get fetches an API path with the admin's credentials.
func (s *stack) get(path string, v any) (int, error) { return getJSONAuth(s.url(path), s.auth, v) }

// restartHub starts the hub again after it stopped.
func (s *stack) restartHub(t testing.TB) {
	t.Helper()
	s.hub = startEnv(t, s.hubEnv, "gridedge-hub", s.hubArgs...)
}

// measurement returns measurements.<name>.value of a document, or nil.
func (s *stack) measurement(col, id, name string) (any, error) {
	var resp struct {
		Status string         `json:"status"`
		Data   map[string]any `json:"data"`
	}
	code, err := s.get("/api/v2/site/"+col+"/"+id, &resp)
	if err != nil || code != 200 {
		return nil, fmt.Errorf("GET %s/%s: status %d, %v", col, id, code, err)
	}
	ms, _ := resp.Data["measurements"].(map[string]any)
	m, _ := ms[name].(map[string]any)
	if m == nil {
		return nil, nil
	}
	return m["value"], nil
}

// writeRegister writes one holding register of the simulator with a
// hand-built Modbus TCP frame (function 6), independent of our client code.
func writeRegister(t testing.TB, port int, unit byte, addr, value uint16) {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
	if err != nil {
		t.Fatalf("dial simulator: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	req := []byte{0x12, 0x34, 0, 0, 0, 6, unit, 6, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(req[8:], addr)
	binary.BigEndian.PutUint16(req[10:], value)
	if _, err := c.Write(req); err != nil {
		t.Fatalf("write request: %v", err)
	}
	resp := make([]byte, 12)
	if _, err := io.ReadFull(c, resp); err != nil {
		t.Fatalf("read response: %v", err)
	}
	if string(resp) != string(req) {
		t.Fatalf("write single register: response % x, want the echo % x", resp, req)
	}
}
