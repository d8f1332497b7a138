package fleet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

func TestLoadSigningKey(t *testing.T) {
	kp, err := nkeys.CreateOperator()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, path string
		wantPub    string
		wantErr    string
	}{
		{"none", "", "", ""},
		{"seed with a newline", write("seed", string(seed)+"\n"), pub, ""},
		{"public key only", write("pub", pub), "", "not an nkey seed"},
		{"not a key", write("junk", "hello"), "", "not an nkey seed"},
		{"missing file", filepath.Join(dir, "nope"), "", "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := LoadSigningKey(c.path)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ctl, err := NewControl(nil, "d", k)
			if err != nil {
				t.Fatal(err)
			}
			if ctl.PublicKey() != c.wantPub {
				t.Errorf("public key %q, want %q", ctl.PublicKey(), c.wantPub)
			}
		})
	}
}
