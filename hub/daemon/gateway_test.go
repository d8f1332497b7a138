package daemon

import (
	"strings"
	"testing"
)

// TestGatewayConfig: nats.gateway and edges[].cluster are checked
// together with nats.cluster, naming the offending field.
func TestGatewayConfig(t *testing.T) {
	const node = "nats:\n  serverName: east1\n  cluster:\n    name: east\n    listen: 127.0.0.1:6222\n    routes: [nats://127.0.0.1:6222, nats://127.0.0.1:6223]\n" +
		"  gateway:\n    listen: 127.0.0.1:7222\n    gateways: [{name: west, urls: [nats://127.0.0.1:7322]}]\n" +
		"store: {backend: mongo, mongoURI: 'mongodb://127.0.0.1:27017'}\nhistory: {backend: remote, remote: {writeURL: 'http://127.0.0.1:8428/api/v1/write', readURL: 'http://127.0.0.1:8428'}}\n" +
		"edges:\n  - {id: e1, password: secret-e1-long, cluster: east}\n  - {id: e2, password: secret-e2-long, cluster: west}\n"
	cases := []struct {
		name string
		yaml string
		want []string // substrings of the error; none: valid
	}{
		{"two regions", node, nil},
		{"name given, the cluster's", strings.Replace(node, "    listen: 127.0.0.1:7222\n", "    name: east\n    listen: 127.0.0.1:7222\n", 1), nil},
		{"name not the cluster's", strings.Replace(node, "    listen: 127.0.0.1:7222\n", "    name: europe\n    listen: 127.0.0.1:7222\n", 1), []string{"nats.gateway.name", `"europe" differs from nats.cluster.name "east"`}},
		{"edge without cluster", strings.Replace(node, ", cluster: west}", "}", 1), []string{"edges[1].cluster", "is required with nats.gateway", `edge "e2"`}},
		{"edge in an unknown cluster", strings.Replace(node, "cluster: west}", "cluster: north}", 1), []string{"edges[1].cluster", `"north" is neither`}},
		{"own cluster as a gateway", strings.Replace(node, "{name: west,", "{name: east,", 1), []string{"nats.gateway.gateways[0].name", `"east" is this cluster`}},
		{"bad URL", strings.Replace(node, "nats://127.0.0.1:7322", "127.0.0.1:7322", 1), []string{"nats.gateway.gateways[0].urls[0]", "not a gateway URL"}},
		{"bad advertise", strings.Replace(node, "    listen: 127.0.0.1:7222\n", "    listen: 127.0.0.1:7222\n    advertise: gw.example\n", 1), []string{"nats.gateway.advertise", `"gw.example" is not host:port`}},
		{"requireTLS without gateway TLS", strings.Replace(node, "nats:\n", "nats:\n  requireTLS: true\n  listen: \"off\"\n  leafListen: \"off\"\n", 1), []string{"nats.requireTLS", "nats.gateway.tls is not"}},
		{"no URLs", strings.Replace(node, ", urls: [nats://127.0.0.1:7322]", "", 1), []string{"nats.gateway.gateways[0].urls", "is required"}},
		{"no listen, no gateways", strings.Replace(strings.Replace(node, "    listen: 127.0.0.1:7222\n", "", 1), "    gateways: [{name: west, urls: [nats://127.0.0.1:7322]}]\n", "    tls: {certFile: g.pem}\n", 1),
			[]string{"nats.gateway.listen", "nats.gateway.gateways", "nats.gateway.tls"}},
		{"gateway without a cluster", "nats:\n  gateway: {listen: 127.0.0.1:7222, gateways: [{name: west, urls: [nats://127.0.0.1:7322]}]}\n", []string{"nats.gateway", "needs nats.cluster"}},
		{"edge cluster without a gateway", "edges:\n  - {id: e1, password: secret-e1-long, cluster: east}\n", []string{"edges[0].cluster", `"east" is neither`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Load(writeConfig(t, c.yaml))
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("got %v, want a valid config", err)
				}
				if p := cfg.edgePlacement(); p == nil || p("e2") != "west" || p("e1") != "east" {
					t.Fatal("edges are not placed in their clusters")
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
