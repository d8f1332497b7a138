package store

import (
	"fmt"
	"time"
)

// FileInfo describes a stored file ("resource", seed 3.3.1.2.16-21). The
// JSON form is GridFS's files document.
type FileInfo struct {
	// ID is the file's id; PutFile generates one when empty.
	ID string `json:"_id"`
	// Filename is the file's name; several files may share one.
	Filename string `json:"filename"`
	// ContentType is the media type; it is also kept as metadata.type, as
	// the seed's platform did, and filters GET /resources?type=.
	ContentType string `json:"contentType,omitempty"`
	// Length is the size in bytes.
	Length int64 `json:"length"`
	// ChunkSize is the size of the stored chunks in bytes.
	ChunkSize int64 `json:"chunkSize"`
	// UploadDate is when the upload completed.
	UploadDate time.Time `json:"uploadDate"`
	// MD5 is the hex MD5 of the content.
	MD5 string `json:"md5"`
	// Metadata holds free-form attributes.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// DefaultBucket is the files bucket that exists initially (seed: "fs").
const DefaultBucket = "fs"

// FileChunkSize is the chunk size both backends store files in (GridFS's
// default, 255 KiB).
const FileChunkSize = 255 * 1024

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

// FileInfoDocument returns info as the document a backend stores for it
// (GridFS's files document), with a copy of its metadata, so that dates in
// metadata round-trip as they do in documents. FileInfoOf reads it back.
func FileInfoDocument(info FileInfo) Document {
	md := make(map[string]any, len(info.Metadata))
	for k, v := range info.Metadata {
		md[k] = v
	}
	return Document{"_id": info.ID, "filename": info.Filename, "contentType": info.ContentType, "length": info.Length,
		"chunkSize": info.ChunkSize, "uploadDate": info.UploadDate, "md5": info.MD5, "metadata": md}
}

// FileInfoOf reads a file's info from its stored document as a backend
// returns it (numbers as float64, dates as time.Time). Missing or
// mistyped fields stay zero; Metadata is never nil.
func FileInfoOf(d Document) FileInfo {
	var info FileInfo
	info.ID, _ = d["_id"].(string)
	info.Filename, _ = d["filename"].(string)
	info.ContentType, _ = d["contentType"].(string)
	l, _ := d["length"].(float64)
	info.Length = int64(l)
	cs, _ := d["chunkSize"].(float64)
	info.ChunkSize = int64(cs)
	info.UploadDate, _ = d["uploadDate"].(time.Time)
	info.MD5, _ = d["md5"].(string)
	info.Metadata, _ = d["metadata"].(map[string]any)
	if info.Metadata == nil {
		info.Metadata = map[string]any{}
	}
	return info
}
