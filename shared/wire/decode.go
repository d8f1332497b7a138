package wire

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/gridedge/gridedge/shared/model"
)

// reader reads the items of an encoding; its errors say what was read and where.
type reader struct {
	b   []byte
	off int
}

func (r *reader) fail(what string, err error) error {
	return fmt.Errorf("%s at byte %d: %w", what, r.off, err)
}

func (r *reader) byte(what string) (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.fail(what, ErrTruncated)
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) uvarint(what string) (uint64, error) { return readVarint(r, what, binary.Uvarint) }

func (r *reader) varint(what string) (int64, error) { return readVarint(r, what, binary.Varint) }

// readVarint reads one varint with decode (binary.Uvarint or binary.Varint).
func readVarint[T uint64 | int64](r *reader, what string, decode func([]byte) (T, int)) (T, error) {
	v, n := decode(r.b[r.off:])
	if n <= 0 {
		if n == 0 {
			return 0, r.fail(what, ErrTruncated)
		}
		return 0, r.fail(what+" (varint overflows 64 bits)", ErrInvalid)
	}
	r.off += n
	return v, nil
}

func (r *reader) bytes(what string, n uint64) ([]byte, error) {
	if n > uint64(len(r.b)-r.off) {
		return nil, r.fail(fmt.Sprintf("%s of %d bytes", what, n), ErrTruncated)
	}
	b := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return b, nil
}

// lenBytes reads a uvarint length and that many bytes.
func (r *reader) lenBytes(what string) ([]byte, error) {
	n, err := r.uvarint(what + " length")
	if err != nil {
		return nil, err
	}
	return r.bytes(what, n)
}

func (r *reader) str(what string) (string, error) {
	b, err := r.lenBytes(what)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", r.fail(what+" is not UTF-8", ErrInvalid)
	}
	return string(b), nil
}

func zone(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	return time.FixedZone("", off)
}

// absTime reads the absolute time form; off is the zone offset in seconds.
func (r *reader) absTime(what string) (sec int64, nsec int64, off int, err error) {
	if sec, err = r.varint(what + " seconds"); err != nil {
		return
	}
	ns, err := r.uvarint(what + " nanoseconds")
	if err != nil {
		return
	}
	if ns>>1 >= 1e9 {
		return 0, 0, 0, r.fail(fmt.Sprintf("%s nanoseconds %d", what, ns>>1), ErrInvalid)
	}
	nsec = int64(ns >> 1)
	if ns&1 != 0 {
		m, err := r.varint(what + " zone offset")
		if err != nil {
			return 0, 0, 0, err
		}
		if m == 0 || m <= -24*60 || m >= 24*60 {
			return 0, 0, 0, r.fail(fmt.Sprintf("%s zone offset of %d minutes", what, m), ErrInvalid)
		}
		off = int(m) * 60
	}
	if sec > maxWallSec || sec < minWallSec-24*3600 || sec+int64(off) < minWallSec || sec+int64(off) > maxWallSec {
		return 0, 0, 0, r.fail(what+": year outside 0–9999", ErrInvalid)
	}
	return sec, nsec, off, nil
}

// decoder decodes one update.
type decoder struct {
	r     reader
	strs  Strings
	ts    time.Time
	tsOff int
	tsStr string
}

func (d *decoder) ref(what string) (string, error) {
	at := d.r.off
	id, err := d.r.uvarint(what)
	if err != nil {
		return "", err
	}
	s, ok := d.strs.String(id)
	if !ok {
		return "", fmt.Errorf("%s id %d at byte %d: %w", what, id, at, ErrUnknownID)
	}
	return s, nil
}

// relTime reads the relative time form and returns the time's RFC 3339 text.
func (d *decoder) relTime(what string) (string, error) {
	h, err := d.r.uvarint(what)
	if err != nil {
		return "", err
	}
	if h&1 == 0 {
		z := h >> 1
		delta := int64(z>>1) ^ -int64(z&1)
		t := d.ts.Add(time.Duration(delta))
		if w := t.Unix() + int64(d.tsOff); w < minWallSec || w > maxWallSec {
			return "", d.r.fail(what+": year outside 0–9999", ErrInvalid)
		}
		return t.Format(time.RFC3339Nano), nil
	}
	if h != 1 {
		return "", d.r.fail(fmt.Sprintf("%s form %d", what, h), ErrInvalid)
	}
	sec, nsec, off, err := d.r.absTime(what)
	if err != nil {
		return "", err
	}
	return time.Unix(sec, nsec).In(zone(off)).Format(time.RFC3339Nano), nil
}

func (d *decoder) tsText() string {
	if d.tsStr == "" {
		d.tsStr = d.ts.Format(time.RFC3339Nano)
	}
	return d.tsStr
}

func (d *decoder) value(kind byte) (any, error) {
	switch kind {
	case kindNil:
		return nil, nil
	case kindFalse:
		return false, nil
	case kindTrue:
		return true, nil
	case kindInt:
		i, err := d.r.varint("integer")
		return float64(i), err
	case kindFloat32:
		b, err := d.r.bytes("float32", 4)
		if err != nil {
			return nil, err
		}
		f := math.Float32frombits(binary.LittleEndian.Uint32(b))
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return nil, d.r.fail("non-finite float32", ErrInvalid)
		}
		return shortest32(f), nil
	case kindFloat64:
		b, err := d.r.bytes("float64", 8)
		if err != nil {
			return nil, err
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(b))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, d.r.fail("non-finite float64", ErrInvalid)
		}
		return f, nil
	case kindString:
		return d.r.str("string")
	case kindJSON:
		b, err := d.r.lenBytes("JSON value")
		if err != nil {
			return nil, err
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, d.r.fail("JSON value", fmt.Errorf("%w: %w", ErrInvalid, err))
		}
		return v, nil
	case kindTime:
		return d.relTime("time")
	case kindTimeTS:
		return d.tsText(), nil
	}
	return nil, d.r.fail(fmt.Sprintf("value kind %d", kind), ErrInvalid)
}

func (d *decoder) measurement(hdr byte) (any, error) {
	q := int64(hdr>>hdrQualityShift) & 3
	var err error
	if hdr&hdrQualityEsc != 0 {
		if q != 0 {
			return nil, d.r.fail("escaped quality with inline bits set", ErrInvalid)
		}
		if q, err = d.r.varint("quality"); err != nil {
			return nil, err
		}
		if q >= 0 && q <= 3 {
			return nil, d.r.fail(fmt.Sprintf("escaped quality %d", q), ErrInvalid)
		}
	}
	var ts string
	if hdr&hdrTimestampTS != 0 {
		ts = d.tsText()
	} else if ts, err = d.relTime("measurement timestamp"); err != nil {
		return nil, err
	}
	kind := hdr & hdrKindMask
	if kind == hdrKindEscape {
		if kind, err = d.r.byte("measurement value kind"); err != nil {
			return nil, err
		}
		if kind < hdrKindEscape || kind >= numKinds {
			return nil, d.r.fail(fmt.Sprintf("escaped measurement value kind %d", kind), ErrInvalid)
		}
	}
	v, err := d.value(kind)
	if err != nil {
		return nil, err
	}
	return map[string]any{"value": v, "quality": float64(q), "timestamp": ts}, nil
}

// DecodeUpdate decodes an update written by [AppendUpdate], looking its
// strings up in strs. The result is what JSON-decoding the update's JSON
// encoding gives (see the package documentation).
func DecodeUpdate(data []byte, strs Strings) (model.Update, error) {
	d := decoder{r: reader{b: data}, strs: strs}
	var u model.Update
	v, err := d.r.byte("version")
	if err != nil {
		return u, err
	}
	if v != Version {
		return u, fmt.Errorf("update version %d (this build reads %d): %w", v, Version, ErrVersion)
	}
	if u.Layer, err = d.ref("layer"); err != nil {
		return u, err
	}
	if u.Collection, err = d.ref("collection"); err != nil {
		return u, err
	}
	if u.ID, err = d.ref("id"); err != nil {
		return u, err
	}
	sec, nsec, off, err := d.r.absTime("ts")
	if err != nil {
		return u, err
	}
	d.ts, d.tsOff = time.Unix(sec, nsec).In(zone(off)), off
	u.TS = d.ts
	n, err := d.r.uvarint("field count")
	if err != nil {
		return u, err
	}
	if n == 0 {
		return u, d.end()
	}
	n--
	if n > uint64(len(data)-d.r.off)/2 {
		// every field takes at least 2 bytes
		return u, d.r.fail(fmt.Sprintf("%d fields", n), ErrTruncated)
	}
	u.Set = make(map[string]any, n)
	for range n {
		k, err := d.ref("field")
		if err != nil {
			return u, err
		}
		hdr, err := d.r.byte("field header")
		if err != nil {
			return u, err
		}
		var v any
		if hdr&hdrMeasurement != 0 {
			v, err = d.measurement(hdr)
		} else {
			v, err = d.value(hdr)
		}
		if err != nil {
			return u, fmt.Errorf("field %q: %w", k, err)
		}
		u.Set[k] = v
	}
	return u, d.end()
}

func (d *decoder) end() error {
	if d.r.off != len(d.r.b) {
		return d.r.fail(fmt.Sprintf("%d trailing bytes", len(d.r.b)-d.r.off), ErrInvalid)
	}
	return nil
}

// UpdateTS reads the TS of an encoded update without decoding the rest.
func UpdateTS(data []byte) (time.Time, error) {
	r := reader{b: data}
	v, err := r.byte("version")
	if err != nil {
		return time.Time{}, err
	}
	if v != Version {
		return time.Time{}, fmt.Errorf("update version %d (this build reads %d): %w", v, Version, ErrVersion)
	}
	for _, what := range []string{"layer", "collection", "id"} {
		if _, err := r.uvarint(what); err != nil {
			return time.Time{}, err
		}
	}
	sec, nsec, off, err := r.absTime("ts")
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(sec, nsec).In(zone(off)), nil
}

// Refs calls fn with every string id an encoded update refers to (ids may
// repeat), without decoding its values.
func Refs(data []byte, fn func(id uint64)) error {
	r := reader{b: data}
	v, err := r.byte("version")
	if err != nil {
		return err
	}
	if v != Version {
		return fmt.Errorf("update version %d (this build reads %d): %w", v, Version, ErrVersion)
	}
	for _, what := range []string{"layer", "collection", "id"} {
		id, err := r.uvarint(what)
		if err != nil {
			return err
		}
		fn(id)
	}
	if _, _, _, err := r.absTime("ts"); err != nil {
		return err
	}
	n, err := r.uvarint("field count")
	if err != nil || n == 0 {
		return err
	}
	for range n - 1 {
		id, err := r.uvarint("field")
		if err != nil {
			return err
		}
		fn(id)
		hdr, err := r.byte("field header")
		if err != nil {
			return err
		}
		if hdr&hdrMeasurement != 0 {
			if hdr&hdrQualityEsc != 0 {
				if _, err := r.varint("quality"); err != nil {
					return err
				}
			}
			if hdr&hdrTimestampTS == 0 {
				if err := r.skipRelTime(); err != nil {
					return err
				}
			}
			if hdr &= hdrKindMask; hdr == hdrKindEscape {
				if hdr, err = r.byte("measurement value kind"); err != nil {
					return err
				}
			}
		}
		if err := r.skipValue(hdr); err != nil {
			return err
		}
	}
	if r.off != len(data) {
		return r.fail(fmt.Sprintf("%d trailing bytes", len(data)-r.off), ErrInvalid)
	}
	return nil
}

func (r *reader) skipRelTime() error {
	h, err := r.uvarint("time")
	if err != nil || h&1 == 0 {
		return err
	}
	_, _, _, err = r.absTime("time")
	return err
}

func (r *reader) skipValue(kind byte) error {
	var err error
	switch kind {
	case kindNil, kindFalse, kindTrue, kindTimeTS:
	case kindInt:
		_, err = r.varint("integer")
	case kindFloat32:
		_, err = r.bytes("float32", 4)
	case kindFloat64:
		_, err = r.bytes("float64", 8)
	case kindString, kindJSON:
		_, err = r.lenBytes("value")
	case kindTime:
		err = r.skipRelTime()
	default:
		err = r.fail(fmt.Sprintf("value kind %d", kind), ErrInvalid)
	}
	return err
}
