package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startNATS runs a real nats-server in-process on a random port, with
// JetStream and the given users, until the test ends.
func startNATS(t *testing.T, users ...*server.User) *server.Server {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true, Users: users}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// isolate points the CLI's configuration directory and connection
// environment at nothing the developer's own settings could leak into.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	for _, v := range []string{"GRIDEDGE_URL", "GRIDEDGE_CREDS", "GRIDEDGE_NATS_USER", "GRIDEDGE_NATS_PASSWORD",
		"GRIDEDGE_TLS_CA", "GRIDEDGE_TLS_CERT", "GRIDEDGE_TLS_KEY", "GRIDEDGE_DOMAIN", "GRIDEDGE_KEY", "GRIDEDGE_CONTEXT", "GRIDEDGE_PUSHER"} {
		t.Setenv(v, "")
	}
	return dir
}

func TestMergeContextsPrecedence(t *testing.T) {
	defaults := natsContext{URL: defaultURL, Domain: defaultDomain}
	tests := []struct {
		name              string
		flags, env, saved natsContext
		want              natsContext
	}{
		{"defaults", natsContext{}, natsContext{}, natsContext{}, natsContext{URL: defaultURL, Domain: defaultDomain}},
		{"flag beats env beats context",
			natsContext{URL: "nats://flag:4222"}, natsContext{URL: "nats://env:4222", Domain: "envdom"}, natsContext{URL: "nats://ctx:4222", Domain: "ctxdom", TLSCA: "/ca.pem"},
			natsContext{URL: "nats://flag:4222", Domain: "envdom", TLSCA: "/ca.pem"}},
		{"credentials are a unit: env creds hide the context's user",
			natsContext{}, natsContext{Creds: "/op.creds"}, natsContext{User: "ctxuser", Password: "ctxpw"},
			natsContext{URL: defaultURL, Domain: defaultDomain, Creds: "/op.creds"}},
		{"a user on the command line takes its password from the environment",
			natsContext{User: "op"}, natsContext{Password: "envpw"}, natsContext{User: "ctxuser", Password: "ctxpw"},
			natsContext{URL: defaultURL, Domain: defaultDomain, User: "op", Password: "envpw"}},
		{"the context's user with its password",
			natsContext{}, natsContext{}, natsContext{User: "ctxuser", Password: "ctxpw", Key: "/k.nk"},
			natsContext{URL: defaultURL, Domain: defaultDomain, User: "ctxuser", Password: "ctxpw", Key: "/k.nk"}},
	}
	for _, tt := range tests {
		got := mergeContexts(tt.flags, tt.env, tt.saved, defaults)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

func TestContextCheck(t *testing.T) {
	tests := []struct {
		c    natsContext
		want string // "" for valid
	}{
		{natsContext{URL: defaultURL, Domain: "gridedge"}, ""},
		{natsContext{Domain: "grid.edge"}, `domain "grid.edge" contains '.'`},
		{natsContext{Domain: "d", Creds: "/x", User: "u", Password: "p"}, "not both"},
		{natsContext{Domain: "d", TLSCert: "/c.pem"}, "needs both --tls-cert and --tls-key"},
		{natsContext{Domain: "d", User: "u"}, `user "u" has no password`},
	}
	for _, tt := range tests {
		err := tt.c.check()
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: got %v, want %q", tt.c, err, tt.want)
		}
	}
}

func TestContextCommands(t *testing.T) {
	dir := isolate(t)
	if code, _, errOut := runCLI("context", "add", "--server", "nats://hub:4222", "--user", "op", "--password", "s3cret",
		"--domain", "xflex", "--description", "pilot site", "--use", "pilot"); code != 0 {
		t.Fatalf("context add: exit %d: %s", code, errOut)
	}
	p := filepath.Join(dir, "gridedge", "contexts", "pilot.json")
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("context file mode %v, want 0600 (it holds a password)", st.Mode().Perm())
	}
	if code, _, _ := runCLI("context", "add", "--server", "nats://lab:4222", "lab"); code != 0 {
		t.Fatal("context add lab failed")
	}
	code, out, _ := runCLI("context", "ls")
	if code != 0 || !strings.Contains(out, "pilot *") || !strings.Contains(out, "user op") || strings.Contains(out, "s3cret") {
		t.Errorf("context ls: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI("context", "ls", "--json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 2 || list[1]["selected"] != true || list[1]["password"] != nil {
		t.Errorf("context ls --json: exit %d, %v\n%s", code, err, out)
	}
	// the chosen context is what commands use
	var f connFlags
	got, err := f.resolve()
	if err != nil || got.URL != "nats://hub:4222" || got.User != "op" || got.Password != "s3cret" || got.Domain != "xflex" {
		t.Errorf("resolve with the chosen context: %+v, %v", got, err)
	}
	// GRIDEDGE_CONTEXT picks another; --context beats it
	t.Setenv("GRIDEDGE_CONTEXT", "lab")
	if got, _ := f.resolve(); got.URL != "nats://lab:4222" || got.Domain != defaultDomain {
		t.Errorf("GRIDEDGE_CONTEXT=lab: %+v", got)
	}
	f.context = "pilot"
	if got, _ := f.resolve(); got.URL != "nats://hub:4222" {
		t.Errorf("--context pilot: %+v", got)
	}
	f.context = "nosuch"
	if _, err := f.resolve(); err == nil || !strings.Contains(err.Error(), `context "nosuch" does not exist`) {
		t.Errorf("missing context: %v", err)
	}
	t.Setenv("GRIDEDGE_CONTEXT", "")

	if code, out, _ := runCLI("context", "use", "lab"); code != 0 || !strings.Contains(out, "using context lab") {
		t.Errorf("context use lab: %d %s", code, out)
	}
	if code, _, errOut := runCLI("context", "use", "nosuch"); code != 1 || !strings.Contains(errOut, "does not exist") {
		t.Errorf("context use nosuch: %d %s", code, errOut)
	}
	if code, _, _ := runCLI("context", "rm", "lab"); code != 0 {
		t.Error("context rm lab failed")
	}
	if sel, _ := selectedContext(); sel != "" {
		t.Errorf("removing the chosen context left it chosen: %q", sel)
	}
	for _, bad := range [][]string{
		{"context", "add", "../evil"},
		{"context", "add", "--domain", "a.b", "x"},
		{"context", "add", "--creds", "/c", "--user", "u", "y"},
	} {
		if code, _, _ := runCLI(bad...); code != 1 {
			t.Errorf("%v: exit %d, want 1", bad, code)
		}
	}
	if code, _, _ := runCLI("context", "add"); code != 2 {
		t.Errorf("context add without a name: exit %d, want 2", code)
	}
}

func TestConnect(t *testing.T) {
	isolate(t)
	s := startNATS(t, &server.User{Username: "op", Password: "pw"})
	url := s.ClientURL()
	tests := []struct {
		name  string
		setup func(t *testing.T) *connFlags
		err   string
	}{
		{"flags", func(t *testing.T) *connFlags {
			return &connFlags{flags: natsContext{URL: url, User: "op", Password: "pw"}}
		}, ""},
		{"environment", func(t *testing.T) *connFlags {
			t.Setenv("GRIDEDGE_URL", url)
			t.Setenv("GRIDEDGE_NATS_USER", "op")
			t.Setenv("GRIDEDGE_NATS_PASSWORD", "pw")
			return &connFlags{}
		}, ""},
		{"context", func(t *testing.T) *connFlags {
			if code, _, errOut := runCLI("context", "add", "--server", url, "--user", "op", "--password", "pw", "--use", "c"); code != 0 {
				t.Fatal(errOut)
			}
			return &connFlags{}
		}, ""},
		{"wrong password", func(t *testing.T) *connFlags {
			return &connFlags{flags: natsContext{URL: url, User: "op", Password: "nope"}}
		}, "connect to " + url + " as op: nats: Authorization Violation"},
		{"nothing listening", func(t *testing.T) *connFlags {
			return &connFlags{flags: natsContext{URL: "nats://127.0.0.1:1", User: "op", Password: "pw"}}
		}, "connect to nats://127.0.0.1:1 as op"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			nc, _, err := tt.setup(t).connect()
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				nc.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("got %v, want %q", err, tt.err)
			}
		})
	}
}
