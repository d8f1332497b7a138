package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/control"
)

func TestKeyGen(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "operator.nk")
	code, out, errOut := runCLI("key", "gen", "--out", seed)
	if code != 0 {
		t.Fatalf("key gen: exit %d: %s", code, errOut)
	}
	pub := strings.TrimSpace(out)
	if !strings.HasPrefix(pub, "O") || len(pub) != 56 {
		t.Errorf("public key %q: want an operator nkey (O…, 56 characters)", pub)
	}
	st, err := os.Stat(seed)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("seed file: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	// it signs requests that the protocol verifies against the printed key
	kp, err := loadSigningKey(Env{Stderr: &strings.Builder{}}, seed)
	if err != nil {
		t.Fatal(err)
	}
	req := control.RollbackRequest{Edge: "e1", Pusher: "alice", IssuedAt: time.Now()}
	if err := control.Sign(kp, &req); err != nil {
		t.Fatal(err)
	}
	if err := control.Verify(&req, control.VerifyOptions{Edge: "e1", Trusted: []string{pub}}); err != nil {
		t.Errorf("verify with the printed public key: %v", err)
	}
	// never overwritten by accident
	if code, _, errOut := runCLI("key", "gen", "--out", seed); code != 1 || !strings.Contains(errOut, "--force") {
		t.Errorf("second key gen: exit %d, %q", code, errOut)
	}
	if err := os.Chmod(seed, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI("key", "gen", "--force", "--json", "--out", seed)
	var doc struct{ PublicKey, SeedFile string }
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil || doc.PublicKey == pub || doc.SeedFile != seed {
		t.Errorf("key gen --force --json: exit %d, %v, %s", code, err, out)
	}
	if st, _ := os.Stat(seed); st.Mode().Perm() != 0o600 {
		t.Errorf("--force left mode %v, want 0600", st.Mode().Perm())
	}
	if code, _, _ := runCLI("key", "gen"); code != 2 {
		t.Errorf("key gen without --out: exit %d, want 2", code)
	}
}

func TestLoadSigningKey(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "k.nk")
	if code, _, _ := runCLI("key", "gen", "--out", seed); code != 0 {
		t.Fatal("key gen failed")
	}
	s, _ := os.ReadFile(seed)
	creds := writeTemp(t, "op.creds", "-----BEGIN USER NKEY SEED-----\n"+strings.TrimSpace(string(s))+"\n------END USER NKEY SEED------\n")
	loose := writeTemp(t, "loose.nk", string(s))
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, err, warn string
	}{
		{"seed file", seed, "", ""},
		{"decorated", creds, "", ""},
		{"readable by others", loose, "", "can be read by others"},
		{"public key only", writeTemp(t, "pub", "OAB2ZQ3VTWQ4Q4TJ7Y6B5WQYJ3CJAVZ6Q5N2X3Q4SQB7BLMVYQHQXQ4R"), "not an nkey seed", ""},
		{"missing", filepath.Join(dir, "none"), "no such file", ""},
		{"none given", "", "no signing key", ""},
	}
	for _, tt := range tests {
		var warn strings.Builder
		_, err := loadSigningKey(Env{Stderr: &warn}, tt.path)
		if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.err)
		}
		if !strings.Contains(warn.String(), tt.warn) || (tt.warn == "" && warn.Len() > 0) {
			t.Errorf("%s: warning %q, want %q", tt.name, warn.String(), tt.warn)
		}
	}
}
