package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// TestConnectWithCreds: a NATS credentials file (a user JWT and its seed,
// as nsc writes them) authenticates against a server in operator mode, from
// --creds or GRIDEDGE_CREDS; a user that the account revoked cannot.
func TestConnectWithCreds(t *testing.T) {
	isolate(t)
	op, _ := nkeys.CreateOperator()
	opPub, _ := op.PublicKey()
	oc := jwt.NewOperatorClaims(opPub)
	opJWT, err := oc.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	opClaims, err := jwt.DecodeOperatorClaims(opJWT)
	if err != nil {
		t.Fatal(err)
	}
	acc, _ := nkeys.CreateAccount()
	accPub, _ := acc.PublicKey()
	ac := jwt.NewAccountClaims(accPub)
	user := func(name string) (string, string) {
		u, _ := nkeys.CreateUser()
		pub, _ := u.PublicKey()
		uc := jwt.NewUserClaims(pub)
		uc.Name = name
		uc.IssuerAccount = accPub
		ujwt, err := uc.Encode(acc)
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := u.Seed()
		creds, err := jwt.FormatUserConfig(ujwt, seed)
		if err != nil {
			t.Fatal(err)
		}
		return writeTemp(t, name+".creds", string(creds)), pub
	}
	good, _ := user("operator")
	revoked, revokedPub := user("former")
	ac.Revoke(revokedPub)
	accJWT, err := ac.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	if err := resolver.Store(accPub, accJWT); err != nil {
		t.Fatal(err)
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		TrustedOperators: []*jwt.OperatorClaims{opClaims}, AccountResolver: resolver})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(s.Shutdown)

	f := connFlags{flags: natsContext{URL: s.ClientURL(), Creds: good}}
	nc, _, err := f.connect()
	if err != nil {
		t.Fatalf("--creds: %v", err)
	}
	nc.Close()
	t.Setenv("GRIDEDGE_URL", s.ClientURL())
	t.Setenv("GRIDEDGE_CREDS", good)
	nc, _, err = (&connFlags{}).connect()
	if err != nil {
		t.Fatalf("GRIDEDGE_CREDS: %v", err)
	}
	nc.Close()
	f = connFlags{flags: natsContext{Creds: revoked}}
	if _, _, err := f.connect(); err == nil || !strings.Contains(err.Error(), "with creds "+revoked+": nats: Authorization Violation") {
		t.Errorf("revoked user: %v", err)
	}
}
