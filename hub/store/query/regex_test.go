package query

import (
	"errors"
	"strings"
	"testing"
)

func TestRegexLength(t *testing.T) {
	at := `^` + strings.Repeat("a", MaxRegexLength-1)
	over := at + "b"
	tests := []struct {
		name    string
		sel     map[string]any
		wantErr bool
	}{
		{"at the limit", map[string]any{"name": map[string]any{"$regex": at}}, false},
		{"over the limit", map[string]any{"name": map[string]any{"$regex": over}}, true},
		{"over the limit under $not", map[string]any{"name": map[string]any{"$not": map[string]any{"$regex": over}}}, true},
		{"over the limit in $elemMatch", map[string]any{"tags": map[string]any{"$elemMatch": map[string]any{"$regex": over}}}, true},
		{"over the limit in $or", map[string]any{"$or": []any{map[string]any{"name": map[string]any{"$regex": over, "$options": "i"}}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileSelector(tt.sel)
			if tt.wantErr {
				if !errors.Is(err, ErrBadSelector) || !strings.Contains(err.Error(), "longer than") {
					t.Fatalf("got %v, want ErrBadSelector saying the pattern is longer than allowed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want no error", err)
			}
		})
	}
}
