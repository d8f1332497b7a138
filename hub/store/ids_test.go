package store

import (
	"encoding/hex"
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestNewID(t *testing.T) {
	before := time.Now().Unix()
	seen := map[string]bool{}
	prev := ""
	for range 1000 {
		id := NewID()
		if len(id) != 24 {
			t.Fatalf("NewID() = %q: got %d characters, want 24", id, len(id))
		}
		if _, err := hex.DecodeString(id); err != nil {
			t.Fatalf("NewID() = %q: not hex: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewID() returned %q twice", id)
		}
		seen[id] = true
		// same process: the 5 process bytes do not change
		if prev != "" && id[8:18] != prev[8:18] {
			t.Fatalf("process part changed: %q then %q", prev, id)
		}
		prev = id
	}
	secs, err := strconv.ParseInt(prev[:8], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	if after := time.Now().Unix(); secs < before || secs > after {
		t.Errorf("seconds of %q = %d, want within [%d, %d]", prev, secs, before, after)
	}
}

func TestDocID(t *testing.T) {
	tests := []struct {
		name    string
		doc     Document
		want    string
		wantErr bool
	}{
		{"absent", Document{"a": 1.0}, "", false},
		{"null", Document{FieldID: nil}, "", false},
		{"string", Document{FieldID: "M1"}, "M1", false},
		{"empty string", Document{FieldID: ""}, "", true},
		{"number", Document{FieldID: 12.0}, "", true},
		{"object", Document{FieldID: map[string]any{"$oid": "x"}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DocID(tt.doc)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("DocID(%v) = %q, %v; want %q, error %v", tt.doc, got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("DocID(%v) error %v does not wrap ErrInvalid", tt.doc, err)
			}
		})
	}
}

func TestIsDocumentError(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{ErrInvalid, true},
		{ErrConflict, true},
		{ErrNotFound, true},
		{errors.Join(errors.New("document 3"), ErrConflict), true},
		{errors.New("disk full"), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := IsDocumentError(tt.err); got != tt.want {
			t.Errorf("IsDocumentError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
