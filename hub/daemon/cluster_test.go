package daemon

import (
	"strings"
	"testing"
)

// TestClusterConfig: nats.cluster and ingest.replicas are checked together,
// naming the offending field.
func TestClusterConfig(t *testing.T) {
	const node = "nats:\n  serverName: hub1\n  cluster:\n    name: c\n    listen: 127.0.0.1:6222\n    routes: [nats://127.0.0.1:6222, nats://127.0.0.1:6223, nats://127.0.0.1:6224]\n" +
		"store: {backend: mongo, mongoURI: 'mongodb://127.0.0.1:27017'}\nhistory: {backend: remote, remote: {writeURL: 'http://127.0.0.1:8428/api/v1/write', readURL: 'http://127.0.0.1:8428'}}\n"
	cases := []struct {
		name string
		yaml string
		want []string // substrings of the error; none: valid
	}{
		{"three nodes R3", node + "ingest: {replicas: 3}\n", nil},
		{"own route not listed", strings.Replace(node, "nats://127.0.0.1:6222, ", "", 1) + "ingest: {replicas: 3}\n", nil},
		{"R4 on three nodes", node + "ingest: {replicas: 4}\n", []string{"ingest.replicas", "more than the 3 nodes"}},
		{"R3 without a cluster", "ingest: {replicas: 3}\n", []string{"ingest.replicas", "needs a cluster"}},
		{"negative", "ingest: {replicas: -1}\n", []string{"ingest.replicas", "not a replica count"}},
		{"default server name", strings.Replace(node, "  serverName: hub1\n", "", 1), []string{"nats.serverName", "unique"}},
		{"bolt store", strings.Replace(node, "backend: mongo", "backend: bolt", 1), []string{"store.backend", "mongo backend"}},
		{"bad route", strings.Replace(node, "nats://127.0.0.1:6224", "127.0.0.1:6224", 1), []string{"nats.cluster.routes[2]", "not a route URL"}},
		{"no name, listen or routes", "nats:\n  serverName: hub1\n  cluster: {}\n", []string{"nats.cluster.name", "nats.cluster.listen", "nats.cluster.routes", "history.backend"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, c.yaml))
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("got %v, want a valid config", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got a valid config, want an error with %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestClusterIncidentsReplicas: on a cluster node the incidents' work
// queue follows ingest.replicas unless services.incidents.replicas is set;
// a single hub keeps 1.
func TestClusterIncidentsReplicas(t *testing.T) {
	const node = "nats:\n  serverName: hub1\n  cluster:\n    name: c\n    listen: 127.0.0.1:6222\n    routes: [nats://127.0.0.1:6222, nats://127.0.0.1:6223, nats://127.0.0.1:6224]\n" +
		"store: {backend: mongo, mongoURI: 'mongodb://127.0.0.1:27017'}\nhistory: {backend: remote, remote: {writeURL: 'http://127.0.0.1:8428/api/v1/write', readURL: 'http://127.0.0.1:8428'}}\n"
	cases := []struct {
		name string
		yaml string
		want int
	}{
		{"cluster R3 follows ingest", node + "ingest: {replicas: 3}\nservices: {incidents: {enabled: true}}\n", 3},
		{"cluster R3, set to 2", node + "ingest: {replicas: 3}\nservices: {incidents: {enabled: true, replicas: 2}}\n", 2},
		{"cluster R1", node + "services: {incidents: {enabled: true}}\n", 1},
		{"single hub", "services: {incidents: {enabled: true}}\n", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Load(writeConfig(t, c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Services.Incidents.Replicas; got != c.want {
				t.Errorf("services.incidents.replicas = %d, want %d", got, c.want)
			}
		})
	}
}
