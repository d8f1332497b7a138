package listen

import "testing"

func TestAddr(t *testing.T) {
	cases := []struct {
		in          Addr
		wantEnabled bool
		wantHP      string
		wantErr     bool
	}{
		{":8080", true, ":8080", false},
		{"127.0.0.1:0", true, "127.0.0.1:0", false},
		{"127.0.0.1:-1", true, "127.0.0.1:-1", false},
		{"[::1]:4222", true, "[::1]:4222", false},
		{"off", false, "", false},
		{"", false, "", true},
		{"localhost", true, "localhost", true},
		{"host:", true, "host:", true},
		{"OFF", true, "OFF", true},
	}
	for _, c := range cases {
		if got := c.in.Enabled(); got != c.wantEnabled {
			t.Errorf("%q.Enabled(): got %v, want %v", c.in, got, c.wantEnabled)
		}
		if got := c.in.HostPort(); got != c.wantHP {
			t.Errorf("%q.HostPort(): got %q, want %q", c.in, got, c.wantHP)
		}
		if err := c.in.Check(); (err != nil) != c.wantErr {
			t.Errorf("%q.Check(): got %v, want error %v", c.in, err, c.wantErr)
		}
	}
	if got := Addr("").Or(":1"); got != ":1" {
		t.Errorf(`"".Or(":1"): got %q, want ":1"`, got)
	}
	if got := Off.Or(":1"); got != Off {
		t.Errorf(`"off".Or(":1"): got %q, want "off"`, got)
	}
}
