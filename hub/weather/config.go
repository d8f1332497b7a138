package weather

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gridedge/gridedge/shared/config"
)

// Providers.
const (
	// ProviderWeatherbit is weatherbit.io (the seed's; needs apiKey).
	ProviderWeatherbit = "weatherbit"
	// ProviderOpenMeteo is Open-Meteo's API (keyless).
	ProviderOpenMeteo = "openmeteo"
)

// Defaults of Config.
const (
	// DefaultLayer holds the sites' weather: collection "current" (one
	// document per site, measurements in the history) and "forecast".
	DefaultLayer = "weather"
	// DefaultRefresh is how often a site's current weather is asked for
	// (seed: refreshRateSecsCurrent).
	DefaultRefresh = 15 * time.Minute
	// DefaultRefreshForecast is how often a site's forecast is asked for
	// (seed: refreshRateSecsForecasted).
	DefaultRefreshForecast = time.Hour
	// DefaultTimeout bounds one provider request.
	DefaultTimeout = 15 * time.Second
	// DefaultCacheFor is how long a REST answer is reused for the same
	// place, sparing the provider's quota.
	DefaultCacheFor = time.Minute
	// DefaultLease is how soon another hub takes the refresh over when the
	// one refreshing stops (several hubs on one NATS system).
	DefaultLease = 30 * time.Second
)

// Collections of the weather layer.
const (
	// CollectionCurrent holds a document per site with its current weather
	// as measurements.
	CollectionCurrent = "current"
	// CollectionForecast holds a document per site with its hourly forecast.
	CollectionForecast = "forecast"
)

// Config is the weather section of the hub's services config.
type Config struct {
	// Enabled serves the REST routes and refreshes the sites (default false).
	Enabled bool `json:"enabled,omitempty"`
	// Provider is "weatherbit" (default, the seed's) or "openmeteo".
	Provider string `json:"provider,omitempty"`
	// APIKey is weatherbit's key (seed: APIkey); "$NAME" reads the
	// environment variable NAME at start.
	APIKey string `json:"apiKey,omitempty"`
	// BaseURL is the provider API's root (default weatherbit's v2.0 or
	// Open-Meteo's forecast API).
	BaseURL string `json:"baseURL,omitempty"`
	// GeocodingURL is Open-Meteo's geocoding API, which places the city and
	// postalCode options (openmeteo only).
	GeocodingURL string `json:"geocodingURL,omitempty"`
	// Refresh is how often each site's current weather is asked for
	// (default 15m; seed: refreshRateSecsCurrent).
	Refresh config.Duration `json:"refresh,omitempty"`
	// RefreshForecast is how often each site's forecast is asked for
	// (default 1h; seed: refreshRateSecsForecasted).
	RefreshForecast config.Duration `json:"refreshForecast,omitempty"`
	// Hours of forecast asked for the sites (default 48; 0: no forecast;
	// above 48: 48, as the seed).
	Hours *int `json:"hours,omitempty"`
	// Timeout bounds one provider request (default 15s).
	Timeout config.Duration `json:"timeout,omitempty"`
	// CacheFor is how long a REST answer is reused for the same place
	// (default 1m; "0s"… is replaced by the default, use "1ns" to disable).
	CacheFor config.Duration `json:"cacheFor,omitempty"`
	// Lease is how soon another hub takes the refresh of the sites over
	// when the hub refreshing them stops renewing its lease (default 30s;
	// one hub of several refreshes, hub/weather's JetStream KV lease).
	Lease config.Duration `json:"lease,omitempty"`
	// Layer receives the sites' weather (default "weather").
	Layer string `json:"layer,omitempty"`
	// Sites are refreshed periodically (seed: sites).
	Sites []Site `json:"sites,omitempty"`
	// AMQP, when set, publishes every refresh to a RabbitMQ exchange.
	AMQP *AMQPConfig `json:"amqp,omitempty"`
}

// Site is a place refreshed periodically: the seed's query options and
// cityName, an optional topic, and the id of its documents.
type Site struct {
	// ID is the _id of the site's documents (default cityName).
	ID string `json:"id,omitempty"`
	Query
	// Topic replaces '#' in the AMQP topics (default the site's id).
	Topic string `json:"topic,omitempty"`
}

// AMQPConfig is where refreshed weather is published (seed 3.2.1.3, amqp).
type AMQPConfig struct {
	// Host and Port of the RabbitMQ server (port default 5672).
	Host string `json:"host"`
	Port int    `json:"port,omitempty"`
	// User and Password log in (default guest/guest); "$NAME" reads the
	// password from the environment variable NAME.
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	// VHost is the virtual host (default "/").
	VHost string `json:"vhost,omitempty"`
	// Exchange receives the messages; it is declared as a durable topic
	// exchange.
	Exchange string `json:"exchange"`
	// WeatherTopic is the routing key of current weather messages, '#'
	// replaced by the site's topic (default "weather.#").
	WeatherTopic string `json:"weatherTopic,omitempty"`
	// ForecastTopic is the routing key of forecast messages (default
	// "weatherforecast.#").
	ForecastTopic string `json:"forecastTopic,omitempty"`
	// TLS connects with amqps.
	TLS bool `json:"tls,omitempty"`
}

// URL is the AMQP URL of c, with the password resolved.
func (c *AMQPConfig) URL() string {
	scheme := "amqp"
	if c.TLS {
		scheme = "amqps"
	}
	u := url.URL{Scheme: scheme, Host: fmt.Sprintf("%s:%d", c.Host, c.Port),
		User: url.UserPassword(c.User, resolveEnv(c.Password)), Path: "/" + c.VHost}
	if c.VHost == "/" {
		u.Path = "/"
		return strings.TrimSuffix(u.String(), "/") + "/%2F"
	}
	return u.String()
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Provider == "" {
		c.Provider = ProviderWeatherbit
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultWeatherbitURL
		if c.Provider == ProviderOpenMeteo {
			c.BaseURL = DefaultOpenMeteoURL
		}
	}
	if c.GeocodingURL == "" {
		c.GeocodingURL = DefaultGeocodingURL
	}
	if c.Refresh == 0 {
		c.Refresh = config.Duration(DefaultRefresh)
	}
	if c.RefreshForecast == 0 {
		c.RefreshForecast = config.Duration(DefaultRefreshForecast)
	}
	if c.Hours == nil {
		h := MaxHours
		c.Hours = &h
	} else if *c.Hours > MaxHours {
		h := MaxHours
		c.Hours = &h
	}
	if c.Timeout == 0 {
		c.Timeout = config.Duration(DefaultTimeout)
	}
	if c.CacheFor == 0 {
		c.CacheFor = config.Duration(DefaultCacheFor)
	}
	if c.Lease == 0 {
		c.Lease = config.Duration(DefaultLease)
	}
	if c.Layer == "" {
		c.Layer = DefaultLayer
	}
	for i := range c.Sites {
		if c.Sites[i].ID == "" {
			c.Sites[i].ID = c.Sites[i].CityName
		}
		if c.Sites[i].Topic == "" {
			c.Sites[i].Topic = c.Sites[i].ID
		}
	}
	if a := c.AMQP; a != nil {
		if a.Port == 0 {
			a.Port = 5672
		}
		if a.User == "" {
			a.User, a.Password = "guest", "guest"
		}
		if a.VHost == "" {
			a.VHost = "/"
		}
		if a.WeatherTopic == "" {
			a.WeatherTopic = "weather.#"
		}
		if a.ForecastTopic == "" {
			a.ForecastTopic = "weatherforecast.#"
		}
	}
}

// Validate adds the problems of c to es, under path (the layer name is
// checked by the hub, which knows its reserved layers).
func (c *Config) Validate(path string, es *config.Errors) {
	if !c.Enabled {
		return
	}
	switch c.Provider {
	case ProviderWeatherbit:
		if resolveEnv(c.APIKey) == "" {
			es.Add(config.Join(path, "apiKey"), "weatherbit needs an API key (apiKey, or \"$NAME\" of a set environment variable)")
		}
	case ProviderOpenMeteo:
		if c.APIKey != "" {
			es.Add(config.Join(path, "apiKey"), "openmeteo takes no API key")
		}
	default:
		es.Add(config.Join(path, "provider"), "unknown provider %q (weatherbit or openmeteo)", c.Provider)
	}
	for _, f := range []struct{ name, v string }{{"baseURL", c.BaseURL}, {"geocodingURL", c.GeocodingURL}} {
		if u, err := url.Parse(f.v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			es.Add(config.Join(path, f.name), "%q is not an http(s) URL", f.v)
		}
	}
	for _, d := range []struct {
		name string
		v    config.Duration
	}{{"refresh", c.Refresh}, {"refreshForecast", c.RefreshForecast}, {"timeout", c.Timeout}, {"cacheFor", c.CacheFor}, {"lease", c.Lease}} {
		if d.v < 0 {
			es.Add(config.Join(path, d.name), "%v is negative", time.Duration(d.v))
		}
	}
	if c.Refresh > 0 && c.Refresh.Std() < time.Minute {
		es.Add(config.Join(path, "refresh"), "%v is shorter than 1m (providers limit calls)", c.Refresh.Std())
	}
	if c.Hours != nil && *c.Hours < 0 {
		es.Add(config.Join(path, "hours"), "%d is negative (0: no forecast)", *c.Hours)
	}
	seen := map[string]int{}
	for i, s := range c.Sites {
		p := config.Index(config.Join(path, "sites"), i)
		if err := s.Validate(); err != nil {
			es.Add(p, "%s", strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
		}
		if j, dup := seen[s.ID]; dup && s.ID != "" {
			es.Add(config.Join(p, "id"), "%q is also the id of sites[%d]", s.ID, j)
		}
		seen[s.ID] = i
	}
	if a := c.AMQP; a != nil {
		p := config.Join(path, "amqp")
		if a.Host == "" {
			es.Add(config.Join(p, "host"), "is empty")
		}
		if a.Exchange == "" {
			es.Add(config.Join(p, "exchange"), "is empty")
		}
		if a.Port < 1 || a.Port > 65535 {
			es.Add(config.Join(p, "port"), "%d is not a port", a.Port)
		}
	}
}

// resolveEnv returns s, or the environment variable it names as "$NAME".
func resolveEnv(s string) string {
	if name, ok := strings.CutPrefix(s, "$"); ok && name != "" {
		return os.Getenv(name)
	}
	return s
}
