package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/api"
	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/ingest"
	"github.com/gridedge/gridedge/hub/listen"
	"github.com/gridedge/gridedge/hub/notify"
	"github.com/gridedge/gridedge/shared/config"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hub.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigErrors: strict decoding and Validate name the path of every
// offending field, the API's sections included, all at once.
func TestConfigErrors(t *testing.T) {
	cases := []struct {
		yaml string
		want []string
	}{
		{"layers:\n  - _id: config\n", []string{"layers[0]._id", "reserved"}},
		{"layers:\n  - _id: system\n", []string{"reserved"}},
		{"auth:\n  anonymous:\n    demo: write\n", []string{"auth.anonymous.demo", "public or read"}},
		{"auth:\n  anonymous:\n    system: read\n", []string{"auth.anonymous.system", "admins only"}},
		{"auth:\n  anonymous:\n    demo: everything\n", []string{"auth.anonymous.demo"}},
		{"auth:\n  tokenTTL: 1s\n", []string{"auth.tokenTTL"}},
		{"auth:\n  bcryptCost: 40\n", []string{"auth.bcryptCost", "40"}},
		{"auth:\n  credentialCache: {ttl: 2m}\n", []string{"auth.credentialCache.ttl", "2m"}},
		{"notify:\n  smtp:\n    host: mail\n    tls: ssl\n", []string{"notify.smtp.tls"}},
		{"notify:\n  smtp:\n    username: hub\n", []string{"notify.smtp.host"}},
		{"notify:\n  twitterEndpoint: ftp://x\n", []string{"notify.twitterEndpoint"}},
		{"http:\n  defaultLimit: 20000\n", []string{"http.defaultLimit"}},
		{"http:\n  maxBodyBytes: 10\n", []string{"http.maxBodyBytes"}},
		{"http:\n  rateLimit:\n    perSecond: -1\n", []string{"http.rateLimit.perSecond"}},
		{"http:\n  listen: localhost\n", []string{"http.listen", "host:port or \"off\""}},
		{"nats:\n  listen: 4222\n", []string{"nats.listen"}},
		{"nats:\n  leafListen: nowhere\n", []string{"nats.leafListen"}},
		{"nats:\n  tls: {certFile: c.pem}\n  leafTLS: {keyFile: k.pem}\n", []string{"nats.tls", "nats.leafTLS", "certFile and keyFile"}},
		{"nats:\n  requireTLS: true\n", []string{"nats.requireTLS", "nats.tls is not", "nats.leafTLS is not"}},
		{"nats:\n  requireTLS: true\n  listen: 'off'\n  leafTLS: {certFile: c.pem, keyFile: k.pem, caFiel: ca.pem}\n", []string{"nats.leafTLS.caFiel", "unknown field"}},
		{"gateway:\n  timeout: -1s\n", []string{"gateway.timeout"}},
		{"store:\n  backend: sqlite\n", []string{"store.backend"}},
		{"store:\n  maxQueryTime: 1ms\n", []string{"store.maxQueryTime", "1ms", "shorter than 10ms"}},
		{"logLevel: loud\n", []string{"logLevel"}},
		{"gcPercent: -5\n", []string{"gcPercent", "-5", "negative"}},
		{"history:\n  backend: remote\n  remote: {writeURL: 'http://vm/api/v1/write', readURL: 'http://vm'}\n  downsample: [{resolution: 1h}]\n",
			[]string{"history.downsample", "the remote engine's job"}},
		{"history:\n  downsample: [{resolution: 7m}, {resolution: 1h}]\n", []string{"history.downsample", "not a multiple of 7m"}},
		{"edges:\n  - {id: e1, password: short}\n  - {id: e1, password: long-enough}\n", []string{"edges[0].password", "edges[1].id", "twice"}},
		{"edges:\n  - {id: e1, password: long-enough, layers: [{layer: system}, {layer: 'a b', collections: ['x.y']}]}\n",
			[]string{"edges[0].layers[0].layer", "reserved", "edges[0].layers[1].layer", "edges[0].layers[1].collections[0]"}},
		{"edges:\n  - {id: e1, password: long-enough, layerz: []}\n", []string{"edges[0].layerz", "unknown field"}},
		// Strict decoding reaches into the embedded API sections.
		{"auth:\n  unknownKey: 1\n", []string{"auth.unknownKey", "unknown field"}},
		{"http:\n  listne: ':80'\n", []string{"http.listne", "unknown field"}},
		{"notify:\n  smtp:\n    insecureSkipVerify: true\n", []string{"notify.smtp.insecureSkipVerify", "unknown field"}},
		{"api:\n  http: {}\n", []string{"api", "unknown field"}},
		// Every problem at once, across the hub's and the API's sections.
		{"domain: a.b\nhttp: {defaultLimit: -1}\nnotify: {smtp: {port: 99999}}\nnats: {listen: x}\n",
			[]string{"domain", "http.defaultLimit", "notify.smtp.port", "nats.listen"}},
	}
	for _, c := range cases {
		_, err := Load(writeConfig(t, c.yaml))
		if err == nil {
			t.Errorf("%q: got no error, want one mentioning %v", c.yaml, c.want)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: got error %q, want it to mention %q", c.yaml, err, w)
			}
		}
	}
}

// TestConfigLoad: a complete configuration decodes into the embedded API
// config, and unset fields take their defaults.
func TestConfigLoad(t *testing.T) {
	cfg, err := Load(writeConfig(t, `
http:
  listen: "off"
  rateLimit: {perSecond: 50, burst: 10}
  maxLimit: 500
  maxBodyBytes: 1048576
auth:
  tokenTTL: 2h
  anonymous: {demo: public}
  credentialCache: {off: true}
notify:
  smtp: {host: smtp.example.com, port: 587, username: hub, password: $SMTP_PASSWORD, from: hub@example.com, timeout: 5s}
  twitterEndpoint: https://api.twitter.com/2/tweets
gateway: {timeout: 5s}
nats: {listen: "off", leafListen: "127.0.0.1:7422"}
`))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"http.listen", cfg.HTTP.Listen, listen.Off},
		{"http enabled", cfg.HTTP.Listen.Enabled(), false},
		{"http.rateLimit", cfg.HTTP.RateLimit, api.RateLimitConfig{PerSecond: 50, Burst: 10}},
		{"http.defaultLimit (capped by maxLimit)", cfg.HTTP.DefaultLimit, 500},
		{"http.maxUploadBytes", cfg.HTTP.MaxUploadBytes, int64(api.DefaultMaxUploadBytes)},
		{"auth.tokenTTL", cfg.Auth.TokenTTL.Std(), 2 * time.Hour},
		{"auth.anonymous.demo", cfg.Auth.Anonymous["demo"], auth.Public},
		{"auth.bcryptCost", cfg.Auth.BcryptCost, api.DefaultBcryptCost},
		{"notify.smtp.password", cfg.Notify.SMTP.Password, "$SMTP_PASSWORD"},
		{"notify.smtp.timeout", cfg.Notify.SMTP.Timeout.Std(), 5 * time.Second},
		{"gateway.timeout", cfg.Gateway.Timeout.Std(), 5 * time.Second},
		{"nats.listen", cfg.NATS.Listen.HostPort(), ""},
		{"nats.leafListen", cfg.NATS.LeafListen.HostPort(), "127.0.0.1:7422"},
		{"auth options TTL", cfg.Auth.AuthOptions().TokenTTL, 2 * time.Hour},
		{"auth options cache off", cfg.Auth.AuthOptions().CacheTTL < 0, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}

	def, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	defaults := []struct {
		name      string
		got, want any
	}{
		{"http.listen", def.HTTP.Listen, api.DefaultListen},
		{"nats.listen", def.NATS.Listen, listen.Addr("127.0.0.1:4222")},
		{"nats.leafListen", def.NATS.LeafListen, listen.Addr(":7422")},
		{"http.rateLimit.perSecond", def.HTTP.RateLimit.PerSecond, float64(api.DefaultPerSecond)},
		{"http.defaultLimit", def.HTTP.DefaultLimit, api.DefaultLimit},
		{"auth.tokenTTL", def.Auth.TokenTTL.Std(), api.DefaultTokenTTL},
		{"auth.credentialCache.ttl", def.Auth.AuthOptions().CacheTTL, auth.DefaultCacheTTL},
		{"notify.twitterEndpoint", def.Notify.TwitterEndpoint, notify.DefaultTwitterEndpoint},
		{"gateway.timeout", def.Gateway.Timeout.Std(), api.DefaultGatewayTimeout},
	}
	for _, c := range defaults {
		if c.got != c.want {
			t.Errorf("default %s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestValidateReportsFieldErrors: Validate's error is a config.Errors whose
// paths start at the top of the file, for the API's sections too.
func TestValidateReportsFieldErrors(t *testing.T) {
	var c Config
	c.Defaults()
	c.HTTP.MaxUploadBytes = 1
	c.Notify.SMTP.TLS = "tls"
	err := c.Validate()
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("Validate: got %T %v, want config.Errors", err, err)
	}
	var paths []string
	for _, e := range es {
		paths = append(paths, e.Path)
	}
	if got, want := strings.Join(paths, ","), "http.maxUploadBytes,notify.smtp.tls"; got != want {
		t.Fatalf("paths: got %s, want %s", got, want)
	}
}

// TestShippedConfigs: the example configurations decode and validate.
func TestShippedConfigs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*", "hub*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example hub configs found (%v)", err)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// Edges write only where their allow-list says, and layers are not created
// by batches unless the config asks for it.
func TestEdgeAllowListsAndCreateMissingDefault(t *testing.T) {
	c, err := Load(writeConfig(t, "edges:\n  - id: e1\n    password: long-enough\n    layers: [{layer: site, collections: [meters]}, {layer: lab}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := *c.Ingest.CreateMissing; got {
		t.Errorf("ingest.createMissing defaults to %v, want false", got)
	}
	if got, want := c.Ingest.MaxSeqJump, uint64(ingest.DefaultMaxSeqJump); got != want {
		t.Errorf("ingest.maxSeqJump defaults to %d, want %d", got, want)
	}
	want := []ingest.LayerGrant{{Layer: "site", Collections: []string{"meters"}}, {Layer: "lab"}}
	if got := c.Edges[0].Layers; !reflect.DeepEqual(got, want) {
		t.Errorf("edges[0].layers = %+v, want %+v", got, want)
	}
	if got := c.Edges[0].ID; got != "e1" {
		t.Errorf("edges[0].id = %q, want e1", got)
	}
}
