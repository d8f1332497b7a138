package uplink

import (
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/subject"
)

// An edge given the leaf URLs of several hub nodes connects to one and,
// when that node is lost, reconnects to another; its batches' subject then
// reaches the survivor.
func TestLeafFailsOverBetweenHubURLs(t *testing.T) {
	const domain, edge = "d", "e1"
	url1, nc1, srv1 := hubServer(t, domain, edge)
	url2, nc2, srv2 := hubServer(t, domain, edge)
	for _, nc := range []interface{ Flush() error }{nc1, nc2} {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	sub1, err := nc1.SubscribeSync(subject.IngestAll(domain))
	if err != nil {
		t.Fatal(err)
	}
	sub2, err := nc2.SubscribeSync(subject.IngestAll(domain))
	if err != nil {
		t.Fatal(err)
	}
	nc1.Flush()
	nc2.Flush()
	leaf, err := StartLeaf(LeafOptions{Edge: edge, HubURL: url1, HubURLs: []string{url2, url1}, User: edge, Password: "pw", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer leaf.Shutdown()
	connected := func() string {
		switch {
		case srv1.Running() && srv1.NumLeafNodes() > 0:
			return "hub 1"
		case srv2.Running() && srv2.NumLeafNodes() > 0:
			return "hub 2"
		}
		return ""
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("the leaf link", func() bool { return connected() != "" && leaf.Interest(subject.Ingest(domain, edge)) })
	first := connected()
	app, err := leaf.Connect("forwarder", edge)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	lost, survivor, survivorSub := srv1, "hub 2", sub2
	if first == "hub 2" {
		lost, survivor, survivorSub = srv2, "hub 1", sub1
	}
	lost.Shutdown()
	lost.WaitForShutdown()
	waitFor("the link to fail over to "+survivor, func() bool { return connected() == survivor && leaf.Interest(subject.Ingest(domain, edge)) })
	if err := app.Publish(subject.Ingest(domain, edge), []byte("batch")); err != nil {
		t.Fatal(err)
	}
	msg, err := survivorSub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("the batch did not reach %s after the failover from %s: %v", survivor, first, err)
	}
	if got := string(msg.Data); !strings.Contains(got, "batch") {
		t.Fatalf("got %q, want the batch", got)
	}
}

// A plaintext and a TLS hub URL cannot be mixed.
func TestLeafRefusesMixedTLSHubURLs(t *testing.T) {
	_, err := StartLeaf(LeafOptions{Edge: "e1", HubURL: "nats-leaf://127.0.0.1:7422", HubURLs: []string{"tls://127.0.0.1:7423"},
		User: "e1", Password: "pw", Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "mix TLS and plaintext") {
		t.Fatalf("got %v, want an error about mixing TLS and plaintext", err)
	}
}
