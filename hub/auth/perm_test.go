package auth

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestParsePerm(t *testing.T) {
	cases := []struct {
		in      string
		want    Perm
		wantErr bool
	}{
		{"none", None, false},
		{"public", Public, false},
		{"read", Read, false},
		{"write", Write, false},
		{"WRITE", Write, false},
		{"Public", Public, false},
		{"", None, true},
		{"admin", None, true},
		{"rw", None, true},
	}
	for _, c := range cases {
		got, err := ParsePerm(c.in)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("ParsePerm(%q): got %v, %v; want %v, error %v", c.in, got, err, c.want, c.wantErr)
		}
		if err != nil && errClass(err) != "invalid" {
			t.Errorf("ParsePerm(%q): got %v, want ErrInvalid", c.in, err)
		}
	}
}

func TestPermText(t *testing.T) {
	for _, p := range []Perm{None, Public, Read, Write} {
		b, err := json.Marshal(map[string]Perm{"demo": p})
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]Perm
		if err := json.Unmarshal(b, &back); err != nil || back["demo"] != p {
			t.Errorf("%v through JSON %s: got %v, %v", p, b, back["demo"], err)
		}
	}
	if got := Perm(7).String(); got != "Perm(7)" {
		t.Errorf("Perm(7).String(): got %q", got)
	}
	var p Perm
	if err := json.Unmarshal([]byte(`"superuser"`), &p); err == nil {
		t.Error(`unmarshal "superuser": got no error`)
	}
}

// TestAccessPerLayer: what a principal may do on each layer, per level:
// write includes read includes public-only.
func TestAccessPerLayer(t *testing.T) {
	user := &Principal{ID: "alice", Kind: KindUser, Grants: map[string]Perm{"pub": Public, "data": Read, "ops": Write, BucketGrant("fs"): Read}}
	admin := &Principal{ID: AdminUser, Kind: KindUser, Admin: true}
	anon := Anonymous(map[string]Perm{"pub": Public})
	var nobody *Principal
	cases := []struct {
		name  string
		p     *Principal
		layer string
		want  Perm
	}{
		{"public-only layer", user, "pub", Public},
		{"read layer", user, "data", Read},
		{"write layer", user, "ops", Write},
		{"ungranted layer", user, "other", None},
		{"bucket", user, "fs:fs", Read},
		{"admin anywhere", admin, "anything", Write},
		{"admin on system", admin, SystemLayer, Write},
		{"anonymous granted", anon, "pub", Public},
		{"anonymous elsewhere", anon, "data", None},
		{"nil principal", nobody, "pub", None},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.p.Access(c.layer); got != c.want {
				t.Fatalf("Access(%q): got %v, want %v", c.layer, got, c.want)
			}
			for _, need := range []Perm{Public, Read, Write} {
				if got, want := c.p.Can(c.layer, need), c.want >= need; got != want {
					t.Errorf("Can(%q, %v): got %v, want %v", c.layer, need, got, want)
				}
			}
		})
	}
	auth := []struct {
		name string
		p    *Principal
		want bool
		key  string
	}{
		{"user", user, true, "user:alice"},
		{"app", &Principal{ID: "A1", Kind: KindApp}, true, "app:A1"},
		{"anonymous", anon, false, "anonymous:"},
		{"nil", nobody, false, ""},
	}
	for _, a := range auth {
		if got := a.p.Authenticated(); got != a.want {
			t.Errorf("%s Authenticated(): got %v, want %v", a.name, got, a.want)
		}
		if a.p != nil {
			if got := a.p.RateKey(); got != a.key {
				t.Errorf("%s RateKey(): got %q, want %q", a.name, got, a.key)
			}
		}
	}
}

func TestCheckGrants(t *testing.T) {
	cases := []struct {
		name    string
		grants  map[string]Perm
		wantErr bool
	}{
		{"nil", nil, false},
		{"layers and bucket", map[string]Perm{"demo": Write, "fs:fs": Read, "x": None}, false},
		{"space", map[string]Perm{"a b": Read}, true},
		{"dot in bucket", map[string]Perm{"fs:a.b": Read}, true},
		{"empty bucket", map[string]Perm{"fs:": Read}, true},
		{"negative permission", map[string]Perm{"demo": Perm(-1)}, true},
		{"permission above write", map[string]Perm{"demo": Write + 1}, true},
	}
	for _, c := range cases {
		err := CheckGrants(c.grants)
		if (err != nil) != c.wantErr || (err != nil && errClass(err) != "invalid") {
			t.Errorf("CheckGrants(%s): got %v, want error %v (ErrInvalid)", c.name, err, c.wantErr)
		}
	}
}

func TestPublicFieldsAndFieldAllowed(t *testing.T) {
	cfg := map[string]any{"publicFields": map[string]any{"meters": []any{"name", "geo.point"}, "sites": "label, address ,"}}
	cases := []struct {
		name        string
		extra, conf map[string]any
		collection  string
		want        []string
	}{
		{"from the layer config", nil, cfg, "meters", []string{"name", "geo.point"}},
		{"comma list in the layer config", nil, cfg, "sites", []string{"label", "address"}},
		{"collection not listed", nil, cfg, "other", nil},
		{"collection attribute wins", map[string]any{"publicFields": []any{"a", "", 3}}, cfg, "meters", []string{"a"}},
		{"collection attribute as []string", map[string]any{"publicFields": []string{"b"}}, nil, "x", []string{"b"}},
		{"nothing declared", nil, nil, "meters", nil},
	}
	for _, c := range cases {
		if got := PublicFields(c.extra, c.conf, c.collection); !slices.Equal(got, c.want) {
			t.Errorf("PublicFields(%s): got %v, want %v", c.name, got, c.want)
		}
	}
	public := []string{"name", "geo.point"}
	for path, want := range map[string]bool{
		"_id": true, "name": true, "name.first": true, "geo.point": true, "geo.point.coordinates": true,
		"geo": false, "names": false, "geo.pointer": false, "secret": false, "": false,
	} {
		if got := FieldAllowed(public, path); got != want {
			t.Errorf("FieldAllowed(%q): got %v, want %v", path, got, want)
		}
	}
	if FieldAllowed(nil, "name") || !FieldAllowed(nil, "_id") {
		t.Error("with no public fields only _id is allowed")
	}
}
