package notify

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OAuth1Credentials are the four secrets of an OAuth 1.0a request: the
// application's consumer key and secret and the user's access token and
// secret.
type OAuth1Credentials struct {
	// ConsumerKey identifies the application.
	ConsumerKey string
	// ConsumerSecret is the application's secret.
	ConsumerSecret string
	// Token is the user's access token.
	Token string
	// TokenSecret is the access token's secret.
	TokenSecret string
}

// OAuth1Header returns the Authorization header of a request signed with
// OAuth 1.0a HMAC-SHA1 (RFC 5849). The body is not part of the signature,
// as for JSON bodies of the X API v2; query parameters of endpoint are.
func OAuth1Header(method, endpoint string, c OAuth1Credentials, nonce string, now time.Time) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("oauth1: endpoint %q: %w", endpoint, err)
	}
	params := map[string]string{
		"oauth_consumer_key":     c.ConsumerKey,
		"oauth_nonce":            nonce,
		"oauth_signature_method": "HMAC-SHA1",
		"oauth_timestamp":        strconv.FormatInt(now.Unix(), 10),
		"oauth_token":            c.Token,
		"oauth_version":          "1.0",
	}
	all := map[string][]string{}
	for k, v := range params {
		all[k] = []string{v}
	}
	for k, vs := range u.Query() {
		all[k] = append(all[k], vs...)
	}
	params["oauth_signature"] = OAuth1Signature(method, u, all, c.ConsumerSecret, c.TokenSecret)
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(params)) {
		parts = append(parts, fmt.Sprintf(`%s="%s"`, pctEncode(k), pctEncode(params[k])))
	}
	return "OAuth " + strings.Join(parts, ", "), nil
}

// OAuth1Signature computes an OAuth 1.0a HMAC-SHA1 signature over the
// method, the endpoint without its query and fragment, and the given
// parameters (the oauth_* ones and the request's query and form parameters).
func OAuth1Signature(method string, endpoint *url.URL, params map[string][]string, consumerSecret, tokenSecret string) string {
	base := *endpoint
	base.RawQuery, base.Fragment = "", ""
	var pairs []string
	for _, k := range slices.Sorted(maps.Keys(params)) {
		for _, v := range slices.Sorted(slices.Values(params[k])) {
			pairs = append(pairs, pctEncode(k)+"="+pctEncode(v))
		}
	}
	sigBase := strings.ToUpper(method) + "&" + pctEncode(base.String()) + "&" + pctEncode(strings.Join(pairs, "&"))
	mac := hmac.New(sha1.New, []byte(pctEncode(consumerSecret)+"&"+pctEncode(tokenSecret)))
	mac.Write([]byte(sigBase))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// pctEncode is RFC 3986 percent-encoding (unreserved characters kept), as
// OAuth 1.0a requires.
func pctEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
