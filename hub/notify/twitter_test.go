package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOAuth1Vector checks the signature against Twitter's documented
// example ("Creating a signature").
func TestOAuth1Vector(t *testing.T) {
	params := map[string][]string{
		"status":                 {"Hello Ladies + Gentlemen, a signed OAuth request!"},
		"include_entities":       {"true"},
		"oauth_consumer_key":     {"xvz1evFS4wEEPTGEFPHBog"},
		"oauth_nonce":            {"kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"},
		"oauth_signature_method": {"HMAC-SHA1"},
		"oauth_timestamp":        {"1318622958"},
		"oauth_token":            {"370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"},
		"oauth_version":          {"1.0"},
	}
	u, _ := url.Parse("https://api.twitter.com/1.1/statuses/update.json")
	got := OAuth1Signature("POST", u, params,
		"kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw", "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE")
	if want := "hCtSmYh+iHYCEqBWrE7C7hYmtUk="; got != want {
		t.Fatalf("twitter example signature: got %q, want %q", got, want)
	}
}

func TestPctEncode(t *testing.T) {
	cases := []struct{ in, want string }{
		{"abc-._~XYZ019", "abc-._~XYZ019"},
		{"Ladies + Gentlemen", "Ladies%20%2B%20Gentlemen"},
		{"a/b?c=d&e", "a%2Fb%3Fc%3Dd%26e"},
		{"é", "%C3%A9"},
		{"", ""},
	}
	for _, c := range cases {
		if got := pctEncode(c.in); got != c.want {
			t.Errorf("pctEncode(%q): got %q, want %q", c.in, got, c.want)
		}
	}
}

func parseOAuth(t *testing.T, h string) map[string]string {
	t.Helper()
	rest, ok := strings.CutPrefix(h, "OAuth ")
	if !ok {
		t.Fatalf("Authorization %q does not start with OAuth", h)
	}
	out := map[string]string{}
	for _, kv := range strings.Split(rest, ", ") {
		k, v, _ := strings.Cut(kv, "=")
		v, _ = url.PathUnescape(strings.Trim(v, `"`))
		out[k] = v
	}
	return out
}

func TestTwitterPost(t *testing.T) {
	type call struct{ auth, body, path, query string }
	var mu sync.Mutex
	var calls []call
	tw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, call{r.Header.Get("Authorization"), string(b), r.URL.Path, r.URL.RawQuery})
		mu.Unlock()
		if strings.Contains(string(b), "fail") {
			http.Error(w, `{"title":"Forbidden"}`, http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"data":{"id":"1","text":"Hello Twitter"}}`)
	}))
	defer tw.Close()
	cred := OAuth1Credentials{ConsumerKey: "twitter_consumer_key", ConsumerSecret: "twitter_consumer_secret",
		Token: "twitter_access_token_key", TokenSecret: "twitter_access_token_secret"}
	cases := []struct {
		name, endpoint, status string
		wantStatus             string // "" = posted; else the EndpointError status
	}{
		{"posted", tw.URL + "/2/tweets", "Hello Twitter", ""},
		{"query signed", tw.URL + "/2/tweets?dry_run=true", "Hello again", ""},
		{"refused", tw.URL + "/2/tweets", "fail please", "403 Forbidden"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := (&Twitter{Endpoint: c.endpoint}).Post(context.Background(), cred, c.status)
			var ee *EndpointError
			switch {
			case c.wantStatus == "" && err != nil:
				t.Fatalf("Post: %v", err)
			case c.wantStatus != "" && (!errors.As(err, &ee) || ee.Status != c.wantStatus || !strings.Contains(ee.Body, "Forbidden")):
				t.Fatalf("Post: got %v, want an EndpointError with status %q", err, c.wantStatus)
			}
			mu.Lock()
			got := calls[i]
			mu.Unlock()
			if got.path != "/2/tweets" || got.body != `{"text":"`+c.status+`"}` {
				t.Fatalf("request: got path %q body %q", got.path, got.body)
			}
			// Check the OAuth 1.0a signature as the endpoint would.
			params := parseOAuth(t, got.auth)
			if params["oauth_consumer_key"] != cred.ConsumerKey || params["oauth_token"] != cred.Token {
				t.Fatalf("oauth params: got %v", params)
			}
			sig := params["oauth_signature"]
			delete(params, "oauth_signature")
			all := map[string][]string{}
			for k, v := range params {
				all[k] = []string{v}
			}
			q, _ := url.ParseQuery(got.query)
			for k, vs := range q {
				all[k] = append(all[k], vs...)
			}
			u, _ := url.Parse(c.endpoint)
			if want := OAuth1Signature("POST", u, all, cred.ConsumerSecret, cred.TokenSecret); sig != want {
				t.Fatalf("signature: got %q, want %q", sig, want)
			}
			if ts, _ := strconv.ParseInt(params["oauth_timestamp"], 10, 64); time.Since(time.Unix(ts, 0)) > time.Minute {
				t.Fatalf("timestamp: got %v, want about now", params["oauth_timestamp"])
			}
		})
	}
	// An endpoint that does not answer.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	if err := (&Twitter{Endpoint: dead.URL}).Post(context.Background(), cred, "x"); err == nil || !strings.Contains(err.Error(), "post the tweet") {
		t.Fatalf("closed endpoint: got %v, want a post error", err)
	}
}
