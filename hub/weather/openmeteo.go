package weather

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Defaults of OpenMeteo.
const (
	// DefaultOpenMeteoURL is Open-Meteo's forecast API.
	DefaultOpenMeteoURL = "https://api.open-meteo.com"
	// DefaultGeocodingURL is Open-Meteo's geocoding API, which places the
	// city and postal-code options.
	DefaultGeocodingURL = "https://geocoding-api.open-meteo.com"
)

// OpenMeteo is the keyless provider: Open-Meteo's forecast API
// (GET <base>/v1/forecast with current= and hourly= variables, SI units)
// and, for the city and postal-code options, its geocoding API
// (GET <geocoding>/v1/search).
type OpenMeteo struct {
	// BaseURL is the forecast API's root (DefaultOpenMeteoURL).
	BaseURL string
	// GeocodingURL is the geocoding API's root (DefaultGeocodingURL).
	GeocodingURL string
	// Client makes the requests.
	Client *http.Client
}

// omCurrentVars and omHourlyVars are the variables asked for; the
// response carries one field (current) or one array (hourly) per name.
var (
	omCurrentVars = []string{"temperature_2m", "relative_humidity_2m", "apparent_temperature", "dew_point_2m",
		"precipitation", "snowfall", "cloud_cover", "pressure_msl", "surface_pressure", "wind_speed_10m",
		"wind_direction_10m", "visibility", "uv_index", "shortwave_radiation", "diffuse_radiation", "direct_normal_irradiance"}
	omHourlyVars = append(append([]string{}, omCurrentVars...), "wind_gusts_10m", "cloud_cover_low",
		"cloud_cover_mid", "cloud_cover_high", "precipitation_probability", "snow_depth")
)

// omBody is the forecast API's response.
type omBody struct {
	Latitude  float64                       `json:"latitude"`
	Longitude float64                       `json:"longitude"`
	Current   map[string]json.RawMessage    `json:"current"`
	Hourly    map[string][]*json.RawMessage `json:"hourly"`
}

// Current asks the forecast API for current= variables.
func (o *OpenMeteo) Current(ctx context.Context, q Query) (Current, error) {
	var body omBody
	if err := o.fetch(ctx, q, "current", omCurrentVars, 0, &body); err != nil {
		return Current{}, err
	}
	if body.Current == nil {
		return Current{}, fmt.Errorf("%w: open-meteo: response without current", ErrProvider)
	}
	var ts string
	if err := json.Unmarshal(body.Current["time"], &ts); err != nil {
		return Current{}, fmt.Errorf("%w: open-meteo: current without time", ErrProvider)
	}
	t, err := time.Parse("2006-01-02T15:04", ts)
	if err != nil {
		return Current{}, fmt.Errorf("%w: open-meteo: current time %q: %v", ErrProvider, ts, err)
	}
	v := func(name string) *float64 {
		var f *float64
		_ = json.Unmarshal(body.Current[name], &f)
		return f
	}
	c := Current{
		Location:  Location{Name: q.CityName, Latitude: body.Latitude, Longitude: body.Longitude},
		Timestamp: t, AtmosphericPressure: v("surface_pressure"), SeaLevelPressure: v("pressure_msl"),
		WindSpeed: v("wind_speed_10m"), WindDirection: v("wind_direction_10m"),
		Temperature: v("temperature_2m"), ApparentTemperature: v("apparent_temperature"),
		RelativeHumidity: v("relative_humidity_2m"), DewPoint: v("dew_point_2m"), CloudCoverage: v("cloud_cover"),
		Visibility: scale(v("visibility"), 0.001), PrecipitationAccumulation: v("precipitation"),
		SnowfallAccumulation: scale(v("snowfall"), 10), UltravioletIndex: v("uv_index"),
		DiffuseHorizontalSolarIrradiance: v("diffuse_radiation"), DirectNormalSolarIrradiance: v("direct_normal_irradiance"),
		GlobalHorizontalSolarIrradiance: v("shortwave_radiation"), SolarRadiation: v("shortwave_radiation"),
	}
	if c.WindDirection != nil {
		c.WindDirectionCardinal = cardinal(*c.WindDirection)
	}
	return c, nil
}

// Forecast asks the forecast API for hourly= variables over the next
// hours hours.
func (o *OpenMeteo) Forecast(ctx context.Context, q Query, hours int) ([]Forecast, error) {
	var body omBody
	if err := o.fetch(ctx, q, "hourly", omHourlyVars, hours, &body); err != nil {
		return nil, err
	}
	times := body.Hourly["time"]
	if len(times) == 0 {
		return nil, fmt.Errorf("%w: open-meteo: response without hourly.time", ErrProvider)
	}
	for name, col := range body.Hourly {
		if len(col) != len(times) {
			return nil, fmt.Errorf("%w: open-meteo: hourly.%s has %d values for %d times", ErrProvider, name, len(col), len(times))
		}
	}
	loc := Location{Name: q.CityName, Latitude: body.Latitude, Longitude: body.Longitude}
	out := make([]Forecast, 0, min(len(times), hours))
	for i := range times[:min(len(times), hours)] {
		var ts string
		if times[i] == nil || json.Unmarshal(*times[i], &ts) != nil {
			return nil, fmt.Errorf("%w: open-meteo: hourly.time[%d] is not a time", ErrProvider, i)
		}
		t, err := time.Parse("2006-01-02T15:04", ts)
		if err != nil {
			return nil, fmt.Errorf("%w: open-meteo: hourly.time[%d] %q: %v", ErrProvider, i, ts, err)
		}
		v := func(name string) *float64 {
			col := body.Hourly[name]
			if i >= len(col) || col[i] == nil {
				return nil
			}
			var f *float64
			_ = json.Unmarshal(*col[i], &f)
			return f
		}
		f := Forecast{
			Location: loc, Timestamp: t, AtmosphericPressure: v("surface_pressure"), SeaLevelPressure: v("pressure_msl"),
			WindSpeed: v("wind_speed_10m"), WindDirection: v("wind_direction_10m"), WindGustSpeed: v("wind_gusts_10m"),
			Temperature: v("temperature_2m"), ApparentTemperature: v("apparent_temperature"),
			RelativeHumidity: v("relative_humidity_2m"), DewPoint: v("dew_point_2m"), CloudCoverage: v("cloud_cover"),
			CloudCoverageHighLevel: v("cloud_cover_high"), CloudCoverageMidLevel: v("cloud_cover_mid"),
			CloudCoverageLowLevel: v("cloud_cover_low"), Visibility: scale(v("visibility"), 0.001),
			PrecipitationAccumulation: v("precipitation"), PrecipitationProbability: v("precipitation_probability"),
			SnowfallAccumulation: scale(v("snowfall"), 10), SnowDepth: scale(v("snow_depth"), 1000),
			UltravioletIndex: v("uv_index"), DiffuseHorizontalSolarIrradiance: v("diffuse_radiation"),
			DirectNormalSolarIrradiance:     v("direct_normal_irradiance"),
			GlobalHorizontalSolarIrradiance: v("shortwave_radiation"), SolarRadiation: v("shortwave_radiation"),
		}
		if f.WindDirection != nil {
			f.WindDirectionCardinal = cardinal(*f.WindDirection)
		}
		out = append(out, f)
	}
	return out, nil
}

// fetch places q, then asks the forecast API for vars in UTC, SI units
// (wind in m/s).
func (o *OpenMeteo) fetch(ctx context.Context, q Query, kind string, vars []string, hours int, body *omBody) error {
	lat, lon, err := o.place(ctx, q)
	if err != nil {
		return err
	}
	u, err := joinURL(o.BaseURL, "/v1/forecast")
	if err != nil {
		return err
	}
	p := u.Query()
	p.Set("latitude", strconv.FormatFloat(lat, 'f', -1, 64))
	p.Set("longitude", strconv.FormatFloat(lon, 'f', -1, 64))
	p.Set(kind, strings.Join(vars, ","))
	p.Set("timezone", "GMT")
	p.Set("wind_speed_unit", "ms")
	if hours > 0 {
		p.Set("forecast_hours", strconv.Itoa(hours))
	}
	u.RawQuery = p.Encode()
	return getJSON(ctx, o.Client, u, body, omError)
}

// place returns q's coordinates, asking the geocoding API for the city
// and postal-code options (the first match, in q's country if given).
func (o *OpenMeteo) place(ctx context.Context, q Query) (lat, lon float64, err error) {
	if q.Lat != nil && q.Lon != nil {
		return *q.Lat, *q.Lon, nil
	}
	name, country := q.PostalCode, q.Country
	if name == "" {
		name = q.City
		// "Valencia,ES" carries its country
		if c, cc, ok := strings.Cut(name, ","); ok && country == "" && isAlpha2(strings.TrimSpace(cc)) {
			name, country = strings.TrimSpace(c), strings.TrimSpace(cc)
		}
	}
	u, err := joinURL(o.GeocodingURL, "/v1/search")
	if err != nil {
		return 0, 0, err
	}
	p := u.Query()
	p.Set("name", name)
	p.Set("count", "1")
	p.Set("format", "json")
	if country != "" {
		p.Set("countryCode", strings.ToUpper(country))
	}
	u.RawQuery = p.Encode()
	var body struct {
		Results []struct {
			Latitude  float64 `json:"latitude"`
			Longitude float64 `json:"longitude"`
		} `json:"results"`
	}
	if err := getJSON(ctx, o.Client, u, &body, omError); err != nil {
		return 0, 0, err
	}
	if len(body.Results) == 0 {
		return 0, 0, fmt.Errorf("%w: open-meteo geocoding knows no %q (country %q)", ErrNotFound, name, country)
	}
	return body.Results[0].Latitude, body.Results[0].Longitude, nil
}

// omError reads Open-Meteo's error body {"error": true, "reason": "…"}.
func omError(body []byte) string {
	var e struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Reason
}

func scale(f *float64, k float64) *float64 {
	if f == nil {
		return nil
	}
	return ptr(*f * k)
}
