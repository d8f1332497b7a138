package weather

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// MaxHours is the longest forecast (seed 3.2.1.1: "default (and maximum)
// value: 48").
const MaxHours = 48

// Query is where the weather is asked for: CityName names the answer, and
// exactly one of the seed's query options places it: Lat and Lon (option
// 1), City with an optional Country (option 2), or PostalCode with
// Country (option 3). The same fields describe a configured site.
type Query struct {
	// CityName (mandatory) is the name of the place, "used as a kind of
	// ID"; it is the location name of the messages.
	CityName string `json:"cityName"`
	// Lat and Lon are option 1, in degrees.
	Lat *float64 `json:"lat,omitempty"`
	Lon *float64 `json:"lon,omitempty"`
	// City is option 2: "Valencia" or "Valencia,ES".
	City string `json:"city,omitempty"`
	// PostalCode is option 3, with Country.
	PostalCode string `json:"postalCode,omitempty"`
	// Country is an ISO 3166-1 alpha-2 code: mandatory with PostalCode,
	// optional with City.
	Country string `json:"country,omitempty"`
}

// queryParams are the parameters the REST routes accept; appId and keyId
// are credentials.
var queryParams = []string{"cityName", "lat", "lon", "city", "postalCode", "country", "hours", "appId", "keyId"}

// ParseQuery reads the seed's query parameters; forecast allows hours,
// which is 48 when not given. Every problem is reported, wrapped in
// ErrInvalid.
func ParseQuery(v url.Values, forecast bool) (Query, int, error) {
	var q Query
	var problems []string
	for k := range v {
		if !slices.Contains(queryParams, k) {
			problems = append(problems, fmt.Sprintf("unknown query parameter %q (known: cityName, lat, lon, city, postalCode, country, hours)", k))
		}
	}
	for _, k := range queryParams {
		if len(v[k]) > 1 {
			problems = append(problems, fmt.Sprintf("query parameter %q given %d times", k, len(v[k])))
		}
	}
	q.CityName, q.City, q.PostalCode, q.Country = v.Get("cityName"), v.Get("city"), v.Get("postalCode"), v.Get("country")
	num := func(name string) *float64 {
		s := v.Get(name)
		if !v.Has(name) {
			return nil
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s %q is not a number", name, s))
			return nil
		}
		return &f
	}
	q.Lat, q.Lon = num("lat"), num("lon")
	hours := MaxHours
	if v.Has("hours") {
		if !forecast {
			problems = append(problems, "hours applies to /api/v1/weatherforecast only")
		} else if h, err := strconv.Atoi(v.Get("hours")); err != nil || h < 1 || h > MaxHours {
			problems = append(problems, fmt.Sprintf("hours %q must be a whole number from 1 to %d", v.Get("hours"), MaxHours))
		} else {
			hours = h
		}
	}
	if err := q.check(v.Has("lat"), v.Has("lon")); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return Query{}, 0, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return q, hours, nil
}

// Validate checks a query (or a configured site): cityName, exactly one
// option, coordinates in range, a two-letter country.
func (q *Query) Validate() error {
	if err := q.check(q.Lat != nil, q.Lon != nil); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

func (q *Query) check(hasLat, hasLon bool) error {
	var problems []string
	if strings.TrimSpace(q.CityName) == "" {
		problems = append(problems, "cityName is mandatory")
	}
	options := 0
	if hasLat || hasLon {
		options++
		if !hasLat || !hasLon {
			problems = append(problems, "lat and lon go together (query option 1)")
		}
		if q.Lat != nil && (*q.Lat < -90 || *q.Lat > 90) {
			problems = append(problems, fmt.Sprintf("lat %g is out of -90..90", *q.Lat))
		}
		if q.Lon != nil && (*q.Lon < -180 || *q.Lon > 180) {
			problems = append(problems, fmt.Sprintf("lon %g is out of -180..180", *q.Lon))
		}
	}
	if q.City != "" {
		options++
	}
	if q.PostalCode != "" {
		options++
		if q.Country == "" {
			problems = append(problems, "postalCode needs country (query option 3)")
		}
	}
	switch {
	case options == 0:
		problems = append(problems, "give lat and lon, city (and country), or postalCode and country")
	case options > 1:
		problems = append(problems, "give one query option: lat and lon, city, or postalCode")
	}
	if q.Country != "" {
		if !isAlpha2(q.Country) {
			problems = append(problems, fmt.Sprintf("country %q is not an ISO 3166-1 alpha-2 code (e.g. ES)", q.Country))
		} else if hasLat || hasLon {
			problems = append(problems, "country goes with city or postalCode, not with lat and lon")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

func isAlpha2(s string) bool {
	if len(s) != 2 {
		return false
	}
	for _, c := range s {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// key identifies the place of q (not its name) for the cache of last good
// answers.
func (q *Query) key() string {
	switch {
	case q.Lat != nil && q.Lon != nil:
		return fmt.Sprintf("ll:%.6f,%.6f", *q.Lat, *q.Lon)
	case q.PostalCode != "":
		return "pc:" + strings.ToUpper(q.Country) + ":" + strings.ToLower(q.PostalCode)
	default:
		return "c:" + strings.ToUpper(q.Country) + ":" + strings.ToLower(q.City)
	}
}
