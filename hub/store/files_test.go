package store

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"", DefaultBucket, false},
		{"images", "images", false},
		{"my_files", "my_files", false},
		{"a.b", "", true},
	}
	for _, tt := range tests {
		got, err := Bucket(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("Bucket(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("Bucket(%q) error %v does not wrap ErrInvalid", tt.in, err)
		}
	}
}

func TestPrepareFileInfo(t *testing.T) {
	tests := []struct {
		name     string
		in       FileInfo
		wantType string
		wantMD   map[string]any
	}{
		{"nothing", FileInfo{}, "", map[string]any{}},
		{"content type", FileInfo{ContentType: "image/png"}, "image/png", map[string]any{"type": "image/png"}},
		{"metadata.type", FileInfo{Metadata: map[string]any{"type": "text/csv"}}, "text/csv", map[string]any{"type": "text/csv"}},
		{"content type wins", FileInfo{ContentType: "image/png", Metadata: map[string]any{"type": "text/csv", "n": 1}}, "image/png",
			map[string]any{"type": "image/png", "n": 1.0}},
		{"computed fields cleared", FileInfo{Length: 99, MD5: "x"}, "", map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := tt.in
			if err := PrepareFileInfo(&info); err != nil {
				t.Fatal(err)
			}
			if info.ContentType != tt.wantType || !reflect.DeepEqual(info.Metadata, tt.wantMD) {
				t.Errorf("got type %q, metadata %v; want %q, %v", info.ContentType, info.Metadata, tt.wantType, tt.wantMD)
			}
			if info.Length != 0 || info.MD5 != "" {
				t.Errorf("length %d, md5 %q left; want them cleared", info.Length, info.MD5)
			}
		})
	}
	bad := FileInfo{Metadata: map[string]any{"c": make(chan int)}}
	if err := PrepareFileInfo(&bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("unencodable metadata: got %v, want an error wrapping ErrInvalid", err)
	}
}

func TestMergeMetadata(t *testing.T) {
	tests := []struct {
		name     string
		md       map[string]any
		in       map[string]any
		want     map[string]any
		wantType string
	}{
		{"add", map[string]any{"a": 1.0}, map[string]any{"b": 2}, map[string]any{"a": 1.0, "b": 2.0}, ""},
		{"remove with nil", map[string]any{"a": 1.0, "b": 2.0}, map[string]any{"a": nil}, map[string]any{"b": 2.0}, ""},
		{"type sets content type", map[string]any{}, map[string]any{"type": "image/png"}, map[string]any{"type": "image/png"}, "image/png"},
		{"removing type clears it", map[string]any{"type": "image/png"}, map[string]any{"type": nil}, map[string]any{}, ""},
		{"into nil", nil, map[string]any{"a": "x"}, map[string]any{"a": "x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := FileInfo{ContentType: "old", Metadata: tt.md}
			if err := MergeMetadata(&info, tt.in); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(info.Metadata, tt.want) || info.ContentType != tt.wantType {
				t.Errorf("got %v, type %q; want %v, type %q", info.Metadata, info.ContentType, tt.want, tt.wantType)
			}
		})
	}
}

// FileInfoOf reads back what FileInfoDocument wrote once a backend has
// stored it (numbers as float64, dates to the millisecond in UTC).
func TestFileInfoRoundTrip(t *testing.T) {
	up := time.Date(2024, 5, 1, 10, 0, 0, 123_000_000, time.UTC)
	tests := []struct {
		name string
		info FileInfo
	}{
		{"full", FileInfo{ID: "f1", Filename: "a.png", ContentType: "image/png", Length: 300_000, ChunkSize: FileChunkSize,
			UploadDate: up, MD5: "d41d8cd98f00b204e9800998ecf8427e", Metadata: map[string]any{"type": "image/png", "at": up, "n": 2.0}}},
		{"empty metadata", FileInfo{ID: "f2", Filename: "b", UploadDate: up, Metadata: map[string]any{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := FileInfoDocument(tt.info)
			stored, err := Normalize(doc)
			if err != nil {
				t.Fatal(err)
			}
			if got := FileInfoOf(stored.(map[string]any)); !reflect.DeepEqual(got, tt.info) {
				t.Errorf("got %+v, want %+v", got, tt.info)
			}
		})
	}
	// the document holds a copy of the metadata
	info := FileInfo{Metadata: map[string]any{"a": 1.0}}
	FileInfoDocument(info)["metadata"].(map[string]any)["a"] = 2.0
	if info.Metadata["a"] != 1.0 {
		t.Error("FileInfoDocument shares the metadata map")
	}
}

func TestFileInfoOfMistyped(t *testing.T) {
	got := FileInfoOf(Document{"_id": 5.0, "length": "big", "uploadDate": "today", "metadata": "none"})
	want := FileInfo{Metadata: map[string]any{}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
