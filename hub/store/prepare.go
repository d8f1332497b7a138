package store

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gridedge/gridedge/hub/store/query"
	"github.com/gridedge/gridedge/shared/model"
)

// Maintained fields of every document.
const (
	// FieldID is the document id.
	FieldID = "_id"
	// FieldUpdated is the time of the last write.
	FieldUpdated = "_updated"
	// FieldExpired marks expired documents.
	FieldExpired = "_expired"
)

var (
	idCounter atomic.Uint32
	idProcess [5]byte
)

func init() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	copy(idProcess[:], b[:5])
	idCounter.Store(binary.BigEndian.Uint32(b[4:]))
}

// NewID returns a new document or file id: 24 hex digits laid out like a
// MongoDB ObjectID (4 bytes of seconds, 5 random bytes per process, a
// 3-byte counter), so ids sort roughly by creation time on both backends.
func NewID() string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(time.Now().Unix()))
	copy(b[4:9], idProcess[:])
	c := idCounter.Add(1)
	b[9], b[10], b[11] = byte(c>>16), byte(c>>8), byte(c)
	return hex.EncodeToString(b[:])
}

// Timestamp returns t in UTC truncated to the millisecond, the precision of
// BSON dates, so that both backends return the same times.
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// Normalize returns a deep copy of v as backends store it: Extended JSON
// dates ({"$date": ...}) and time.Time become UTC millisecond time.Time,
// Go integers and json.Number become float64 (what JSON decoding gives, so
// both backends return the same types), []map[string]any becomes []any.
// Errors wrap ErrInvalid.
func Normalize(v any) (any, error) {
	v, err := query.ConvertDates(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return normalize(v)
}

func normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, float64:
		return x, nil
	case time.Time:
		return Timestamp(x), nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int8:
		return float64(x), nil
	case int16:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint:
		return float64(x), nil
	case uint8:
		return float64(x), nil
	case uint16:
		return float64(x), nil
	case uint32:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("%w: number %s: %v", ErrInvalid, x, err)
		}
		return f, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out, nil
	case []float64:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out, nil
	}
	// Anything else goes through JSON, as the REST layer would send it.
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: value of type %T: %v", ErrInvalid, v, err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%w: value of type %T: %v", ErrInvalid, v, err)
	}
	return normalize(out)
}

// DocID returns the document's _id: "" when absent, an ErrInvalid error
// when it is not a non-empty string.
func DocID(doc Document) (string, error) {
	v, ok := doc[FieldID]
	if !ok || v == nil {
		return "", nil
	}
	id, ok := v.(string)
	if !ok || id == "" {
		return "", fmt.Errorf("%w: _id must be a non-empty string, not %T %v", ErrInvalid, v, v)
	}
	return id, nil
}

// PrepareInsert returns the document to store for an insert: normalised,
// with an _id (generated when absent), _updated = now and _expired false
// unless given. The id is returned too (also on error when known).
func PrepareInsert(doc Document, now time.Time) (Document, string, error) {
	id, err := DocID(doc)
	if err != nil {
		return nil, "", err
	}
	if id == "" {
		id = NewID()
	}
	n, err := Normalize(doc)
	if err != nil {
		return nil, id, fmt.Errorf("document %q: %w", id, err)
	}
	out := n.(map[string]any)
	out[FieldID] = id
	out[FieldUpdated] = Timestamp(now)
	if _, ok := out[FieldExpired]; !ok {
		out[FieldExpired] = false
	}
	return out, id, nil
}

// TopFields returns the sorted top-level fields of doc other than _id and
// _updated (the Fields of an insert Change).
func TopFields(doc Document) []string {
	out := make([]string, 0, len(doc))
	for k := range doc {
		if k != FieldID && k != FieldUpdated {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// SetUpdate turns the document of an UpdateMany or Bulk entry into its
// $set update: every field but _id. It fails with ErrInvalid when there is
// nothing to set or a key is an operator.
func SetUpdate(doc Document) (map[string]any, error) {
	set := make(map[string]any, len(doc))
	for k, v := range doc {
		if k == FieldID {
			continue
		}
		if strings.HasPrefix(k, "$") {
			return nil, fmt.Errorf("%w: field %q: operators are not allowed here", ErrInvalid, k)
		}
		set[k] = v
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("%w: no fields to update", ErrInvalid)
	}
	return map[string]any{"$set": set}, nil
}

// CheckUpdate validates an update document before a backend applies it:
// it must not touch _updated (the store maintains it) or _id. The update
// syntax itself is checked by query.ApplyUpdate.
func CheckUpdate(update map[string]any) error {
	if len(update) == 0 {
		return fmt.Errorf("%w: empty update", ErrInvalid)
	}
	check := func(f string) error {
		if f == FieldUpdated || strings.HasPrefix(f, FieldUpdated+".") {
			return fmt.Errorf("%w: field %q is maintained by the store", ErrInvalid, f)
		}
		return nil
	}
	for k, v := range update {
		if !strings.HasPrefix(k, "$") {
			if err := check(k); err != nil {
				return err
			}
			continue
		}
		fields, ok := v.(map[string]any)
		if !ok {
			continue // query.ApplyUpdate reports it
		}
		for f, arg := range fields {
			if err := check(f); err != nil {
				return err
			}
			if k == "$rename" {
				if s, ok := arg.(string); ok {
					if err := check(s); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// RangeSelector combines sel with field ∈ [from, to] (dates), as Range
// uses it.
func RangeSelector(field string, from, to time.Time, sel *query.Selector) (*query.Selector, error) {
	if field == "" {
		return nil, fmt.Errorf("%w: range needs a field", ErrInvalid)
	}
	if to.Before(from) {
		return nil, fmt.Errorf("%w: range from %s is after to %s", ErrInvalid, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	}
	cond := map[string]any{field: map[string]any{"$gte": Timestamp(from), "$lte": Timestamp(to)}}
	if sel != nil {
		cond = map[string]any{"$and": []any{cond, sel.Raw()}}
	}
	s, err := query.CompileSelector(cond)
	if err != nil {
		return nil, fmt.Errorf("%w: range: %w", ErrInvalid, err)
	}
	return s, nil
}

// Bucket returns the files bucket name to use ("" = DefaultBucket) or an
// ErrInvalid error.
func Bucket(name string) (string, error) {
	if name == "" {
		return DefaultBucket, nil
	}
	if err := CheckName("bucket", name); err != nil {
		return "", err
	}
	return name, nil
}

// MeasurementPoints returns the history points that a REST write of doc
// records: one per measurement (measurements.<name>) among paths (the
// changed paths of an update; nil for an insert, meaning every measurement
// of doc), valued with the measurement's object and timed by its
// "timestamp" when that is a date, else by now. Other fields are not
// historised by REST writes (edge updates through ApplyBatch historise
// every field they set).
func MeasurementPoints(id string, doc Document, paths []string, now time.Time) []Point {
	ms, _ := doc["measurements"].(map[string]any)
	if len(ms) == 0 {
		return nil
	}
	names := map[string]bool{}
	if paths == nil {
		for k := range ms {
			names[k] = true
		}
	}
	for _, p := range paths {
		switch {
		case p == "measurements":
			for k := range ms {
				names[k] = true
			}
		case strings.HasPrefix(p, "measurements."):
			name, _, _ := strings.Cut(strings.TrimPrefix(p, "measurements."), ".")
			names[name] = true
		}
	}
	pts := make([]Point, 0, len(names))
	for _, name := range sortedNames(names) {
		v, ok := ms[name]
		if !ok {
			continue
		}
		ts := now
		if m, ok := v.(map[string]any); ok {
			if t, ok := m["timestamp"].(time.Time); ok {
				ts = t
			}
		}
		pts = append(pts, Point{ID: id, Field: "measurements." + name, TS: Timestamp(ts), Value: v})
	}
	return pts
}

func sortedNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// NormalizeUpdateValue returns the value an edge update stores at path:
// a model.Measurement becomes {value, quality, timestamp}; measurement
// timestamps and measurementsTimestamp given as RFC 3339 strings become
// dates; then Normalize.
func NormalizeUpdateValue(path string, v any) (any, error) {
	switch t := v.(type) {
	case string:
		if path == model.MeasurementsTimestampField {
			if ts, err := time.Parse(time.RFC3339Nano, t); err == nil {
				return Timestamp(ts), nil
			}
		}
	case model.Measurement:
		v = map[string]any{"value": t.Value, "quality": float64(t.Quality), "timestamp": t.Timestamp}
	case map[string]any:
		if strings.HasPrefix(path, model.MeasurementsPrefix) {
			if s, ok := t["timestamp"].(string); ok {
				if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
					c := make(map[string]any, len(t))
					for k, e := range t {
						c[k] = e
					}
					c["timestamp"] = ts
					v = c
				}
			}
		}
	}
	n, err := Normalize(v)
	if err != nil {
		return nil, fmt.Errorf("field %q: %w", path, err)
	}
	return n, nil
}

// UpdateTS is the history time of an edge update's value: the measurement's
// timestamp when val (normalised) has one, else the update's TS.
func UpdateTS(u *model.Update, val any) time.Time {
	if m, ok := val.(map[string]any); ok {
		if t, ok := m["timestamp"].(time.Time); ok {
			return t
		}
	}
	return Timestamp(u.TS)
}

// PrepareFileInfo validates and normalises the caller's part of a file's
// info before it is stored: metadata normalised, ContentType and
// metadata.type kept in step (ContentType wins when both are given).
func PrepareFileInfo(info *FileInfo) error {
	if info.Metadata == nil {
		info.Metadata = map[string]any{}
	}
	md, err := Normalize(info.Metadata)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	info.Metadata = md.(map[string]any)
	if info.ContentType != "" {
		info.Metadata["type"] = info.ContentType
	} else if t, ok := info.Metadata["type"].(string); ok {
		info.ContentType = t
	}
	info.Length, info.MD5 = 0, ""
	return nil
}

// MergeMetadata sets md's fields in info.Metadata (nil values remove) and
// refreshes ContentType from metadata.type.
func MergeMetadata(info *FileInfo, md map[string]any) error {
	n, err := Normalize(md)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if info.Metadata == nil {
		info.Metadata = map[string]any{}
	}
	for k, v := range n.(map[string]any) {
		if v == nil {
			delete(info.Metadata, k)
		} else {
			info.Metadata[k] = v
		}
	}
	info.ContentType, _ = info.Metadata["type"].(string)
	return nil
}
