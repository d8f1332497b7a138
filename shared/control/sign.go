package control

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nkeys"
)

// Signature is an ed25519 signature by an NATS nkey.
type Signature struct {
	// Key is the signer's public nkey (a user "U…", account "A…" or
	// operator "O…" key).
	Key string `json:"key"`
	// Sig is the raw ed25519 signature of the request's SigningPayload,
	// base64 (standard alphabet, padded).
	Sig string `json:"sig"`
}

// Signable is a request that carries a signature: *PushRequest and
// *RollbackRequest.
type Signable interface {
	// SigningPayload is the canonical byte string the signature covers.
	SigningPayload() ([]byte, error)
	// signature returns a pointer to the request's signature field.
	signature() **Signature
	// target returns the edge and the issue time, which Verify checks.
	target() (edge string, issuedAt time.Time)
}

var (
	_ Signable = (*PushRequest)(nil)
	_ Signable = (*RollbackRequest)(nil)
)

// signingVersion starts every payload so that a signature of one kind of
// request never verifies as another.
const signingVersion = "gridedge-control-v1"

// SigningPayload is the canonical JSON of
// {"v":"gridedge-control-v1","action":"map.push","edge","pusher","issuedAt"
// (RFC 3339, nanoseconds, UTC),"partial","dryRun","confirm","settings":
// "sha256:<hex of the canonical SETTINGS>"}: the document's whitespace and
// key order do not matter, its content does.
func (r *PushRequest) SigningPayload() ([]byte, error) {
	sum, err := settingsHash(r.Settings)
	if err != nil {
		return nil, err
	}
	return Canonical(mustJSON(map[string]any{
		"v": signingVersion, "action": "map.push", "edge": r.Edge, "pusher": r.Pusher,
		"issuedAt": r.IssuedAt.UTC().Format(time.RFC3339Nano), "partial": r.Partial,
		"dryRun": r.DryRun, "confirm": r.Confirm, "settings": sum,
	}))
}

func (r *PushRequest) signature() **Signature                  { return &r.Signature }
func (r *PushRequest) target() (edge string, issued time.Time) { return r.Edge, r.IssuedAt }

// SigningPayload is the canonical JSON of
// {"v":"gridedge-control-v1","action":"map.rollback","edge","pusher","issuedAt"}.
func (r *RollbackRequest) SigningPayload() ([]byte, error) {
	return Canonical(mustJSON(map[string]any{
		"v": signingVersion, "action": "map.rollback", "edge": r.Edge, "pusher": r.Pusher,
		"issuedAt": r.IssuedAt.UTC().Format(time.RFC3339Nano),
	}))
}

func (r *RollbackRequest) signature() **Signature                  { return &r.Signature }
func (r *RollbackRequest) target() (edge string, issued time.Time) { return r.Edge, r.IssuedAt }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of strings and bools are marshalled here
	}
	return b
}

// Sign signs r with kp (a key pair with a private seed, e.g. from
// nkeys.FromSeed of an operator's seed file). Set IssuedAt (and every other
// field) before signing: changing any of them afterwards breaks the
// signature.
func Sign(kp nkeys.KeyPair, r Signable) error {
	pub, err := kp.PublicKey()
	if err != nil {
		return fmt.Errorf("sign: read the public key: %w", err)
	}
	payload, err := r.SigningPayload()
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	sig, err := kp.Sign(payload)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	*r.signature() = &Signature{Key: pub, Sig: base64.StdEncoding.EncodeToString(sig)}
	return nil
}

// VerifyOptions are what Verify checks a request against.
type VerifyOptions struct {
	// Edge is the verifying edge's id; a request for another edge is refused.
	Edge string
	// Trusted are the public nkeys whose signatures are accepted.
	Trusted []string
	// Now is the current time (default time.Now()).
	Now time.Time
	// MaxAge is how old IssuedAt may be (default 15 minutes); IssuedAt may be
	// at most a minute in the future, for clock skew.
	MaxAge time.Duration
}

// DefaultMaxAge is VerifyOptions.MaxAge when unset.
const DefaultMaxAge = 15 * time.Minute

// Verify checks that r is signed by a trusted key, for this edge, recently.
// The error is an *Error with CodeUnsigned, CodeUntrustedKey,
// CodeBadSignature, CodeWrongEdge or CodeExpired.
func Verify(r Signable, o VerifyOptions) error {
	sig := *r.signature()
	if sig == nil || sig.Key == "" || sig.Sig == "" {
		return Errorf(CodeUnsigned, "the request is not signed; sign it with an operator key the edge trusts")
	}
	if !slices.Contains(o.Trusted, sig.Key) {
		return Errorf(CodeUntrustedKey, "key %s is not among the edge's trusted keys (control.trustedKeys)", sig.Key)
	}
	pub, err := nkeys.FromPublicKey(sig.Key)
	if err != nil {
		return Errorf(CodeBadSignature, "key %s is not a valid public nkey: %v", sig.Key, err)
	}
	raw, err := base64.StdEncoding.DecodeString(sig.Sig)
	if err != nil {
		return Errorf(CodeBadSignature, "signature is not base64: %v", err)
	}
	payload, err := r.SigningPayload()
	if err != nil {
		return Errorf(CodeBadRequest, "%v", err)
	}
	if err := pub.Verify(payload, raw); err != nil {
		return Errorf(CodeBadSignature, "signature of key %s does not match the request (altered after signing, or signed for another request)", sig.Key)
	}
	edge, issued := r.target()
	if edge != o.Edge {
		return Errorf(CodeWrongEdge, "the request is signed for edge %q, this is edge %q", edge, o.Edge)
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	maxAge := o.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	switch {
	case issued.IsZero():
		return Errorf(CodeExpired, "the request has no issuedAt")
	case now.Sub(issued) > maxAge:
		return Errorf(CodeExpired, "the request was issued at %s, more than %s ago", issued.UTC().Format(time.RFC3339), maxAge)
	case issued.Sub(now) > time.Minute:
		return Errorf(CodeExpired, "the request was issued at %s, in the future (check the clocks)", issued.UTC().Format(time.RFC3339))
	}
	return nil
}

// Canonical returns the canonical form of a JSON document: no insignificant
// white space, object keys sorted, numbers as written, no HTML escaping.
func Canonical(doc []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical JSON: %w", err)
	}
	if d.More() {
		return nil, fmt.Errorf("canonical JSON: more than one value")
	}
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, fmt.Errorf("canonical JSON: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func settingsHash(doc []byte) (string, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return "", fmt.Errorf("settings: empty document")
	}
	c, err := Canonical(doc)
	if err != nil {
		return "", fmt.Errorf("settings: %w", err)
	}
	sum := sha256.Sum256(c)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// MapVersion is the version of a SETTINGS document: "sha256:" and the
// first 16 hex digits of the SHA-256 of its canonical JSON (Canonical).
// Agents compute it over the whole document they run, after merging a
// partial push.
func MapVersion(settings []byte) (string, error) {
	sum, err := settingsHash(settings)
	if err != nil {
		return "", err
	}
	return sum[:len("sha256:")+16], nil
}
