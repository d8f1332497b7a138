package expression

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxTime is the largest time value a JavaScript Date can hold (ms).
const maxTime = 8.64e15

// timeClip implements TimeClip.
func timeClip(t float64) float64 {
	if t != t || math.Abs(t) > maxTime {
		return math.NaN()
	}
	return math.Trunc(t) + 0
}

// toTimeValue implements the value a `new Date(v)` holds: strings are
// parsed like Date.parse, everything else is converted with ToNumber.
// Dates without an offset are in loc, as JavaScript uses the host zone.
func toTimeValue(v any, loc *time.Location) float64 {
	p := toPrimitive(v)
	if s, ok := p.(string); ok {
		return parseDate(s, loc)
	}
	return timeClip(toNumber(p))
}

func msToTime(t float64) time.Time {
	return time.UnixMilli(int64(t)).UTC()
}

// isoString implements Date.prototype.toISOString for a valid time value.
func isoString(t float64) string {
	tm := msToTime(t)
	b := make([]byte, 0, 27)
	y := tm.Year()
	switch {
	case y >= 0 && y <= 9999:
		b = appendPad(b, y, 4)
	case y < 0:
		b = appendPad(append(b, '-'), -y, 6)
	default:
		b = appendPad(append(b, '+'), y, 6)
	}
	b = appendPad(append(b, '-'), int(tm.Month()), 2)
	b = appendPad(append(b, '-'), tm.Day(), 2)
	b = appendPad(append(b, 'T'), tm.Hour(), 2)
	b = appendPad(append(b, ':'), tm.Minute(), 2)
	b = appendPad(append(b, ':'), tm.Second(), 2)
	b = appendPad(append(b, '.'), tm.Nanosecond()/1e6, 3)
	return string(append(b, 'Z'))
}

func appendPad(b []byte, n, width int) []byte {
	var buf [12]byte
	s := strconv.AppendInt(buf[:0], int64(n), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// isoDate matches the ECMAScript Date Time String Format (and V8's
// tolerance for more than three fraction digits and lowercase t/z).
var isoDate = regexp.MustCompile(`^([+-]\d{6}|\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|[+-]\d{2}:\d{2})?)?$`)

// legacyLayouts are the non-ISO formats V8's fallback parser is most often
// fed by devices. Layouts without a zone are read in local time.
var legacyLayouts = []string{
	time.RFC1123,                          // Mon, 02 Jan 2006 15:04:05 MST
	time.RFC1123Z,                         // Mon, 02 Jan 2006 15:04:05 -0700
	"Mon, 2 Jan 2006 15:04:05 MST",        //
	"Mon Jan 02 2006 15:04:05 GMT-0700",   // Date.prototype.toString
	"Mon Jan 2 2006 15:04:05 GMT-0700",    //
	"Mon Jan 02 2006",                     // toDateString
	"2 Jan 2006 15:04:05 MST",             //
	"02 Jan 2006 15:04:05 MST",            //
	"Jan 2 2006 15:04:05",                 //
	"Jan 2, 2006 15:04:05",                //
	"Jan 2, 2006",                         //
	"Jan 2 2006",                          //
	"2 Jan 2006",                          //
	"2006-01-02 15:04:05.999999999Z07:00", //
	"2006-01-02 15:04:05.999999999",       //
	"2006-01-02 15:04:05Z07:00",           //
	"2006-01-02 15:04:05",                 //
	"2006-01-02 15:04",                    //
	"2006/01/02 15:04:05",                 //
	"2006/1/2 15:04:05",                   //
	"2006/01/02 15:04",                    //
	"2006/01/02",                          //
	"2006/1/2",                            //
	"01/02/2006 15:04:05",                 //
	"1/2/2006 15:04:05",                   //
	"01/02/2006",                          //
	"1/2/2006",                            //
}

// parseDate implements Date.parse for the ISO format and the common legacy
// formats listed above; anything else is an invalid date (NaN).
func parseDate(s string, loc *time.Location) float64 {
	s = trimJS(s)
	if m := isoDate.FindStringSubmatch(s); m != nil {
		return parseISO(m, loc)
	}
	// Strip a trailing "(Zone Name)" comment as written by Date.prototype.toString.
	if i := strings.LastIndexByte(s, '('); i > 0 && strings.HasSuffix(s, ")") {
		s = strings.TrimSpace(s[:i])
	}
	s = strings.Replace(s, " UTC", " GMT", 1)
	for _, layout := range legacyLayouts {
		var (
			t   time.Time
			err error
		)
		if strings.Contains(layout, "MST") || strings.Contains(layout, "-0700") || strings.Contains(layout, "Z07") {
			t, err = time.Parse(layout, s)
		} else {
			t, err = time.ParseInLocation(layout, s, loc)
		}
		if err == nil {
			return timeClip(float64(t.UnixMilli()))
		}
	}
	return math.NaN()
}

func parseISO(m []string, loc *time.Location) float64 {
	year, _ := strconv.Atoi(m[1])
	if m[1] == "-000000" {
		return math.NaN()
	}
	month, day := 1, 1
	if m[2] != "" {
		month, _ = strconv.Atoi(m[2])
	}
	if m[3] != "" {
		day, _ = strconv.Atoi(m[3])
	}
	var hour, minute, sec, ms int
	hasTime := m[4] != ""
	if hasTime {
		hour, _ = strconv.Atoi(m[4])
		minute, _ = strconv.Atoi(m[5])
		if m[6] != "" {
			sec, _ = strconv.Atoi(m[6])
		}
		if m[7] != "" {
			frac := (m[7] + "00")[:3]
			ms, _ = strconv.Atoi(frac)
		}
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || // V8 lets Feb 30 roll over into March

		minute > 59 || sec > 59 || hour > 24 || (hour == 24 && (minute != 0 || sec != 0 || ms != 0)) {
		return math.NaN()
	}
	// Date-only forms are UTC; date-time forms without an offset are local.
	zone := time.UTC
	if hasTime && m[8] == "" {
		zone = loc
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, ms*1e6, zone)
	if off := m[8]; off != "" && off != "Z" && off != "z" {
		oh, _ := strconv.Atoi(off[1:3])
		om, _ := strconv.Atoi(off[len(off)-2:])
		if oh > 23 || om > 59 {
			return math.NaN()
		}
		d := time.Duration(oh)*time.Hour + time.Duration(om)*time.Minute
		if off[0] == '+' {
			t = t.Add(-d)
		} else {
			t = t.Add(d)
		}
	}
	return timeClip(float64(t.UnixMilli()))
}

// ---- toLocaleString ----

// localeFormat describes how ICU (as shipped with Node 20) prints
// toLocaleString() for one locale.
type localeFormat struct {
	order     string // "MDY", "DMY", "YMD"
	sep       string // date separator
	padDay    bool
	padMonth  bool
	join      string // between date and time
	h12       bool   // default hour cycle is 12h
	am, pm    string // day-period markers for 12h clocks
	markerPre bool   // marker before the time (ja, zh)
	pad24     bool   // pad the hour in the 24h clock
	wrapTime  bool   // time in parentheses (eu)
}

var locales = map[string]localeFormat{
	"en-US": {order: "MDY", sep: "/", join: ", ", h12: true, am: "AM", pm: "PM", pad24: true},
	"en-GB": {order: "DMY", sep: "/", padDay: true, padMonth: true, join: ", ", am: "am", pm: "pm", pad24: true},
	"en-IE": {order: "DMY", sep: "/", join: ", ", am: "am", pm: "pm", pad24: true},
	"en-AU": {order: "DMY", sep: "/", padDay: true, padMonth: true, join: ", ", h12: true, am: "am", pm: "pm", pad24: true},
	"en-CA": {order: "YMD", sep: "-", padDay: true, padMonth: true, join: ", ", h12: true, am: "a.m.", pm: "p.m.", pad24: true},
	"es":    {order: "DMY", sep: "/", join: ", ", am: "a. m.", pm: "p. m."},
	"ca":    {order: "DMY", sep: "/", join: " ", am: "a. m.", pm: "p. m."},
	"eu":    {order: "YMD", sep: "/", join: " ", am: "AM", pm: "PM", pad24: true, wrapTime: true},
	"de":    {order: "DMY", sep: ".", join: ", ", am: "AM", pm: "PM", pad24: true},
	"fr":    {order: "DMY", sep: "/", padDay: true, padMonth: true, join: " ", am: "AM", pm: "PM", pad24: true},
	"it":    {order: "DMY", sep: "/", padDay: true, padMonth: true, join: ", ", am: "AM", pm: "PM", pad24: true},
	"pt":    {order: "DMY", sep: "/", padDay: true, padMonth: true, join: ", ", am: "AM", pm: "PM", pad24: true},
	"pt-PT": {order: "DMY", sep: "/", padDay: true, padMonth: true, join: ", ", am: "a.m.", pm: "p.m.", pad24: true},
	"nl":    {order: "DMY", sep: "-", join: ", ", am: "a.m.", pm: "p.m.", pad24: true},
	"sv":    {order: "YMD", sep: "-", padDay: true, padMonth: true, join: " ", am: "fm", pm: "em", pad24: true},
	"pl":    {order: "DMY", sep: ".", padMonth: true, join: ", ", am: "AM", pm: "PM", pad24: true},
	"ru":    {order: "DMY", sep: ".", padDay: true, padMonth: true, join: ", ", am: "AM", pm: "PM", pad24: true},
	"ja":    {order: "YMD", sep: "/", join: " ", am: "午前", pm: "午後", markerPre: true},
	"zh":    {order: "YMD", sep: "/", join: " ", am: "上午", pm: "下午", markerPre: true, pad24: true},
}

var localeTag = regexp.MustCompile(`^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$`)

func findLocale(tag string) (localeFormat, bool) {
	if !localeTag.MatchString(tag) {
		return localeFormat{}, false
	}
	parts := strings.Split(tag, "-")
	lang := strings.ToLower(parts[0])
	if len(parts) > 1 {
		full := lang + "-" + strings.ToUpper(parts[len(parts)-1])
		if f, ok := locales[full]; ok {
			return f, true
		}
	}
	if lang == "en" {
		return locales["en-US"], true
	}
	if f, ok := locales[lang]; ok {
		return f, true
	}
	return locales["en-US"], true // ICU falls back to the default locale
}

// localeString implements Date.prototype.toLocaleString(locales, options)
// for the locales in the table above and the options timeZone and hour12.
func localeString(t float64, locale, options any, loc *time.Location) (any, error) {
	f := locales["en-US"]
	switch l := locale.(type) {
	case undefinedType:
	case string:
		var ok bool
		if f, ok = findLocale(l); !ok {
			return nil, jsErrorf(ErrRangeError, "Incorrect locale information provided")
		}
	case []any:
		if len(l) > 0 {
			s, _ := norm(l[0]).(string)
			var ok bool
			if f, ok = findLocale(s); !ok {
				return nil, jsErrorf(ErrRangeError, "Incorrect locale information provided")
			}
		}
	case nil:
		return nil, jsErrorf(ErrTypeError, "Cannot convert undefined or null to object")
	default:
		return nil, jsErrorf(ErrRangeError, "Incorrect locale information provided")
	}
	h12 := f.h12
	switch o := options.(type) {
	case undefinedType:
	case *object, map[string]any:
		for _, k := range objKeys(o) {
			v, _ := objGet(o, k)
			v = norm(v)
			if v == undefined {
				continue
			}
			switch k {
			case "timeZone":
				z, err := loadZone(toString(v))
				if err != nil {
					return nil, err
				}
				loc = z
			case "hour12":
				h12 = truthy(v)
			default:
				return nil, fmt.Errorf("localestring option %q is not supported", k)
			}
		}
	}
	if t != t {
		return "Invalid Date", nil
	}
	tm := msToTime(t).In(loc)
	pad := func(n int, p bool) string {
		if p {
			return fmt.Sprintf("%02d", n)
		}
		return strconv.Itoa(n)
	}
	day, month, year := pad(tm.Day(), f.padDay), pad(int(tm.Month()), f.padMonth), strconv.Itoa(tm.Year())
	var date string
	switch f.order {
	case "MDY":
		date = month + f.sep + day + f.sep + year
	case "DMY":
		date = day + f.sep + month + f.sep + year
	default:
		date = year + f.sep + month + f.sep + day
	}
	ms := fmt.Sprintf(":%02d:%02d", tm.Minute(), tm.Second())
	var clock string
	if h12 {
		h, marker := tm.Hour()%12, f.am
		if tm.Hour() >= 12 {
			marker = f.pm
		}
		if h == 0 {
			h = 12
		}
		if f.markerPre {
			clock = marker + strconv.Itoa(h) + ms
		} else {
			clock = strconv.Itoa(h) + ms + " " + marker
		}
	} else {
		h := tm.Hour()
		if f.h12 && h == 0 {
			h = 24 // ICU's "h24" cycle for hour12:false on 12h locales
		}
		clock = pad(h, f.pad24 || f.h12) + ms
	}
	if f.wrapTime {
		clock = "(" + clock + ")"
	}
	return date + f.join + clock, nil
}

func loadZone(name string) (*time.Location, error) {
	if strings.EqualFold(name, "utc") || strings.EqualFold(name, "gmt") {
		return time.UTC, nil
	}
	if z, err := time.LoadLocation(name); err == nil && name != "" && name != "Local" {
		return z, nil
	}
	// IANA names are case-insensitive in Intl; try the canonical casing.
	parts := strings.Split(name, "/")
	for i, p := range parts {
		words := strings.Split(strings.ToLower(p), "_")
		for j, w := range words {
			if w != "" {
				words[j] = strings.ToUpper(w[:1]) + w[1:]
			}
		}
		parts[i] = strings.Join(words, "_")
	}
	if z, err := time.LoadLocation(strings.Join(parts, "/")); err == nil && name != "" {
		return z, nil
	}
	return nil, jsErrorf(ErrRangeError, "Invalid time zone specified: %s", name)
}
