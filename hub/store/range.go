package store

import (
	"fmt"
	"time"

	"github.com/gridedge/gridedge/hub/store/query"
)

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
