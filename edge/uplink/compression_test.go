package uplink

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// anyS2 stands for any S2 compression level in TestLeafCompression's table.
const anyS2 = "any s2 level"

// The edge compresses what it sends over the leaf link as
// LeafOptions.Compression asks, against a hub that compresses by round-trip
// time as hub/broker configures it; "off" on the edge turns compression
// off on both sides (and with it the S2 stream buffers).
func TestLeafCompression(t *testing.T) {
	const domain, edge = "d", "e1"
	tests := []struct {
		mode          string
		edge, hubSide string // the link's mode as each side reports it
	}{
		// s2_auto: S2 framing, its level chosen from the link's round-trip
		// time (uncompressed on an idle loopback, s2_fast once a loaded
		// machine slows the pings), so any S2 level is right
		{mode: "", edge: anyS2, hubSide: anyS2},
		{mode: "s2_fast", edge: server.CompressionS2Fast, hubSide: server.CompressionS2Uncompressed},
		{mode: "off", edge: server.CompressionOff, hubSide: server.CompressionOff},
	}
	for _, tc := range tests {
		t.Run("mode="+tc.mode, func(t *testing.T) {
			hubURL, _, srv := hubServerWith(t, domain, edge, func(o *server.Options) {
				o.LeafNode.Compression = server.CompressionOpts{Mode: server.CompressionS2Auto}
			})
			leaf, err := StartLeaf(LeafOptions{Edge: edge, HubURL: hubURL, User: edge, Password: "pw", Compression: tc.mode, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			defer leaf.Shutdown()
			for _, side := range []struct {
				name string
				srv  *server.Server
				want string
			}{{"edge", leaf.srv, tc.edge}, {"hub", srv, tc.hubSide}} {
				got := linkCompression(t, side.srv)
				if side.want == anyS2 && strings.HasPrefix(got, "s2_") && got != server.CompressionS2Auto {
					continue
				}
				if got != side.want {
					t.Errorf("compression %q: the %s reports %q, want %q", tc.mode, side.name, got, side.want)
				}
			}
		})
	}
}

// linkCompression waits for srv's one leaf link and returns its
// compression mode.
func linkCompression(t *testing.T, srv *server.Server) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		lz, err := srv.Leafz(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(lz.Leafs) == 1 && lz.Leafs[0].Compression != "" {
			return lz.Leafs[0].Compression
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leaf link after 10s (%d links)", len(lz.Leafs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLeafCompressionUnknown(t *testing.T) {
	_, err := StartLeaf(LeafOptions{Edge: "e1", HubURL: "nats-leaf://127.0.0.1:7422", User: "e1", Password: "pw", Compression: "zstd", Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), `compression "zstd" is not one of off, s2_auto`) {
		t.Fatalf("StartLeaf with compression zstd: %v, want an error naming the modes", err)
	}
}
