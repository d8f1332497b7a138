package notify

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; nil = valid
	}{
		{"defaults", Config{}, nil},
		{"complete", Config{SMTP: SMTPConfig{Host: "smtp.example.com", Port: 465, Username: "hub", TLS: TLSImplicit}}, nil},
		{"bad tls", Config{SMTP: SMTPConfig{Host: "mail", TLS: "ssl"}}, []string{"smtp.tls", `"ssl"`}},
		{"bad port", Config{SMTP: SMTPConfig{Host: "mail", Port: 70000}}, []string{"smtp.port", "70000"}},
		{"username without host", Config{SMTP: SMTPConfig{Username: "hub"}}, []string{"smtp.host"}},
		{"bad endpoint", Config{TwitterEndpoint: "ftp://x"}, []string{"twitterEndpoint", "ftp://x"}},
		{"all at once", Config{SMTP: SMTPConfig{Username: "u", TLS: "x", Port: -1}, TwitterEndpoint: "x"},
			[]string{"smtp.tls", "smtp.port", "smtp.host", "twitterEndpoint"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.Defaults()
			err := c.cfg.Validate()
			if c.want == nil {
				if err != nil {
					t.Fatalf("Validate: got %v, want nil", err)
				}
				if c.cfg.TwitterEndpoint != DefaultTwitterEndpoint && c.name == "defaults" {
					t.Fatalf("twitterEndpoint: got %q, want %q", c.cfg.TwitterEndpoint, DefaultTwitterEndpoint)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: got nil, want an error mentioning %v", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: got %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestSecret(t *testing.T) {
	t.Setenv("NOTIFY_TEST_SECRET", "from-env")
	cases := []struct{ in, want string }{
		{"plain", "plain"},
		{"$NOTIFY_TEST_SECRET", "from-env"},
		{"$NOTIFY_TEST_UNSET", ""},
		{"$", "$"},
		{"", ""},
	}
	for _, c := range cases {
		if got := secret(c.in); got != c.want {
			t.Errorf("secret(%q): got %q, want %q", c.in, got, c.want)
		}
	}
}
