package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/alerts"
	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
)

// DDP while a hub node is lost (docs/scaling.md, "What replicas share"):
// three hub processes in one NATS cluster share MongoDB and
// VictoriaMetrics; two agents write without pause; a DDP client is
// subscribed to site_meters.all on each hub. The hub leading edge1's
// ingest consumer is killed with SIGKILL. The clients on the survivors keep
// receiving changes of every meter; the client of the killed hub does what
// a DDP client does (Meteor's reconnect): it dials the next URL of its
// list, resumes its login with the token the killed hub issued, subscribes
// again, gets a fresh snapshot and then the live changes; every client
// ends with the store's documents. The shared state beside the data holds
// too: the alert rules' lease bucket has the ingest streams' 3 replicas and
// a survivor holds and renews the lease after the kill, and an IoT config
// group provisioned on the lost hub takes readings on the survivors.

// ddpMeasurement is one measurement of a document as DDP sends it (EJSON:
// the timestamp is {"$date": ms}).
type ddpMeasurement struct {
	Value     float64 `json:"value"`
	Quality   float64 `json:"quality"`
	Timestamp struct {
		Date int64 `json:"$date"`
	} `json:"timestamp"`
}

// ddpSession is what a client saw of one connection to one hub.
type ddpSession struct {
	url         string
	connectedAt time.Time
	loginType   string    // the login result's type: password or resume
	snapshot    int       // documents added before ready
	readyAt     time.Time // zero until the subscription is ready
	endedAt     time.Time
	endErr      error
}

// ddpFailoverClient is a DDP client over raw WebSocket (the frames of
// TestClusterDDPLiveDataAcrossHubs) that, like Meteor's client, reconnects
// when its connection drops: to the next hub of its list, resuming its
// login with its token and subscribing again. It keeps the documents of
// site_meters as a merge of the data messages it received.
type ddpFailoverClient struct {
	name string
	urls []string // ws://…/websocket of the hubs, its own first

	mu sync.Mutex
	// token is the login token: the password login's, or the one given
	token    string
	sessions []*ddpSession
	docs     map[string]map[string]any // site_meters documents, by _id
	lastData map[string]time.Time      // when the last added/changed of each document arrived
	maxGap   map[string]time.Duration  // the longest silence per document since resetGaps
	changes  map[string]int            // changed messages per document since resetGaps
	// firstAfter is, per document, when the first data message carrying
	// a pollCount measured after since arrived
	since      time.Time
	firstAfter map[string]time.Time
	err        error // a protocol error (the test fails on it)
}

// newDDPFailoverClient returns a client of urls, logging in with token
// (resume) or, when token is "", with the admin's password.
func newDDPFailoverClient(name string, urls []string, token string) *ddpFailoverClient {
	return &ddpFailoverClient{name: name, urls: urls, token: token, docs: map[string]map[string]any{},
		lastData: map[string]time.Time{}, maxGap: map[string]time.Duration{}, changes: map[string]int{},
		firstAfter: map[string]time.Time{}}
}

// run connects and reconnects until ctx ends.
func (c *ddpFailoverClient) run(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		url := c.urls[i%len(c.urls)]
		err := c.session(ctx, url)
		if ctx.Err() != nil {
			return
		}
		var pe *ddpProtocolError
		if errors.As(err, &pe) {
			c.fail(err)
			return
		}
		if i%len(c.urls) == len(c.urls)-1 {
			// every hub tried: wait a little before the next round
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}

// ddpProtocolError is an answer a correct hub never gives: the client
// stops and the test fails.
type ddpProtocolError struct{ msg string }

func (e *ddpProtocolError) Error() string { return e.msg }

func (c *ddpFailoverClient) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = fmt.Errorf("DDP client %s: %w", c.name, err)
	}
}

// session runs one connection: connect, login, subscribe, then data until
// the connection ends (dial errors and drops are returned as they are).
func (c *ddpFailoverClient) session(ctx context.Context, url string) error {
	d := websocket.Dialer{HandshakeTimeout: 2 * time.Second}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	ws, _, err := d.DialContext(dctx, url, nil)
	cancel()
	if err != nil {
		return err
	}
	defer ws.Close()
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()
	s := &ddpSession{url: url, connectedAt: time.Now()}
	c.mu.Lock()
	c.sessions = append(c.sessions, s)
	token := c.token
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		s.endedAt = time.Now()
		c.mu.Unlock()
	}()

	// read returns the next message other than ping and server_id
	read := func(timeout time.Duration) (map[string]any, error) {
		for {
			_ = ws.SetReadDeadline(time.Now().Add(timeout))
			var m map[string]any
			if err := ws.ReadJSON(&m); err != nil {
				c.mu.Lock()
				s.endErr = err
				c.mu.Unlock()
				return nil, err
			}
			switch m["msg"] {
			case "ping":
				_ = ws.WriteJSON(map[string]any{"msg": "pong"})
				continue
			case nil: // server_id
				continue
			}
			return m, nil
		}
	}
	if err := ws.WriteJSON(map[string]any{"msg": "connect", "version": "1", "support": []string{"1"}}); err != nil {
		return err
	}
	m, err := read(5 * time.Second)
	if err != nil {
		return err
	}
	if m["msg"] != "connected" {
		return &ddpProtocolError{fmt.Sprintf("on %s: got %v, want connected", url, m)}
	}
	login := map[string]any{"resume": token}
	if token == "" {
		login = map[string]any{"user": map[string]any{"username": "admin"}, "password": "e2e-admin-password"}
	}
	if err := ws.WriteJSON(map[string]any{"msg": "method", "id": "login", "method": "login", "params": []any{login}}); err != nil {
		return err
	}
	// the result and "updated" come in either order
	for got := 0; got < 2; got++ {
		if m, err = read(10 * time.Second); err != nil {
			return err
		}
		switch m["msg"] {
		case "result":
			res, _ := m["result"].(map[string]any)
			if m["error"] != nil || res == nil {
				return &ddpProtocolError{fmt.Sprintf("login (%v) on %s refused: %v", slices.Sorted(maps.Keys(login)), url, m)}
			}
			tok, _ := res["token"].(string)
			typ, _ := res["type"].(string)
			c.mu.Lock()
			if c.token == "" {
				c.token = tok
			}
			s.loginType = typ
			c.mu.Unlock()
		case "updated":
		default:
			return &ddpProtocolError{fmt.Sprintf("on %s, after login: got %v, want result and updated", url, m)}
		}
	}
	if err := ws.WriteJSON(map[string]any{"msg": "sub", "id": "meters", "name": "site_meters.all"}); err != nil {
		return err
	}
	// a fresh snapshot: the documents this connection adds replace what
	// the client had
	c.mu.Lock()
	clear(c.docs)
	c.mu.Unlock()
	for {
		m, err := read(10 * time.Second)
		if err != nil {
			return err
		}
		if err := c.apply(s, m); err != nil {
			return &ddpProtocolError{fmt.Sprintf("on %s: %v", url, err)}
		}
	}
}

// apply merges a data message into the client's documents.
func (c *ddpFailoverClient) apply(s *ddpSession, m map[string]any) error {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m["msg"] {
	case "ready":
		s.readyAt = now
		return nil
	case "nosub", "error":
		return fmt.Errorf("got %v", m)
	case "added", "changed", "removed":
	default:
		return nil // results of other methods, updated
	}
	if m["collection"] != "site_meters" {
		return fmt.Errorf("data of collection %v, subscribed to site_meters only", m["collection"])
	}
	id, _ := m["id"].(string)
	fields, _ := m["fields"].(map[string]any)
	switch m["msg"] {
	case "added":
		c.docs[id] = fields
		if s.readyAt.IsZero() {
			s.snapshot++
		}
	case "changed":
		doc := c.docs[id]
		if doc == nil {
			return fmt.Errorf("changed of %s, which was not added", id)
		}
		for k, v := range fields {
			doc[k] = v
		}
		cleared, _ := m["cleared"].([]any)
		for _, k := range cleared {
			if name, ok := k.(string); ok {
				delete(doc, name)
			}
		}
		c.changes[id]++
	case "removed":
		delete(c.docs, id)
		return nil
	}
	if last, ok := c.lastData[id]; ok && now.Sub(last) > c.maxGap[id] {
		c.maxGap[id] = now.Sub(last)
	}
	c.lastData[id] = now
	if pc, ok := c.measurement(id, "pollCount"); ok && !c.since.IsZero() && time.UnixMilli(pc.Timestamp.Date).After(c.since) {
		if _, seen := c.firstAfter[id]; !seen {
			c.firstAfter[id] = now
		}
	}
	return nil
}

// measurement reads measurements.<name> of a document; the caller holds mu.
func (c *ddpFailoverClient) measurement(id, name string) (ddpMeasurement, bool) {
	var out ddpMeasurement
	ms, _ := c.docs[id]["measurements"].(map[string]any)
	raw, ok := ms[name]
	if !ok {
		return out, false
	}
	data, err := json.Marshal(raw)
	if err != nil || json.Unmarshal(data, &out) != nil {
		return out, false
	}
	return out, true
}

// resetGaps starts measuring silences and counting changes again, and
// notes since: firstAfter records the first reading measured after it.
func (c *ddpFailoverClient) resetGaps(since time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.maxGap)
	clear(c.changes)
	clear(c.firstAfter)
	c.since = since
	for id := range c.lastData {
		c.lastData[id] = time.Now()
	}
}

// view returns what the client knows of a document's pollCount
// measurement, the number of changes and the longest silence since
// resetGaps, and when a reading measured after since first arrived.
func (c *ddpFailoverClient) view(id string) (m ddpMeasurement, ok bool, changes int, gap time.Duration, first time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok = c.measurement(id, "pollCount")
	return m, ok, c.changes[id], c.maxGap[id], c.firstAfter[id]
}

// state returns the client's sessions (copies), its token and its error.
func (c *ddpFailoverClient) state() ([]ddpSession, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ddpSession, len(c.sessions))
	for i, s := range c.sessions {
		out[i] = *s
	}
	return out, c.token, c.err
}

// live reports whether the client's current session is subscribed and
// has every document of ids.
func (c *ddpFailoverClient) live(ids []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sessions) == 0 {
		return false
	}
	s := c.sessions[len(c.sessions)-1]
	if s.readyAt.IsZero() || !s.endedAt.IsZero() {
		return false
	}
	for _, id := range ids {
		if c.docs[id] == nil {
			return false
		}
	}
	return true
}

// opsJetStream connects to a hub node's NATS server as the test config's
// user ops, closed with the test.
func opsJetStream(t *testing.T, natsPort int) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", natsPort), nats.UserInfo("ops", "e2e-ops-secret"))
	if err != nil {
		t.Fatalf("connect to NATS as ops: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// alertsLeaseHolder returns the holder named by the alerts lease and the
// entry's revision ("" when it cannot be read or nobody holds it).
func alertsLeaseHolder(js jetstream.JetStream) (string, uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "KV_"+alerts.LeaseBucket("e2e"))
	if err != nil {
		return "", 0
	}
	m, err := st.GetLastMsgForSubject(ctx, "$KV."+alerts.LeaseBucket("e2e")+".rules")
	if err != nil || m.Header.Get("KV-Operation") != "" {
		return "", 0
	}
	return string(m.Data), m.Sequence
}

// postAs posts a JSON body with headers and returns the status.
func postAs(t *testing.T, url string, headers map[string]string, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	var resp map[string]any
	code, err := doJSON(http.DefaultClient, req, &resp)
	if err != nil && code == 0 {
		t.Fatalf("POST %s: %v", url, err)
	}
	if code != 200 {
		t.Logf("POST %s: status %d, %v", url, code, resp)
	}
	return code
}

// wsURL is the raw DDP endpoint of a hub node.
func (n *hubNode) wsURL() string { return fmt.Sprintf("ws://127.0.0.1:%d/websocket", n.httpPort) }

func TestClusterDDPHubKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test runs three hubs, two agents, MongoDB and VictoriaMetrics; skipped with -short")
	}
	mongoURI, kind := mongotest.URI(t)
	vm := victoriaMetrics(t)
	dir := t.TempDir()
	db := mongotest.DatabaseName()
	t.Logf("store: %s (%s), database %s; history: VictoriaMetrics at %s", mongoURI, kind, db, vm)

	nodes := startHubCluster(t, dir, 3, mongoURI, db, vm, `
ingest: {replicas: 3}
edges: [{id: edge1, password: e2e-secret-1}, {id: edge2, password: e2e-secret-2}]
services: {alerts: {enabled: true, tick: 500ms, lease: 3s}}
iot: {enabled: true}
`)
	// the alert rules' lease bucket has the ingest streams' 3 replicas
	ops := opsJetStream(t, nodes[1].natsPort)
	var leaseStream *jetstream.StreamInfo
	eventually(t, 60*time.Second, 200*time.Millisecond, "the alerts lease bucket", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := ops.Stream(ctx, "KV_"+alerts.LeaseBucket("e2e"))
		if err != nil {
			return false
		}
		leaseStream = st.CachedInfo()
		return true
	})
	if leaseStream.Config.Replicas != 3 {
		t.Fatalf("the alerts lease bucket has %d replicas, want ingest.replicas (3)", leaseStream.Config.Replicas)
	}

	// the node to lose leads edge1's consumer and holds edge1's leaf link
	leader := consumerLeader(t, nodes[1].natsPort, "INGEST_edge1", "applier-edge1")
	for i, n := range nodes {
		if n.name == leader {
			nodes = append(nodes[i:], nodes[:i]...)
			break
		}
	}
	if nodes[0].name != leader {
		t.Fatalf("edge1's consumer is led by %q, not a hub node", leader)
	}
	lost, survivors := nodes[0], nodes[1:]
	var leafURLs []string
	for _, n := range nodes {
		leafURLs = append(leafURLs, fmt.Sprintf("nats-leaf://127.0.0.1:%d", n.leafPort))
	}
	t.Logf("%s leads edge1's consumer and is edge1's leaf hub; edge2 attaches to %s", lost.name, survivors[0].name)

	edges := []*clusterEdge{{id: "edge1", doc: "M1"}, {id: "edge2", doc: "M2"}}
	var meters []string
	for i, e := range edges {
		e.modbusPort = freePort(t)
		settings := writeFile(t, dir, e.id+"-settings.json", meterSettings(e.modbusPort, e.doc))
		e.sim = start(t, "gridedge", "sim", "--settings", settings, "--listen", fmt.Sprintf("tcp://127.0.0.1:%d", e.modbusPort), "--log-level", "warn")
		others := append(append([]string{}, leafURLs[:i]...), leafURLs[i+1:]...)
		cfg := writeFile(t, dir, e.id+".yaml", fmt.Sprintf(`
edge: {id: %s}
domain: e2e
hub: {url: %q, urls: [%s], password: e2e-secret-%d}
dataDir: %s
nats: {listen: "off"}
settingsFile: %s
forwarder: {ackTimeout: 2s}
heartbeat: {interval: 500ms}
logLevel: info
`, e.id, leafURLs[i], strings.Join(quoted(others), ", "), i+1, filepath.Join(dir, e.id), filepath.Base(settings)))
		e.agent = start(t, "gridedge-agent", "--config", cfg)
		meters = append(meters, e.docs()...)
	}
	rest := &stack{httpPort: survivors[0].httpPort}
	rest.login(t)
	leaseLeader := ""
	if leaseStream.Cluster != nil {
		leaseLeader = leaseStream.Cluster.Leader
	}
	t.Logf("the alerts lease bucket (R3) is led by %s", leaseLeader)

	// an IoT config group provisioned on the hub to lose (the survivors
	// read their provisioning at start, before it existed)
	iotHeaders := map[string]string{"Fiware-Service": "grid", "Fiware-ServicePath": "/"}
	for k, v := range rest.auth {
		iotHeaders[k] = v
	}
	if code := postAs(t, lost.url("/iot/services"), iotHeaders,
		`{"services":[{"apikey":"dk","resource":"/iot/json","entity_type":"Sensor"}]}`); code != 200 {
		t.Fatalf("POST /iot/services on %s: status %d", lost.name, code)
	}
	for _, id := range meters {
		eventually(t, 60*time.Second, 100*time.Millisecond, id+"'s readings in REST", func() bool {
			v, _ := rest.measurement("meters", id, "pollCount")
			f, _ := v.(float64)
			return f > 20
		})
	}

	// one client per hub; the lost hub's client logs in there with the
	// password, the others resume with the token the lost hub issued
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	runClient := func(c *ddpFailoverClient) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(ctx)
		}()
	}
	lostClient := newDDPFailoverClient("of "+lost.name, []string{lost.wsURL(), survivors[0].wsURL(), survivors[1].wsURL()}, "")
	runClient(lostClient)
	eventually(t, 30*time.Second, 20*time.Millisecond, "the DDP client of "+lost.name+" to be live", func() bool {
		if _, _, err := lostClient.state(); err != nil {
			t.Fatal(err)
		}
		return lostClient.live(meters)
	})
	_, token, _ := lostClient.state()
	clients := []*ddpFailoverClient{lostClient}
	for i, n := range survivors {
		// their own hub first, then the other survivor
		c := newDDPFailoverClient("of "+n.name, []string{n.wsURL(), survivors[1-i].wsURL()}, token)
		runClient(c)
		clients = append(clients, c)
	}
	for _, c := range clients {
		eventually(t, 30*time.Second, 20*time.Millisecond, "the DDP client "+c.name+" to be live", func() bool {
			if _, _, err := c.state(); err != nil {
				t.Fatal(err)
			}
			return c.live(meters)
		})
	}
	time.Sleep(2 * time.Second) // under load, every client live

	before, _ := alertsLeaseHolder(ops)
	killed := time.Now()
	for _, c := range clients {
		c.resetGaps(killed)
	}
	lost.proc.kill()
	t.Logf("killed %s (SIGKILL) at %s", lost.name, killed.Format(time.RFC3339Nano))

	// every client, on the survivors or reconnected to one, gets a reading
	// of every meter measured after the kill
	recovery := map[string]time.Duration{}
	for _, c := range clients {
		for _, id := range meters {
			eventually(t, 120*time.Second, 20*time.Millisecond, "DDP client "+c.name+": a reading of "+id+" measured after the kill", func() bool {
				if _, _, err := c.state(); err != nil {
					t.Fatal(err)
				}
				_, _, _, _, first := c.view(id)
				if first.IsZero() {
					return false
				}
				recovery[c.name+" "+id] = first.Sub(killed)
				return true
			})
		}
	}
	// the lost hub's client: dropped, reconnected to a survivor with the
	// lost hub's token, fresh snapshot, then live
	sessions, _, _ := lostClient.state()
	last := sessions[len(sessions)-1]
	if last.url == lost.wsURL() || len(sessions) < 2 {
		t.Fatalf("the client of %s did not move to a survivor: sessions %+v", lost.name, sessions)
	}
	if last.loginType != "resume" {
		t.Fatalf("the client of %s logged in on %s with %q, want resume (the token %s issued)", lost.name, last.url, last.loginType, lost.name)
	}
	if last.snapshot < len(meters) {
		t.Fatalf("the client of %s got %d documents before ready on %s, want a snapshot of the %d meters", lost.name, last.snapshot, last.url, len(meters))
	}
	dropped := sessions[0].endedAt
	t.Logf("client of %s: connection dropped %v after the kill (%v), connected to %s %v after the kill, login resumed with %s's token, snapshot of %d documents ready %v after the kill",
		lost.name, dropped.Sub(killed).Round(time.Millisecond), sessions[0].endErr, last.url, last.connectedAt.Sub(killed).Round(time.Millisecond),
		lost.name, last.snapshot, last.readyAt.Sub(killed).Round(time.Millisecond))

	// then no meter stalls: every client gets changes of every meter
	time.Sleep(3 * time.Second)
	for _, c := range clients {
		c.resetGaps(time.Now())
	}
	time.Sleep(3 * time.Second)
	for _, c := range clients {
		var gaps []string
		for _, id := range meters {
			_, _, changes, gap, _ := c.view(id)
			if changes < 5 {
				t.Errorf("DDP client %s: %d changes of %s in 3 s after the failover, want live changes (at least 5)", c.name, changes, id)
			}
			gaps = append(gaps, fmt.Sprintf("%s %v", id, gap.Round(time.Millisecond)))
		}
		t.Logf("DDP client %s after the failover: longest silence per meter over 3 s: %s", c.name, strings.Join(gaps, ", "))
	}
	var worst time.Duration
	for _, c := range clients {
		var per []string
		for _, id := range meters {
			d := recovery[c.name+" "+id]
			worst = max(worst, d)
			per = append(per, fmt.Sprintf("%s %v", id, d.Round(10*time.Millisecond)))
		}
		t.Logf("DDP recovery, client %s (kill -9 to the first change of a reading measured after it): %s", c.name, strings.Join(per, ", "))
	}
	t.Logf("DDP recovery time (worst client and meter): %v", worst.Round(10*time.Millisecond))

	// the lost hub's IoT group takes readings on every survivor
	for i, n := range survivors {
		if code := postAs(t, n.url(fmt.Sprintf("/iot/json?k=dk&i=dev%d", i)), nil, fmt.Sprintf(`{"t": %d}`, 40+i)); code != 200 {
			t.Fatalf("POST /iot/json on %s with the group provisioned on %s: status %d", n.name, lost.name, code)
		}
		var resp struct {
			Data map[string]any `json:"data"`
		}
		id := fmt.Sprintf("Sensor:dev%d", i)
		if code, err := rest.get("/api/v2/grid/Sensor/"+id, &resp); err != nil || code != 200 {
			t.Fatalf("GET grid/Sensor/%s: %d, %v", id, code, err)
		}
		if ms, _ := resp.Data["measurements"].(map[string]any); ms == nil || ms["t"] == nil {
			t.Fatalf("grid/Sensor/%s after a reading on %s: %v", id, n.name, resp.Data)
		}
	}
	t.Logf("the IoT group provisioned on %s took readings on %s and %s after the kill", lost.name, survivors[0].name, survivors[1].name)

	// the alert rules' lease is held, and renewed, by a survivor (asked
	// of a survivor: the connection above may have been to the lost hub)
	ops = opsJetStream(t, survivors[0].natsPort)
	var holder string
	var rev uint64
	eventually(t, 60*time.Second, 200*time.Millisecond, "a survivor to hold and renew the alerts lease", func() bool {
		who, r := alertsLeaseHolder(ops)
		if !strings.HasPrefix(who, survivors[0].name+"/") && !strings.HasPrefix(who, survivors[1].name+"/") {
			return false
		}
		if holder == "" || who != holder {
			holder, rev = who, r
			return false
		}
		return r > rev
	})
	t.Logf("the alerts lease, held by %q before the kill (its bucket led by %s), is held and renewed by %s (checked %v after the kill)",
		before, leaseLeader, holder, time.Since(killed).Round(100*time.Millisecond))

	// stop the devices: each agent's last update is a bad-quality reading;
	// once the store has it, every client must show the store's documents
	for _, e := range edges {
		e.sim.stop(t)
	}
	want := map[string]ddpMeasurement{}
	for _, id := range meters {
		eventually(t, 120*time.Second, 100*time.Millisecond, id+"'s last (bad-quality) reading in the store", func() bool {
			q, err := rest.quality("meters", id, "pollCount")
			return err == nil && q == 0
		})
		var resp struct {
			Data struct {
				Measurements map[string]struct {
					Value     *float64  `json:"value"`
					Quality   float64   `json:"quality"`
					Timestamp time.Time `json:"timestamp"`
				} `json:"measurements"`
			} `json:"data"`
		}
		if code, err := rest.get("/api/v2/site/meters/"+id, &resp); err != nil || code != 200 {
			t.Fatalf("GET site/meters/%s: %d, %v", id, code, err)
		}
		m := resp.Data.Measurements["pollCount"]
		var w ddpMeasurement
		if m.Value != nil {
			w.Value = *m.Value
		}
		w.Quality, w.Timestamp.Date = m.Quality, m.Timestamp.UnixMilli()
		want[id] = w
	}
	for _, c := range clients {
		for _, id := range meters {
			var got ddpMeasurement
			eventually(t, 30*time.Second, 50*time.Millisecond, "DDP client "+c.name+" to show the store's "+id, func() bool {
				got, _, _, _, _ = c.view(id)
				return got == want[id]
			})
		}
	}
	t.Logf("every DDP client (%d) shows the store's pollCount (value, quality, timestamp) of the %d meters", len(clients), len(meters))
}
