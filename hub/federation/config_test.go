package federation

import (
	"slices"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	creds := Credentials{User: "u", Password: "p"}
	reserved := func(l string) bool { return l == "system" }
	cases := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"export and import", Config{Peers: []Peer{{Name: "b", Credentials: creds, Export: []Grant{{Layer: "dso"}},
			Import: []Import{{Grant: Grant{Layer: "city"}, As: "city-b"}}}}}, ""},
		{"re-export to another peer", Config{Peers: []Peer{
			{Name: "b", URL: "nats-leaf://b:7422", Credentials: creds, Import: []Import{{Grant: Grant{Layer: "dso"}}}},
			{Name: "c", Credentials: creds, Export: []Grant{{Layer: "dso"}}}}}, ""},
		{"loop: imported and exported back", Config{Peers: []Peer{{Name: "b", Credentials: creds,
			Import: []Import{{Grant: Grant{Layer: "dso"}, As: "b-dso"}}, Export: []Grant{{Layer: "b-dso"}}}}},
			`federation.peers[0].export[0]: layer "b-dso" is imported from peer "b" and exported back to it: a loop`},
		{"deny by default: nothing listed", Config{Peers: []Peer{{Name: "b", Credentials: creds}}}, "neither exports nor imports"},
		{"own domain", Config{Peers: []Peer{{Name: "a", Credentials: creds, Export: []Grant{{Layer: "x"}}}}}, "this deployment's own domain"},
		{"peer twice", Config{Peers: []Peer{{Name: "b", Credentials: creds, Export: []Grant{{Layer: "x"}}},
			{Name: "b", Credentials: creds, Export: []Grant{{Layer: "y"}}}}}, `peer "b" is listed twice`},
		{"bad peer name", Config{Peers: []Peer{{Name: "b.c", Credentials: creds, Export: []Grant{{Layer: "x"}}}}}, "federation.peers[0].name"},
		{"no credentials", Config{Peers: []Peer{{Name: "b", Export: []Grant{{Layer: "x"}}}}}, "federation.peers[0].credentials: a user and a password are required"},
		{"reserved layer", Config{Peers: []Peer{{Name: "b", Credentials: creds, Export: []Grant{{Layer: "system"}}}}}, "reserved"},
		{"import into reserved", Config{Peers: []Peer{{Name: "b", Credentials: creds, Import: []Import{{Grant: Grant{Layer: "x"}, As: "system"}}}}}, "reserved"},
		{"bad rename", Config{Peers: []Peer{{Name: "b", Credentials: creds, Import: []Import{{Grant: Grant{Layer: "x"}, As: "a_b"}}}}}, "federation.peers[0].import[0].as"},
		{"imported twice", Config{Peers: []Peer{
			{Name: "b", Credentials: creds, Import: []Import{{Grant: Grant{Layer: "x"}}}},
			{Name: "c", Credentials: creds, Import: []Import{{Grant: Grant{Layer: "x"}}}}}}, `layer "x" is imported twice`},
		{"tls without url", Config{Peers: []Peer{{Name: "b", Credentials: creds, TLS: &TLS{CAFile: "ca.pem"},
			Export: []Grant{{Layer: "x"}}}}}, "federation.peers[0].tls"},
		{"history of an export", Config{Peers: []Peer{{Name: "b", Credentials: creds, Export: []Grant{{Layer: "x"}},
			History: &HistoryExport{Off: true}}}}, ""},
		{"history without export", Config{Peers: []Peer{{Name: "b", Credentials: creds, Import: []Import{{Grant: Grant{Layer: "x"}}},
			History: &HistoryExport{}}}}, "federation.peers[0].history: applies to the layers exported"},
		{"bad collection", Config{Peers: []Peer{{Name: "b", Credentials: creds, Export: []Grant{{Layer: "x", Collections: []string{"a b"}}}}}},
			"federation.peers[0].export[0].collections[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate("federation", "a", reserved)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestPeerPermissions(t *testing.T) {
	// A exports to b and imports from b, b connects to A
	pub, sub := peerPermissions("a", Peer{Name: "b", Export: []Grant{{Layer: "x"}}, Import: []Import{{Grant: Grant{Layer: "y"}}}})
	for _, want := range []string{"$JS.a.API.CONSUMER.CREATE.FED_OUT_b.>", "b.federation.a.deliver.>"} {
		if !slices.Contains(pub, want) {
			t.Errorf("publish %v lacks %s", pub, want)
		}
	}
	for _, want := range []string{"a.federation.b.deliver.>", "$JS.b.API.CONSUMER.CREATE.FED_OUT_a.>"} {
		if !slices.Contains(sub, want) {
			t.Errorf("subscribe %v lacks %s", sub, want)
		}
	}
	for _, p := range append(pub, sub...) {
		if p == ">" || strings.HasPrefix(p, "$JS.a.API.STREAM.DELETE") || p == "$JS.a.API.>" {
			t.Errorf("permission %q is too wide", p)
		}
	}
}
