package auth

import (
	"fmt"
	"strings"
)

// Perm is an access level on one layer (or on one file bucket, under the
// grant key "fs:<bucket>"). Levels are ordered: each includes the ones below.
type Perm int

// Access levels.
const (
	// None grants nothing.
	None Perm = iota
	// Public reads only the public attributes of documents: the fields a
	// layer's collection lists in "publicFields" (and _id).
	Public
	// Read reads whole documents.
	Read
	// Write reads, inserts, updates and deletes documents. Changing a
	// collection's configuration (PUT /config) needs an admin.
	Write
)

var permNames = [...]string{None: "none", Public: "public", Read: "read", Write: "write"}

// String is the permission's name as written in grants.
func (p Perm) String() string {
	if p < 0 || int(p) >= len(permNames) {
		return fmt.Sprintf("Perm(%d)", int(p))
	}
	return permNames[p]
}

// ParsePerm parses "none", "public", "read" or "write".
func ParsePerm(s string) (Perm, error) {
	for i, n := range permNames {
		if strings.EqualFold(s, n) {
			return Perm(i), nil
		}
	}
	return None, fmt.Errorf("%w: permission %q is not one of none, public, read, write", ErrInvalid, s)
}

// MarshalText writes the permission's name.
func (p Perm) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses a permission name.
func (p *Perm) UnmarshalText(b []byte) error {
	v, err := ParsePerm(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// BucketGrant is the grant key of a file bucket ("fs:<bucket>").
func BucketGrant(bucket string) string { return "fs:" + bucket }

// Kind says what a principal is.
type Kind string

// Kinds of principals.
const (
	// KindUser is a person who logged in with a password.
	KindUser Kind = "user"
	// KindApp is an application with an appId/keyId pair.
	KindApp Kind = "app"
	// KindAnonymous is a request without credentials.
	KindAnonymous Kind = "anonymous"
)

// Principal is who a request acts for.
type Principal struct {
	// ID is the user name or the appId ("" for anonymous requests).
	ID string
	// Kind says whether it is a user, an app or anonymous.
	Kind Kind
	// Admin may do everything, including managing layers, users and apps.
	Admin bool
	// Grants maps layer ids (and "fs:<bucket>") to permissions.
	Grants map[string]Perm
	// TokenHash identifies the login token used (users only), for logout
	// and renewal.
	TokenHash string
}

// Anonymous returns the principal of requests without credentials, with
// the given grants (usually none).
func Anonymous(grants map[string]Perm) *Principal {
	return &Principal{Kind: KindAnonymous, Grants: grants}
}

// Access returns the principal's permission on a layer or grant key.
func (p *Principal) Access(key string) Perm {
	if p == nil {
		return None
	}
	if p.Admin {
		return Write
	}
	return p.Grants[key]
}

// Can reports whether the principal has at least need on key.
func (p *Principal) Can(key string, need Perm) bool { return p.Access(key) >= need }

// Authenticated reports whether the principal presented valid credentials.
func (p *Principal) Authenticated() bool { return p != nil && p.Kind != KindAnonymous }

// RateKey is the key rate limits are counted under.
func (p *Principal) RateKey() string { return string(p.Kind) + ":" + p.ID }

// PublicFields returns the public attributes declared for a collection: the
// collection's "publicFields" attribute (an array of dotted paths) or, when
// it has none, the layer config's "publicFields" object keyed by collection
// name. Extra and config may be nil.
func PublicFields(extra, layerConfig map[string]any, collection string) []string {
	if v, ok := extra["publicFields"]; ok {
		return stringList(v)
	}
	if m, ok := layerConfig["publicFields"].(map[string]any); ok {
		return stringList(m[collection])
	}
	return nil
}

func stringList(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	case string:
		var out []string
		for f := range strings.SplitSeq(x, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
		return out
	}
	return nil
}

// FieldAllowed reports whether the dotted path may be read by a principal
// limited to public attributes: it must be _id, a public field, or lie
// inside one.
func FieldAllowed(public []string, path string) bool {
	if path == "_id" {
		return true
	}
	for _, p := range public {
		if path == p || strings.HasPrefix(path, p+".") {
			return true
		}
	}
	return false
}
