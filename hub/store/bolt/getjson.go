package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/hub/store"
)

var _ store.JSONGetter = (*Store)(nil)

// GetJSON returns a document as the REST API sends it (store.JSONGetter):
// the stored JSON, which encoding/json wrote from the same values (sorted
// keys, the same number and string forms), with every {"$date": RFC 3339}
// as the RFC 3339 string encoding/json writes for the time.Time that Get
// returns.
func (s *Store) GetJSON(ctx context.Context, layer, col, id string) ([]byte, error) {
	var out []byte
	err := s.view(ctx, "get", func(tx *bbolt.Tx) error {
		c, err := collection(tx, layer, col)
		if err != nil {
			return err
		}
		var v []byte
		if c.docs != nil {
			v = c.docs.Get([]byte(id))
		}
		if v == nil {
			return fmt.Errorf("document %q in %s: %w", id, c.name, store.ErrNotFound)
		}
		if out, err = outputJSON(v); err == nil {
			return nil
		}
		// not the compact form the store writes: decode and encode
		d, err := decodeDoc(v)
		if err != nil {
			return docErr(id, c.name, err)
		}
		out, err = json.Marshal(d)
		return err
	})
	return out, err
}

// outputJSON copies stored JSON with its dates as RFC 3339 strings; it
// gives up (errNotFast) on whitespace outside strings, which the store
// does not write, rather than miss a date written with spaces.
func outputJSON(v []byte) ([]byte, error) {
	out := make([]byte, 0, len(v))
	const prefix = `{"$date":"`
	for i := 0; i < len(v); {
		switch c := v[i]; c {
		case '"':
			end, err := skipValue(v, i)
			if err != nil {
				return nil, errNotFast
			}
			out = append(out, v[i:end]...)
			i = end
		case '{':
			t, end, ok, err := dateAt(v, i, prefix)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, '"')
				out = t.AppendFormat(out, time.RFC3339Nano)
				out = append(out, '"')
				i = end
				continue
			}
			out = append(out, c)
			i++
		case ' ', '\t', '\n', '\r':
			return nil, errNotFast
		default:
			out = append(out, c)
			i++
		}
	}
	return out, nil
}

// dateAt reads {"$date":"<RFC 3339>"} at v[i:], as unwrapDates turns it
// into a time.Time; end is past its '}'. A date string with escapes (the
// store writes none) gives errNotFast.
func dateAt(v []byte, i int, prefix string) (t time.Time, end int, ok bool, err error) {
	if len(v)-i < len(prefix) || string(v[i:i+len(prefix)]) != prefix {
		return t, 0, false, nil
	}
	s := i + len(prefix) - 1 // the opening quote
	e, err := skipValue(v, s)
	if err != nil {
		return t, 0, false, errNotFast
	}
	if e >= len(v) || v[e] != '}' {
		return t, 0, false, nil
	}
	str := v[s+1 : e-1]
	for _, b := range str {
		if b == '\\' {
			return t, 0, false, errNotFast
		}
	}
	t, perr := time.Parse(time.RFC3339Nano, string(str))
	if perr != nil {
		return t, 0, false, nil
	}
	return t, e + 1, true, nil
}
