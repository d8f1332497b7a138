package bridge_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gridedge/gridedge/hub/bridge"
	"github.com/gridedge/gridedge/hub/bridge/internal/bridgetest"
)

func TestKafkaURL(t *testing.T) {
	tests := []struct {
		url     string
		brokers []string
		sasl    bridge.KafkaSASL
		err     string
	}{
		{url: "kafka://k1:9092", brokers: []string{"k1:9092"}},
		{url: "kafka://k1:9092,k2:9093/", brokers: []string{"k1:9092", "k2:9093"}},
		{url: "kafka://etra1:p%40ss@k1:9092", brokers: []string{"k1:9092"},
			sasl: bridge.KafkaSASL{Mechanism: "scram-sha-512", User: "etra1", Password: "p@ss"}},
		{url: "kafka://u:p@k1:9092?sasl=plain", brokers: []string{"k1:9092"}, sasl: bridge.KafkaSASL{Mechanism: "plain", User: "u", Password: "p"}},
		{url: "kafka://k1:9092?sasl=plain", err: "needs user:password@"},
		{url: "kafka://u:p@k1:9092?sasl=gssapi", err: `sasl="gssapi" is not`},
		{url: "kafka://k1", err: `broker "k1" is not host:port`},
		{url: "http://k1:9092", err: "is not a kafka:// URL"},
	}
	for _, tc := range tests {
		brokers, sasl, err := bridge.KafkaURL(tc.url)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got error %v, want %q", tc.url, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(brokers, tc.brokers) || sasl != tc.sasl {
			t.Errorf("%s: got %v %+v %v, want %v %+v", tc.url, brokers, sasl, err, tc.brokers, tc.sasl)
		}
	}
}

func TestEventRoutingKey(t *testing.T) {
	tests := []struct {
		e    bridge.Event
		want string
	}{
		{bridge.Event{Layer: "gridflex", Collection: "meters", ID: "M1"}, "gridflex.meters.M1"},
		{bridge.Event{Layer: "gridflex", Collection: "meters", Op: "drop"}, "gridflex.meters"},
	}
	for _, tc := range tests {
		if got := tc.e.RoutingKey(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestInboundDocuments(t *testing.T) {
	env := bridgetest.New(t)
	env.Layer(t, "gridflex", "meters")
	in, err := bridge.NewInbound(context.Background(), bridge.Config{Name: "i", Layer: "gridflex", Collection: "meters"}, env.Store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		body string
		n    int
		err  string
	}{
		{`{"_id":"M1","v":1}`, 1, ""},
		{`[{"_id":"M1"},{"_id":2}]`, 2, ""},
		{` `, 0, "empty message"},
		{`{"_id":`, 0, "not JSON"},
		{`"text"`, 0, "a string, not an object or an array of objects"},
		{`[{"_id":"a"}, 3]`, 0, "element 1 is a number"},
		{`{"v":1}`, 0, "document 0 has no _id"},
		{`{"_id":""}`, 0, "empty _id"},
		{`{"_id":{"x":1}}`, 0, "not a string or a number"},
	}
	for _, tc := range tests {
		docs, err := in.Documents(context.Background(), []byte(tc.body))
		if tc.err != "" {
			if !errors.Is(err, bridge.ErrBadMessage) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got error %v, want ErrBadMessage with %q", tc.body, err, tc.err)
			}
			continue
		}
		if err != nil || len(docs) != tc.n {
			t.Errorf("%s: got %d documents, %v; want %d", tc.body, len(docs), err, tc.n)
		}
	}
	if _, err := bridge.NewInbound(context.Background(), bridge.Config{Name: "i", Layer: "gridflex", Collection: "nope"}, env.Store, nil, nil); err == nil {
		t.Error("an inbound bridge to a missing collection started")
	}
	if _, err := bridge.NewInbound(context.Background(), bridge.Config{Name: "i", Layer: "gridflex", Collection: "meters", Converter: "c"}, env.Store, nil, nil); err == nil {
		t.Error("an inbound bridge with a converter and no converters started")
	}
}
