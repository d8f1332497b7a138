package weather

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// DefaultWeatherbitURL is weatherbit.io's API (v2.0).
const DefaultWeatherbitURL = "https://api.weatherbit.io/v2.0"

// Weatherbit is the seed's provider: weatherbit.io's current weather
// (GET <base>/current) and hourly forecast (GET <base>/forecast/hourly)
// with an API key.
type Weatherbit struct {
	// BaseURL is the API's root (DefaultWeatherbitURL).
	BaseURL string
	// Key is the API key (query parameter key).
	Key string
	// Client makes the requests.
	Client *http.Client
}

// wbCurrent is one observation of weatherbit's /current (its "data").
type wbCurrent struct {
	Lat       float64  `json:"lat"`
	Lon       float64  `json:"lon"`
	TS        int64    `json:"ts"`
	ObTime    string   `json:"ob_time"`
	Pres      *float64 `json:"pres"`
	SLP       *float64 `json:"slp"`
	WindSpd   *float64 `json:"wind_spd"`
	WindDir   *float64 `json:"wind_dir"`
	WindCDir  string   `json:"wind_cdir"`
	Temp      *float64 `json:"temp"`
	AppTemp   *float64 `json:"app_temp"`
	RH        *float64 `json:"rh"`
	DewPt     *float64 `json:"dewpt"`
	Clouds    *float64 `json:"clouds"`
	Vis       *float64 `json:"vis"`
	Precip    *float64 `json:"precip"`
	Snow      *float64 `json:"snow"`
	UV        *float64 `json:"uv"`
	AQI       *float64 `json:"aqi"`
	DHI       *float64 `json:"dhi"`
	DNI       *float64 `json:"dni"`
	GHI       *float64 `json:"ghi"`
	SolarRad  *float64 `json:"solar_rad"`
	ElevAngle *float64 `json:"elev_angle"`
	HAngle    *float64 `json:"h_angle"`
}

// wbHour is one hour of weatherbit's /forecast/hourly.
type wbHour struct {
	TS        int64    `json:"ts"`
	TimeUTC   string   `json:"timestamp_utc"`
	Pres      *float64 `json:"pres"`
	SLP       *float64 `json:"slp"`
	WindSpd   *float64 `json:"wind_spd"`
	WindGust  *float64 `json:"wind_gust_spd"`
	WindDir   *float64 `json:"wind_dir"`
	WindCDir  string   `json:"wind_cdir"`
	Temp      *float64 `json:"temp"`
	AppTemp   *float64 `json:"app_temp"`
	RH        *float64 `json:"rh"`
	DewPt     *float64 `json:"dewpt"`
	Clouds    *float64 `json:"clouds"`
	CloudsHi  *float64 `json:"clouds_hi"`
	CloudsMid *float64 `json:"clouds_mid"`
	CloudsLow *float64 `json:"clouds_low"`
	Vis       *float64 `json:"vis"`
	Precip    *float64 `json:"precip"`
	POP       *float64 `json:"pop"`
	Snow      *float64 `json:"snow"`
	SnowDepth *float64 `json:"snow_depth"`
	UV        *float64 `json:"uv"`
	DHI       *float64 `json:"dhi"`
	DNI       *float64 `json:"dni"`
	GHI       *float64 `json:"ghi"`
	SolarRad  *float64 `json:"solar_rad"`
	Ozone     *float64 `json:"ozone"`
}

// Current asks weatherbit's /current.
func (w *Weatherbit) Current(ctx context.Context, q Query) (Current, error) {
	u, err := w.url("/current", q)
	if err != nil {
		return Current{}, err
	}
	var body struct {
		Count int         `json:"count"`
		Data  []wbCurrent `json:"data"`
	}
	if err := getJSON(ctx, w.Client, u, &body, wbError); err != nil {
		return Current{}, err
	}
	if len(body.Data) == 0 {
		return Current{}, fmt.Errorf("%w: weatherbit: no observation for %s", ErrNotFound, q.key())
	}
	d := body.Data[0]
	ts := time.Unix(d.TS, 0).UTC()
	if d.TS == 0 {
		if ts, err = time.Parse("2006-01-02 15:04", d.ObTime); err != nil {
			return Current{}, fmt.Errorf("%w: weatherbit: observation without ts and with ob_time %q", ErrProvider, d.ObTime)
		}
	}
	return Current{
		Location:  Location{Name: q.CityName, Latitude: d.Lat, Longitude: d.Lon},
		Timestamp: ts, AtmosphericPressure: d.Pres, SeaLevelPressure: d.SLP,
		WindSpeed: d.WindSpd, WindDirection: d.WindDir, WindDirectionCardinal: d.WindCDir,
		Temperature: d.Temp, ApparentTemperature: d.AppTemp, RelativeHumidity: d.RH, DewPoint: d.DewPt,
		CloudCoverage: d.Clouds, Visibility: d.Vis, PrecipitationAccumulation: d.Precip,
		SnowfallAccumulation: d.Snow, UltravioletIndex: d.UV, AirQualityIndex: d.AQI,
		DiffuseHorizontalSolarIrradiance: d.DHI, DirectNormalSolarIrradiance: d.DNI,
		GlobalHorizontalSolarIrradiance: d.GHI, SolarRadiation: d.SolarRad,
		SolarElevationAngle: d.ElevAngle, SolarHourAngle: d.HAngle,
	}, nil
}

// Forecast asks weatherbit's /forecast/hourly for hours hours.
func (w *Weatherbit) Forecast(ctx context.Context, q Query, hours int) ([]Forecast, error) {
	u, err := w.url("/forecast/hourly", q)
	if err != nil {
		return nil, err
	}
	p := u.Query()
	p.Set("hours", strconv.Itoa(hours))
	u.RawQuery = p.Encode()
	var body struct {
		Lat  json.Number `json:"lat"`
		Lon  json.Number `json:"lon"`
		Data []wbHour    `json:"data"`
	}
	if err := getJSON(ctx, w.Client, u, &body, wbError); err != nil {
		return nil, err
	}
	lat, err1 := body.Lat.Float64()
	lon, err2 := body.Lon.Float64()
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%w: weatherbit: forecast with lat %q and lon %q", ErrProvider, body.Lat, body.Lon)
	}
	loc := Location{Name: q.CityName, Latitude: lat, Longitude: lon}
	out := make([]Forecast, 0, min(len(body.Data), hours))
	for _, d := range body.Data[:min(len(body.Data), hours)] {
		ts := time.Unix(d.TS, 0).UTC()
		if d.TS == 0 {
			if ts, err = time.Parse("2006-01-02T15:04:05", d.TimeUTC); err != nil {
				return nil, fmt.Errorf("%w: weatherbit: forecast hour without ts and with timestamp_utc %q", ErrProvider, d.TimeUTC)
			}
		}
		out = append(out, Forecast{
			Location: loc, Timestamp: ts, AtmosphericPressure: d.Pres, SeaLevelPressure: d.SLP,
			WindSpeed: d.WindSpd, WindDirection: d.WindDir, WindDirectionCardinal: d.WindCDir, WindGustSpeed: d.WindGust,
			Temperature: d.Temp, ApparentTemperature: d.AppTemp, RelativeHumidity: d.RH, DewPoint: d.DewPt,
			CloudCoverage: d.Clouds, CloudCoverageHighLevel: d.CloudsHi, CloudCoverageMidLevel: d.CloudsMid,
			CloudCoverageLowLevel: d.CloudsLow, Visibility: d.Vis, PrecipitationAccumulation: d.Precip,
			PrecipitationProbability: d.POP, SnowfallAccumulation: d.Snow, SnowDepth: d.SnowDepth,
			UltravioletIndex: d.UV, DiffuseHorizontalSolarIrradiance: d.DHI, DirectNormalSolarIrradiance: d.DNI,
			GlobalHorizontalSolarIrradiance: d.GHI, SolarRadiation: d.SolarRad, Ozone: d.Ozone,
		})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: weatherbit: empty forecast for %s", ErrNotFound, q.key())
	}
	return out, nil
}

// url builds <base><path>?key=…&<query option>.
func (w *Weatherbit) url(path string, q Query) (*url.URL, error) {
	u, err := joinURL(w.BaseURL, path)
	if err != nil {
		return nil, err
	}
	p := u.Query()
	p.Set("key", w.Key)
	switch {
	case q.Lat != nil && q.Lon != nil:
		p.Set("lat", strconv.FormatFloat(*q.Lat, 'f', -1, 64))
		p.Set("lon", strconv.FormatFloat(*q.Lon, 'f', -1, 64))
	case q.PostalCode != "":
		p.Set("postal_code", q.PostalCode)
		p.Set("country", q.Country)
	default:
		p.Set("city", q.City)
		if q.Country != "" {
			p.Set("country", q.Country)
		}
	}
	u.RawQuery = p.Encode()
	return u, nil
}

// wbError reads weatherbit's error body {"error": "…"}.
func wbError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error
}
