package api

import (
	"net/http/httptest"
	"testing"
)

func TestClientIP(t *testing.T) {
	cases := []struct {
		name    string
		proxies []string
		peer    string
		xff     []string
		want    string
	}{
		{"no proxies: the header is ignored", nil, "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"untrusted peer", []string{"10.0.0.0/8"}, "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted peer", []string{"10.0.0.1"}, "10.0.0.1:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client-chosen hops before the real one", []string{"10.0.0.0/8"}, "10.0.0.1:5000",
			[]string{"1.1.1.1, 198.51.100.1", "10.0.0.2"}, "198.51.100.1"},
		{"garbled hop", []string{"10.0.0.0/8"}, "10.0.0.1:5000", []string{"nonsense"}, "10.0.0.1"},
		{"trusted peer without header", []string{"::1"}, "[::1]:5000", nil, "::1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Server{}
			s.Config.HTTP.TrustedProxies = c.proxies
			s.init()
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.peer
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := s.clientIP(r); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}
