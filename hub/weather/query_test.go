package weather

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// TestParseQuery: the seed's examples parse; every bad query is refused
// with ErrInvalid and a message naming what is wrong.
func TestParseQuery(t *testing.T) {
	tests := []struct {
		query     string
		forecast  bool
		wantKey   string
		wantHours int
		wantErr   string // substring; "" for success
	}{
		// the seed's examples (3.2.1.1)
		{"cityName=Valencia&lat=39.469917&lon=-0.376300", false, "ll:39.469917,-0.376300", 48, ""},
		{"cityName=Valencia&city=Valencia,ES", false, "c::valencia,es", 48, ""},
		{"cityName=Valencia&city=Valencia&country=ES", false, "c:ES:valencia", 48, ""},
		{"cityName=Valencia&postalCode=46014&country=ES", false, "pc:ES:46014", 48, ""},
		{"cityName=Valencia&lat=39.469917&lon=-0.376300", true, "ll:39.469917,-0.376300", 48, ""},
		{"cityName=Valencia&city=Valencia,ES&hours=12", true, "c::valencia,es", 12, ""},
		{"cityName=Valencia&city=Valencia&hours=48&appId=a&keyId=b", true, "c::valencia", 48, ""},
		// bad ones
		{"lat=1&lon=2", false, "", 0, "cityName is mandatory"},
		{"cityName=V", false, "", 0, "give lat and lon, city (and country), or postalCode and country"},
		{"cityName=V&lat=1", false, "", 0, "lat and lon go together"},
		{"cityName=V&lat=north&lon=2", false, "", 0, `lat "north" is not a number`},
		{"cityName=V&lat=91&lon=2", false, "", 0, "lat 91 is out of -90..90"},
		{"cityName=V&lat=1&lon=-181", false, "", 0, "lon -181 is out of -180..180"},
		{"cityName=V&postalCode=46014", false, "", 0, "postalCode needs country"},
		{"cityName=V&city=Valencia&postalCode=46014&country=ES", false, "", 0, "give one query option"},
		{"cityName=V&city=Valencia&country=Spain", false, "", 0, `country "Spain" is not an ISO 3166-1 alpha-2 code`},
		{"cityName=V&lat=1&lon=2&country=ES", false, "", 0, "country goes with city or postalCode"},
		{"cityName=V&city=Valencia&hours=12", false, "", 0, "hours applies to /api/v1/weatherforecast only"},
		{"cityName=V&city=Valencia&hours=49", true, "", 0, `hours "49" must be a whole number from 1 to 48`},
		{"cityName=V&city=Valencia&hours=0", true, "", 0, `hours "0" must be a whole number from 1 to 48`},
		{"cityName=V&city=Valencia&hours=1.5", true, "", 0, `hours "1.5" must be a whole number`},
		{"cityName=V&city=Valencia&cityname=x", false, "", 0, `unknown query parameter "cityname"`},
		{"cityName=V&city=Valencia&city=Madrid", false, "", 0, `query parameter "city" given 2 times`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			q, hours, err := ParseQuery(v, tt.forecast)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want ErrInvalid saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := q.key(); got != tt.wantKey || hours != tt.wantHours {
				t.Errorf("got key %q hours %d, want %q %d", got, hours, tt.wantKey, tt.wantHours)
			}
		})
	}
}

// TestParseQueryReportsAll: several problems are reported at once.
func TestParseQueryReportsAll(t *testing.T) {
	v, _ := url.ParseQuery("lat=x&lon=2&hours=99")
	_, _, err := ParseQuery(v, true)
	for _, want := range []string{"cityName is mandatory", `lat "x" is not a number`, `hours "99"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}
