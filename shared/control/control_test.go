package control

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
)

func mustKey(t *testing.T) nkeys.KeyPair {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func mustKeyB(b *testing.B) nkeys.KeyPair {
	b.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		b.Fatal(err)
	}
	return kp
}

func pub(t *testing.T, kp nkeys.KeyPair) string {
	t.Helper()
	p, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVerify(t *testing.T) {
	op, other := mustKey(t), mustKey(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	doc := json.RawMessage(`{"modbusMaps":{"m":[{"name":"v","type":"holding","address":1,"datatype":"16uint"}]},"modbusSlaves":[]}`)
	signed := func(mod func(*PushRequest)) *PushRequest {
		r := &PushRequest{Edge: "e1", Settings: doc, Pusher: "alice", IssuedAt: now.Add(-time.Minute)}
		if mod != nil {
			mod(r)
		}
		if err := Sign(op, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	opts := VerifyOptions{Edge: "e1", Trusted: []string{pub(t, op)}, Now: now}
	tests := []struct {
		name string
		req  func() *PushRequest
		opts VerifyOptions
		code string
	}{
		{"valid", func() *PushRequest { return signed(nil) }, opts, ""},
		{"white space and key order do not matter", func() *PushRequest {
			r := signed(nil)
			r.Settings = json.RawMessage(`{ "modbusSlaves": [ ],
				"modbusMaps": {"m": [{"datatype":"16uint","address":1,"type":"holding","name":"v"}]}}`)
			return r
		}, opts, ""},
		{"unsigned", func() *PushRequest {
			r := signed(nil)
			r.Signature = nil
			return r
		}, opts, CodeUnsigned},
		{"untrusted key", func() *PushRequest { return signed(nil) }, VerifyOptions{Edge: "e1", Trusted: []string{pub(t, other)}, Now: now}, CodeUntrustedKey},
		{"settings altered", func() *PushRequest {
			r := signed(nil)
			r.Settings = json.RawMessage(`{"modbusMaps":{"m":[{"name":"v","type":"holding","address":2,"datatype":"16uint"}]},"modbusSlaves":[]}`)
			return r
		}, opts, CodeBadSignature},
		{"pusher altered", func() *PushRequest {
			r := signed(nil)
			r.Pusher = "mallory"
			return r
		}, opts, CodeBadSignature},
		{"dry run flag altered", func() *PushRequest {
			r := signed(nil)
			r.DryRun = true
			return r
		}, opts, CodeBadSignature},
		{"signature of another key", func() *PushRequest {
			r := signed(nil)
			s := *r.Signature
			s.Key = pub(t, other)
			r.Signature = &s
			return r
		}, VerifyOptions{Edge: "e1", Trusted: []string{pub(t, op), pub(t, other)}, Now: now}, CodeBadSignature},
		{"garbage signature", func() *PushRequest {
			r := signed(nil)
			r.Signature.Sig = "!!"
			return r
		}, opts, CodeBadSignature},
		{"other edge", func() *PushRequest { return signed(func(r *PushRequest) { r.Edge = "e2" }) }, opts, CodeWrongEdge},
		{"too old", func() *PushRequest {
			return signed(func(r *PushRequest) { r.IssuedAt = now.Add(-DefaultMaxAge - time.Second) })
		}, opts, CodeExpired},
		{"in the future", func() *PushRequest {
			return signed(func(r *PushRequest) { r.IssuedAt = now.Add(2 * time.Minute) })
		}, opts, CodeExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.req(), tc.opts)
			var e *Error
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tc.code != "" && !errors.As(err, &e):
				t.Fatalf("got %v, want an *Error with code %s", err, tc.code)
			case tc.code != "" && e.Code != tc.code:
				t.Fatalf("got code %s (%v), want %s", e.Code, err, tc.code)
			}
		})
	}
}

func TestRollbackSignatureIsNotAPushSignature(t *testing.T) {
	op := mustKey(t)
	now := time.Now()
	rb := &RollbackRequest{Edge: "e1", Pusher: "alice", IssuedAt: now}
	if err := Sign(op, rb); err != nil {
		t.Fatal(err)
	}
	o := VerifyOptions{Edge: "e1", Trusted: []string{pub(t, op)}}
	if err := Verify(rb, o); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	push := &PushRequest{Edge: "e1", Pusher: "alice", IssuedAt: now, Settings: json.RawMessage(`{}`), Signature: rb.Signature}
	if err := Verify(push, o); err == nil {
		t.Fatal("a rollback's signature verified a push")
	}
}

func TestMapVersion(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{`{"a":1,"b":[1,2]}`, "{ \"b\" : [1, 2],\n \"a\": 1 }", true},
		{`{"a":1}`, `{"a":2}`, false},
		{`{"a":1.0}`, `{"a":1}`, false}, // numbers as written: a document's text is what was signed
		{`{"s":"<x>"}`, `{"s":"\u003cx\u003e"}`, true},
	}
	for _, tc := range tests {
		va, err := MapVersion([]byte(tc.a))
		if err != nil {
			t.Fatal(err)
		}
		vb, err := MapVersion([]byte(tc.b))
		if err != nil {
			t.Fatal(err)
		}
		if (va == vb) != tc.same {
			t.Errorf("MapVersion(%s)=%s, MapVersion(%s)=%s, want same=%v", tc.a, va, tc.b, vb, tc.same)
		}
		if len(va) != len("sha256:")+16 {
			t.Errorf("version %q: want sha256: and 16 hex digits", va)
		}
	}
	for _, bad := range []string{"", " ", "{", `{"a":1} {"b":2}`} {
		if _, err := MapVersion([]byte(bad)); err == nil {
			t.Errorf("MapVersion(%q): want an error", bad)
		}
	}
}

func TestAsError(t *testing.T) {
	e := Errorf(CodeBusy, "push in progress")
	if got := AsError(e, CodeInternal); got != e {
		t.Errorf("got %v, want the same *Error", got)
	}
	if got := AsError(errors.New("disk full"), CodeInternal); got.Code != CodeInternal || got.Message != "disk full" {
		t.Errorf("got %+v", got)
	}
	if AsError(nil, CodeInternal) != nil {
		t.Error("AsError(nil) is not nil")
	}
	if got, want := e.Error(), "busy: push in progress"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
