package weather

import (
	"math"
	"time"
)

// Location names and places a weather message (seed 3.2.1.4).
type Location struct {
	// Name is the query's cityName, "used as a kind of ID".
	Name string `json:"name"`
	// Latitude and Longitude are where the provider placed the answer.
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

// Current is the seed's current weather message (3.2.1.4.1). A value the
// provider does not give is left out (nil), never sent as a made-up zero.
type Current struct {
	Location  Location  `json:"location"`
	Timestamp time.Time `json:"timestamp"`
	// AtmosphericPressure is the pressure at the site (mbar).
	AtmosphericPressure *float64 `json:"atmosphericPressure,omitempty"`
	// SeaLevelPressure is the sea-level pressure (mbar).
	SeaLevelPressure *float64 `json:"seaLevelPressure,omitempty"`
	// WindSpeed is in m/s.
	WindSpeed *float64 `json:"windSpeed,omitempty"`
	// WindDirection is in degrees.
	WindDirection *float64 `json:"windDirection,omitempty"`
	// WindDirectionCardinal is the abbreviated direction ("SW").
	WindDirectionCardinal string `json:"windDirectionCardinal,omitempty"`
	// Temperature is in °C.
	Temperature *float64 `json:"temperature,omitempty"`
	// ApparentTemperature is the "feels like" temperature (°C).
	ApparentTemperature *float64 `json:"apparentTemperature,omitempty"`
	// RelativeHumidity is in %.
	RelativeHumidity *float64 `json:"relativeHumidity,omitempty"`
	// DewPoint is in °C.
	DewPoint *float64 `json:"dewPoint,omitempty"`
	// CloudCoverage is in %.
	CloudCoverage *float64 `json:"cloudCoverage,omitempty"`
	// Visibility is in km.
	Visibility *float64 `json:"visibility,omitempty"`
	// PrecipitationAccumulation is the liquid equivalent precipitation
	// rate (mm/h).
	PrecipitationAccumulation *float64 `json:"precipitationAccumulation,omitempty"`
	// SnowfallAccumulation is in mm/h.
	SnowfallAccumulation *float64 `json:"snowfallAccumulation,omitempty"`
	// UltravioletIndex is the UV index (0-11+).
	UltravioletIndex *float64 `json:"ultravioletIndex,omitempty"`
	// AirQualityIndex is the US EPA index (0-500).
	AirQualityIndex *float64 `json:"airQualityIndex,omitempty"`
	// DiffuseHorizontalSolarIrradiance is in W/m² (clear sky).
	DiffuseHorizontalSolarIrradiance *float64 `json:"diffuseHorizontalSolarIrradiance,omitempty"`
	// DirectNormalSolarIrradiance is in W/m² (clear sky).
	DirectNormalSolarIrradiance *float64 `json:"directNormalSolarIrradiance,omitempty"`
	// GlobalHorizontalSolarIrradiance is in W/m² (clear sky).
	GlobalHorizontalSolarIrradiance *float64 `json:"globalHorizontalSolarIrradiance,omitempty"`
	// SolarRadiation is the estimated solar radiation (W/m²).
	SolarRadiation *float64 `json:"solarRadiation,omitempty"`
	// SolarElevationAngle is in degrees; the seed spells its key
	// "elesolarElevationAngle", kept so that its consumers read it.
	SolarElevationAngle *float64 `json:"elesolarElevationAngle,omitempty"`
	// SolarHourAngle is in degrees.
	SolarHourAngle *float64 `json:"solarHourAngle,omitempty"`
	// Stale is set when the provider failed and this is the last good
	// answer (not in the seed).
	Stale bool `json:"stale,omitempty"`
}

// Forecast is one hour of the seed's forecasted weather message
// (3.2.1.4.2); the message is an array of them, one per hour.
type Forecast struct {
	Location  Location  `json:"location"`
	Timestamp time.Time `json:"timestamp"`
	// AtmosphericPressure is in mbar.
	AtmosphericPressure *float64 `json:"atmosphericPressure,omitempty"`
	// SeaLevelPressure is in mbar.
	SeaLevelPressure *float64 `json:"seaLevelPressure,omitempty"`
	// WindSpeed is in m/s.
	WindSpeed *float64 `json:"windSpeed,omitempty"`
	// WindDirection is in degrees.
	WindDirection *float64 `json:"windDirection,omitempty"`
	// WindDirectionCardinal is the abbreviated direction ("WSW").
	WindDirectionCardinal string `json:"windDirectionCardinal,omitempty"`
	// WindGustSpeed is in m/s.
	WindGustSpeed *float64 `json:"windGustSpeed,omitempty"`
	// Temperature is in °C.
	Temperature *float64 `json:"temperature,omitempty"`
	// ApparentTemperature is in °C.
	ApparentTemperature *float64 `json:"apparentTemperature,omitempty"`
	// RelativeHumidity is in %.
	RelativeHumidity *float64 `json:"relativeHumidity,omitempty"`
	// DewPoint is in °C.
	DewPoint *float64 `json:"dewPoint,omitempty"`
	// CloudCoverage is in %.
	CloudCoverage *float64 `json:"cloudCoverage,omitempty"`
	// CloudCoverageHighLevel is the high-level (>5 km AGL) coverage (%).
	CloudCoverageHighLevel *float64 `json:"cloudCoverageHighLevel,omitempty"`
	// CloudCoverageMidLevel is the mid-level (~3-5 km AGL) coverage (%).
	CloudCoverageMidLevel *float64 `json:"cloudCoverageMidLevel,omitempty"`
	// CloudCoverageLowLevel is the low-level (~0-3 km AGL) coverage (%).
	CloudCoverageLowLevel *float64 `json:"cloudCoverageLowLevel,omitempty"`
	// Visibility is in km.
	Visibility *float64 `json:"visibility,omitempty"`
	// PrecipitationAccumulation is in mm (of the hour).
	PrecipitationAccumulation *float64 `json:"precipitationAccumulation,omitempty"`
	// PrecipitationProbability is in %.
	PrecipitationProbability *float64 `json:"precipitationProbability,omitempty"`
	// SnowfallAccumulation is in mm (of the hour).
	SnowfallAccumulation *float64 `json:"snowfallAccumulation,omitempty"`
	// SnowDepth is in mm.
	SnowDepth *float64 `json:"snowDepth,omitempty"`
	// UltravioletIndex is the UV index.
	UltravioletIndex *float64 `json:"ultravioletIndex,omitempty"`
	// DiffuseHorizontalSolarIrradiance is in W/m².
	DiffuseHorizontalSolarIrradiance *float64 `json:"diffuseHorizontalSolarIrradiance,omitempty"`
	// DirectNormalSolarIrradiance is in W/m².
	DirectNormalSolarIrradiance *float64 `json:"directNormalSolarIrradiance,omitempty"`
	// GlobalHorizontalSolarIrradiance is in W/m².
	GlobalHorizontalSolarIrradiance *float64 `json:"globalHorizontalSolarIrradiance,omitempty"`
	// SolarRadiation is in W/m².
	SolarRadiation *float64 `json:"solarRadiation,omitempty"`
	// Ozone is the average ozone (Dobson units).
	Ozone *float64 `json:"ozone,omitempty"`
	// Stale is set when the provider failed and this is the last good
	// answer (not in the seed).
	Stale bool `json:"stale,omitempty"`
}

// cardinals are the 16 compass points, clockwise from north.
var cardinals = [...]string{"N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW"}

// cardinal abbreviates a direction in degrees (meteorological: where the
// wind comes from) to one of 16 points.
func cardinal(deg float64) string {
	d := math.Mod(deg, 360)
	if d < 0 {
		d += 360
	}
	return cardinals[int((d+11.25)/22.5)%16]
}
