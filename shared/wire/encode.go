package wire

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gridedge/gridedge/shared/model"
)

// Version is the format version of updates and batches written by this package.
const Version = 1

// Value kinds (see the package documentation).
const (
	kindNil byte = iota
	kindFalse
	kindTrue
	kindInt
	kindFloat32
	kindFloat64
	kindString
	kindJSON
	kindTime
	kindTimeTS
	numKinds
)

// Measurement header bits.
const (
	hdrMeasurement  = 0x80
	hdrQualityShift = 5
	hdrTimestampTS  = 0x10
	hdrQualityEsc   = 0x08
	hdrKindMask     = 0x07
	hdrKindEscape   = 0x07 // a plain header byte follows
)

// Dict assigns ids to strings: the same string always gets the same id, and
// an id is never given to two strings. The edge buffer's dictionary persists
// its ids; [MemDict] keeps them in memory.
type Dict interface {
	// ID returns the id of s, assigning the next free one if s is new.
	ID(s string) uint64
}

// Strings looks up the string of an id, the decoder's side of a [Dict].
type Strings interface {
	// String returns the string with id, and whether there is one.
	String(id uint64) (string, bool)
}

// MemDict is an in-memory [Dict] and [Strings] with ids from 0. It is not
// safe for concurrent use.
type MemDict struct {
	ids  map[string]uint64
	strs []string
}

var (
	_ Dict    = (*MemDict)(nil)
	_ Strings = (*MemDict)(nil)
)

// ID returns the id of s, assigning the next one if s is new.
func (d *MemDict) ID(s string) uint64 {
	if id, ok := d.ids[s]; ok {
		return id
	}
	if d.ids == nil {
		d.ids = map[string]uint64{}
	}
	id := uint64(len(d.strs))
	d.ids[s] = id
	d.strs = append(d.strs, s)
	return id
}

// Add records that s has id (as read from a persisted dictionary).
func (d *MemDict) Add(id uint64, s string) {
	if d.ids == nil {
		d.ids = map[string]uint64{}
	}
	d.ids[s] = id
	for uint64(len(d.strs)) <= id {
		d.strs = append(d.strs, "")
	}
	d.strs[id] = s
}

// Len is the number of ids in use (the next id ID assigns).
func (d *MemDict) Len() uint64 { return uint64(len(d.strs)) }

// String returns the string of id.
func (d *MemDict) String(id uint64) (string, bool) {
	if id >= uint64(len(d.strs)) {
		return "", false
	}
	s := d.strs[id]
	if s == "" {
		// a gap left by Add, or the empty string itself
		if got, ok := d.ids[""]; !ok || got != id {
			return "", false
		}
	}
	return s, true
}

// jsonString is s as JSON carries it: invalid UTF-8 bytes become U+FFFD
// the way encoding/json replaces them.
func jsonString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b, _ := json.Marshal(s) // a string always marshals
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// Times JSON can carry: years 0 to 9999 in the time's own zone.
var (
	minWallSec = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxWallSec = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() - 1
)

// canonicalTime returns t as a JSON round trip would give it, and its zone
// offset; an error for times JSON refuses.
func canonicalTime(t time.Time) (time.Time, int, error) {
	_, off := t.Zone()
	if off <= -24*3600 || off >= 24*3600 {
		return t, 0, fmt.Errorf("time %s: zone offset outside ±24h: %w", t, ErrUnsupported)
	}
	if w := t.Unix() + int64(off); w < minWallSec || w > maxWallSec {
		return t, 0, fmt.Errorf("time %s: year outside 0–9999: %w", t, ErrUnsupported)
	}
	if off%60 != 0 {
		// RFC 3339 writes the offset in minutes: JSON moves such a time
		p, err := time.Parse(time.RFC3339Nano, t.Format(time.RFC3339Nano))
		if err != nil {
			return t, 0, fmt.Errorf("time %s: %w", t, ErrUnsupported)
		}
		return canonicalTime(p)
	}
	return t, off, nil
}

func appendAbsTime(dst []byte, t time.Time, off int) []byte {
	dst = binary.AppendVarint(dst, t.Unix())
	ns := uint64(t.Nanosecond()) << 1
	if off != 0 {
		ns |= 1
	}
	dst = binary.AppendUvarint(dst, ns)
	if off != 0 {
		dst = binary.AppendVarint(dst, int64(off/60))
	}
	return dst
}

// maxRelSec bounds the relative time form so that nanoseconds fit.
const maxRelSec = 1 << 30

func appendRelTime(dst []byte, t time.Time, off int, base time.Time, baseOff int) []byte {
	if off == baseOff {
		ds := t.Unix() - base.Unix()
		if ds > -maxRelSec && ds < maxRelSec {
			d := ds*1e9 + int64(t.Nanosecond()) - int64(base.Nanosecond())
			z := uint64(d<<1) ^ uint64(d>>63)
			return binary.AppendUvarint(dst, z<<1)
		}
	}
	dst = append(dst, 1)
	return appendAbsTime(dst, t, off)
}

// float32Exact reports whether v decodes from its float32 form, i.e. the
// float64 nearest the shortest decimal of float32(v) is v.
func float32Exact(v float64) bool {
	if math.Abs(v) > math.MaxFloat32 {
		return false
	}
	return shortest32(float32(v)) == v
}

// shortest32 is the float64 nearest the shortest decimal of f, what a JSON
// round trip of f gives.
func shortest32(f float32) float64 {
	var buf [32]byte
	d, err := strconv.ParseFloat(string(strconv.AppendFloat(buf[:0], float64(f), 'g', -1, 32)), 64)
	if err != nil {
		return float64(f)
	}
	return d
}

// Encoder encodes updates with a dictionary and remembers which float64
// values it found float32-exact: that test formats and parses a decimal,
// the largest cost of encoding, and sensor values repeat. It is not safe
// for concurrent use.
type Encoder struct {
	// Dict assigns the string ids.
	Dict  Dict
	exact *exactCache
}

// exactCache is a direct-mapped cache of float32Exact results.
type exactCache [1 << 12]struct {
	bits  uint64
	state uint8 // 0 empty, 1 exact, 2 not exact
}

func (c *exactCache) float32Exact(v float64) bool {
	bits := math.Float64bits(v)
	slot := &c[(bits*0x9E3779B97F4A7C15)>>52]
	if slot.state != 0 && slot.bits == bits {
		return slot.state == 1
	}
	ok := float32Exact(v)
	slot.bits, slot.state = bits, 2
	if ok {
		slot.state = 1
	}
	return ok
}

// encoder holds the state of encoding one update.
type encoder struct {
	dict  Dict
	exact *exactCache
	ts    time.Time
	tsOff int
}

// AppendUpdate appends the encoding of u to dst, taking string ids from d.
// It fails (and d may have new ids) for values JSON cannot encode either.
// An [Encoder] does the same faster for a stream of updates.
func AppendUpdate(dst []byte, u *model.Update, d Dict) ([]byte, error) {
	return appendUpdate(dst, u, d, nil)
}

// AppendUpdate appends the encoding of u to dst, taking string ids from e.Dict.
func (e *Encoder) AppendUpdate(dst []byte, u *model.Update) ([]byte, error) {
	if e.exact == nil {
		e.exact = new(exactCache)
	}
	return appendUpdate(dst, u, e.Dict, e.exact)
}

func appendUpdate(dst []byte, u *model.Update, d Dict, exact *exactCache) ([]byte, error) {
	ts, off, err := canonicalTime(u.TS)
	if err != nil {
		return dst, fmt.Errorf("encode update %s/%s/%s: ts: %w", u.Layer, u.Collection, u.ID, err)
	}
	e := encoder{dict: d, exact: exact, ts: ts, tsOff: off}
	dst = append(dst, Version)
	dst = binary.AppendUvarint(dst, d.ID(jsonString(u.Layer)))
	dst = binary.AppendUvarint(dst, d.ID(jsonString(u.Collection)))
	dst = binary.AppendUvarint(dst, d.ID(jsonString(u.ID)))
	dst = appendAbsTime(dst, ts, off)
	if u.Set == nil {
		return append(dst, 0), nil
	}
	dst = binary.AppendUvarint(dst, uint64(len(u.Set))+1)
	sorted := false
	for k := range u.Set {
		if !utf8.ValidString(k) {
			sorted = true
			break
		}
	}
	if sorted {
		// keys that JSON maps to the same string: the one it writes last
		// (sorted by the original key) wins, as when decoding JSON
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range u.Set {
				if !yield(k) {
					return
				}
			}
		}) {
			if dst, err = e.appendField(dst, k, u.Set[k]); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	for k, v := range u.Set {
		if dst, err = e.appendField(dst, k, v); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func (e *encoder) appendField(dst []byte, k string, v any) ([]byte, error) {
	dst = binary.AppendUvarint(dst, e.dict.ID(jsonString(k)))
	var err error
	if m, ok := v.(model.Measurement); ok {
		dst, err = e.appendMeasurement(dst, &m)
	} else {
		dst, err = e.appendValue(dst, v)
	}
	if err != nil {
		return dst, fmt.Errorf("encode field %q: %w", k, err)
	}
	return dst, nil
}

func (e *encoder) appendMeasurement(dst []byte, m *model.Measurement) ([]byte, error) {
	at := len(dst)
	hdr := byte(hdrMeasurement)
	dst = append(dst, 0)
	if m.Quality >= 0 && m.Quality <= 3 {
		hdr |= byte(m.Quality) << hdrQualityShift
	} else {
		hdr |= hdrQualityEsc
		dst = binary.AppendVarint(dst, int64(m.Quality))
	}
	t, off, err := canonicalTime(m.Timestamp)
	if err != nil {
		return dst, fmt.Errorf("timestamp: %w", err)
	}
	if off == e.tsOff && t.Equal(e.ts) {
		hdr |= hdrTimestampTS
	} else {
		dst = appendRelTime(dst, t, off, e.ts, e.tsOff)
	}
	n := len(dst)
	if dst, err = e.appendValue(dst, m.Value); err != nil {
		return dst, fmt.Errorf("value: %w", err)
	}
	if k := dst[n]; k < hdrKindEscape {
		// the value's kind fits the header: drop its own byte
		hdr |= k
		copy(dst[n:], dst[n+1:])
		dst = dst[:len(dst)-1]
	} else {
		hdr |= hdrKindEscape
	}
	dst[at] = hdr
	return dst, nil
}

func (e *encoder) appendValue(dst []byte, v any) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(dst, kindNil), nil
	case bool:
		if t {
			return append(dst, kindTrue), nil
		}
		return append(dst, kindFalse), nil
	case float64:
		return e.appendFloat64(dst, t)
	case float32:
		if math.IsNaN(float64(t)) || math.IsInf(float64(t), 0) {
			return dst, fmt.Errorf("%v: %w", t, ErrUnsupported)
		}
		return binary.LittleEndian.AppendUint32(append(dst, kindFloat32), math.Float32bits(t)), nil
	case int:
		return binary.AppendVarint(append(dst, kindInt), int64(t)), nil
	case int64:
		return binary.AppendVarint(append(dst, kindInt), t), nil
	case int32:
		return binary.AppendVarint(append(dst, kindInt), int64(t)), nil
	case int16:
		return binary.AppendVarint(append(dst, kindInt), int64(t)), nil
	case int8:
		return binary.AppendVarint(append(dst, kindInt), int64(t)), nil
	case uint:
		return appendUint(dst, uint64(t))
	case uint64:
		return appendUint(dst, t)
	case uint32:
		return binary.AppendVarint(append(dst, kindInt), int64(t)), nil
	case uint16:
		return binary.AppendVarint(append(dst, kindInt), int64(t)), nil
	case uint8:
		return binary.AppendVarint(append(dst, kindInt), int64(t)), nil
	case string:
		t = jsonString(t)
		dst = binary.AppendUvarint(append(dst, kindString), uint64(len(t)))
		return append(dst, t...), nil
	case time.Time:
		ct, off, err := canonicalTime(t)
		if err != nil {
			return dst, err
		}
		if off == e.tsOff && ct.Equal(e.ts) {
			return append(dst, kindTimeTS), nil
		}
		return appendRelTime(append(dst, kindTime), ct, off, e.ts, e.tsOff), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	dst = binary.AppendUvarint(append(dst, kindJSON), uint64(len(b)))
	return append(dst, b...), nil
}

func appendUint(dst []byte, u uint64) ([]byte, error) {
	if u <= math.MaxInt64 {
		return binary.AppendVarint(append(dst, kindInt), int64(u)), nil
	}
	// JSON's decimal parses to the float64 nearest u, as the conversion does
	return binary.LittleEndian.AppendUint64(append(dst, kindFloat64), math.Float64bits(float64(u))), nil
}

func (e *encoder) appendFloat64(dst []byte, v float64) ([]byte, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return dst, fmt.Errorf("%v: %w", v, ErrUnsupported)
	}
	if v == math.Trunc(v) && math.Abs(v) <= 1<<53 && !(v == 0 && math.Signbit(v)) {
		return binary.AppendVarint(append(dst, kindInt), int64(v)), nil
	}
	exact := false
	if e.exact != nil {
		exact = e.exact.float32Exact(v)
	} else {
		exact = float32Exact(v)
	}
	if exact {
		return binary.LittleEndian.AppendUint32(append(dst, kindFloat32), math.Float32bits(float32(v))), nil
	}
	return binary.LittleEndian.AppendUint64(append(dst, kindFloat64), math.Float64bits(v)), nil
}
