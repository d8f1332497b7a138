package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridedge/gridedge/edge/opcua"
	"github.com/gridedge/gridedge/edge/opcua/opcuatest"
)

func TestOPCUAUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"opcua", "read", "ns=2;s=X"}, "missing --url"}, // flags come first: the node ends them
		{[]string{"opcua", "read", "--url", "opc.tcp://127.0.0.1:1"}, "name at least one node id"},
		{[]string{"opcua", "write", "--url", "opc.tcp://127.0.0.1:1", "ns=2;s=X"}, "want a node id and a value"},
		{[]string{"opcua", "browse", "--url", "opc.tcp://127.0.0.1:1", "--depth", "0"}, "--depth 0"},
		{[]string{"opcua", "browse", "--url", "http://x"}, "is not an OPC-UA URL"},
		{[]string{"opcua", "browse", "--url", "opc.tcp://x:4840", "--policy", "Basic256Sha256"}, "trustedCerts or caFile is required"},
		{[]string{"opcua", "browse", "--url", "opc.tcp://x:4840", "--policy", "Basic128Rsa15", "--trust", "x.der"}, "Basic128Rsa15"},
	} {
		code, _, stderr := runCLI(tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d saying %q", tc.args, code, stderr, ExitUsage, tc.want)
		}
	}
}

func TestOPCUACommandsAgainstAsyncua(t *testing.T) {
	dir := t.TempDir()
	der, _, key, err := opcua.NewCert(opcua.CertOptions{CommonName: "asyncua", ApplicationURI: "urn:gridedge:test:server", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "server.der"), filepath.Join(dir, "server.pem")
	if err := os.WriteFile(certFile, der, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, opcua.PEMKey(key), 0o600); err != nil {
		t.Fatal(err)
	}
	otherDER, _, _, _ := opcua.NewCert(opcua.CertOptions{CommonName: "impostor"})
	otherFile := filepath.Join(dir, "other.der")
	if err := os.WriteFile(otherFile, otherDER, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := opcuatest.Start(t, "--security", "all", "--cert", certFile, "--key", keyFile)
	url := srv.URL()
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"browse", []string{"opcua", "browse", "--url", url, "--node", "ns=2;s=Plant"}, ExitOK, "ns=2;s=Plant.Setpoint"},
		{"browse depth 2", []string{"opcua", "browse", "--url", url, "--depth", "2", "--json"}, ExitOK, `"nodeId":"ns=2;s=Plant.Temperature"`},
		{"read", []string{"opcua", "read", "--url", url, "ns=2;s=Plant.Temperature", "ns=2;s=Plant.Label", "ns=2;s=Plant.Guess"}, ExitOK,
			"ns=2;s=Plant.Temperature = 21.5 (quality 1, Good"},
		{"read json", []string{"opcua", "read", "--url", url, "--json", "ns=2;s=Plant.Samples"}, ExitOK, `"value":[1.5,2.5,3.5],"quality":1`},
		{"write", []string{"opcua", "write", "--url", url, "ns=2;s=Plant.Setpoint", "42.5"}, ExitOK, "ns=2;s=Plant.Setpoint = 42.5 (Double)"},
		{"read back over SignAndEncrypt", []string{"opcua", "read", "--url", url, "--policy", "Basic256Sha256", "--trust", certFile, "ns=2;s=Plant.Setpoint"}, ExitOK,
			"= 42.5 (quality 1"},
		{"write a bad value", []string{"opcua", "write", "--url", url, "ns=2;s=Plant.Setpoint", "warm"}, ExitFailure, ""},
		{"untrusted server", []string{"opcua", "read", "--url", url, "--policy", "Basic256Sha256", "--mode", "Sign", "--trust", otherFile, "ns=2;s=Plant.Setpoint"},
			ExitFailure, ""},
	} {
		code, out, stderr := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(out, tc.out) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d with %q", tc.name, code, out, stderr, tc.code, tc.out)
		}
		if tc.name == "untrusted server" && !strings.Contains(stderr, "server certificate not trusted") {
			t.Errorf("untrusted server: stderr %q does not say the certificate is not trusted", stderr)
		}
	}
}
