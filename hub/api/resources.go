package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
)

// bucketFor reads the fs parameter and checks p's permission on the bucket
// (grant key "fs:<bucket>").
func (s *Server) bucketFor(r *http.Request, p *auth.Principal, need auth.Perm) (string, error) {
	b := r.URL.Query().Get("fs")
	if b == "" {
		return "", httpErrorf(http.StatusBadRequest, "query parameter fs (the bucket, initially only %q) is required", store.DefaultBucket)
	}
	if err := store.CheckName("layer", b); err != nil {
		return "", httpErrorf(http.StatusBadRequest, "query parameter fs: %v", err)
	}
	if p.Can(auth.BucketGrant(b), need) {
		return b, nil
	}
	if !p.Authenticated() {
		return "", errCredentials
	}
	return "", httpErrorf(http.StatusForbidden, "%s %q needs %s permission on %q", p.Kind, p.ID, need, auth.BucketGrant(b))
}

// fileFor checks p's permission need on the bucket of the fs parameter and
// resolves the file the request names (see fileKey).
func (s *Server) fileFor(r *http.Request, p *auth.Principal, need auth.Perm) (string, store.FileInfo, error) {
	b, err := s.bucketFor(r, p, need)
	if err != nil {
		return "", store.FileInfo{}, err
	}
	fi, err := s.fileKey(r.Context(), r, b)
	return b, fi, err
}

// fileKey resolves the id path parameter with the key parameter: "id"
// matches the file's _id only, "filename" the latest upload of that name.
func (s *Server) fileKey(ctx context.Context, r *http.Request, bucket string) (store.FileInfo, error) {
	id, key := r.PathValue("id"), r.URL.Query().Get("key")
	switch key {
	case "id", "filename":
	case "":
		return store.FileInfo{}, httpErrorf(http.StatusBadRequest, "query parameter key (id or filename) is required")
	default:
		return store.FileInfo{}, httpErrorf(http.StatusBadRequest, "query parameter key=%q: want id or filename", key)
	}
	notFound := fmt.Errorf("file with %s %q in bucket %q: %w", key, id, bucket, store.ErrNotFound)
	fi, err := s.Store.StatFile(ctx, bucket, id)
	if errors.Is(err, store.ErrNotFound) {
		return fi, notFound
	} else if err != nil {
		return fi, err
	}
	if key == "id" && fi.ID == id || key == "filename" && fi.Filename == id {
		return fi, nil
	}
	if key == "id" {
		return fi, notFound
	}
	// The store matched an id; look for the latest upload with that name.
	all, err := s.Store.ListFiles(ctx, bucket)
	if err != nil {
		return fi, err
	}
	found := false
	for _, f := range all { // by upload date: the last one wins
		if f.Filename == id {
			fi, found = f, true
		}
	}
	if !found {
		return fi, notFound
	}
	return fi, nil
}

func fileJSON(fi store.FileInfo) map[string]any {
	md := map[string]any{}
	for k, v := range fi.Metadata {
		md[k] = v
	}
	if _, ok := md["type"]; !ok && fi.ContentType != "" {
		md["type"] = fi.ContentType
	}
	out := map[string]any{"_id": fi.ID, "length": fi.Length, "chunkSize": fi.ChunkSize,
		"uploadDate": fi.UploadDate, "md5": fi.MD5, "filename": fi.Filename, "metadata": md}
	if fi.ContentType != "" {
		out["contentType"] = fi.ContentType
	}
	return out
}

func (s *Server) listFiles(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	b, err := s.bucketFor(r, p, auth.Read)
	if err != nil {
		return err
	}
	files, err := s.Store.ListFiles(r.Context(), b)
	if err != nil {
		return err
	}
	typ := r.URL.Query().Get("type")
	out := []any{}
	for _, f := range files {
		if typ == "" || f.ContentType == typ || f.Metadata["type"] == typ {
			out = append(out, fileJSON(f))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	b, err := s.bucketFor(r, p, auth.Write)
	if err != nil {
		return err
	}
	s.fileDeadlines(w)
	mr, err := r.MultipartReader()
	if err != nil {
		return httpErrorf(http.StatusBadRequest, "the body must be multipart/form-data with a file part: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return httpErrorf(http.StatusBadRequest, "the multipart body has no file part")
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return err
			}
			return httpErrorf(http.StatusBadRequest, "multipart body: %v", err)
		}
		if part.FileName() == "" {
			part.Close()
			continue
		}
		typ := r.URL.Query().Get("type")
		if typ == "" {
			typ = part.Header.Get("Content-Type")
		}
		if typ == "" {
			typ = mime.TypeByExtension(extOf(part.FileName()))
		}
		info := store.FileInfo{Filename: part.FileName(), ContentType: typ}
		if typ != "" {
			info.Metadata = map[string]any{"type": typ}
		}
		fi, err := s.Store.PutFile(r.Context(), b, info, part)
		part.Close()
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, map[string]any{"_id": fi.ID, "filename": fi.Filename})
		return nil
	}
}

// fileDeadlines gives a file transfer http.fileTimeout instead of the
// server's read and write timeouts (no-ops where the writer has no
// deadlines, as in tests with httptest.ResponseRecorder).
func (s *Server) fileDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	end := time.Now().Add(s.Config.HTTP.FileTimeout.Std())
	_ = rc.SetReadDeadline(end)
	_ = rc.SetWriteDeadline(end)
}

func extOf(name string) string {
	for i := len(name) - 1; i >= 0 && name[i] != '/'; i-- {
		if name[i] == '.' {
			return name[i:]
		}
	}
	return ""
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	b, fi, err := s.fileFor(r, p, auth.Read)
	if err != nil {
		return err
	}
	fi, rc, err := s.Store.GetFile(r.Context(), b, fi.ID)
	if err != nil {
		return err
	}
	defer rc.Close()
	s.fileDeadlines(w)
	typ := fi.ContentType
	if t, ok := fi.Metadata["type"].(string); ok && typ == "" {
		typ = t
	}
	if typ == "" {
		typ = "application/octet-stream"
	}
	disposition := "attachment"
	if inlineSafe(typ) {
		disposition = "inline"
	}
	h := w.Header()
	h.Set("Content-Type", typ)
	h.Set("Content-Length", strconv.FormatInt(fi.Length, 10))
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": fi.Filename}))
	// The type is the uploader's word: browsers must neither sniff another
	// one nor run the file as a page of the hub's origin.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'")
	if fi.MD5 != "" {
		w.Header().Set("ETag", `"`+fi.MD5+`"`)
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		if _, err := io.Copy(w, rc); err != nil {
			s.log().Warn("api: send file", "bucket", b, "id", fi.ID, "err", err)
		}
	}
	return nil
}

// inlineTypes are the media types a browser may show inline: they cannot
// carry script. Everything else (HTML, SVG, XML, JavaScript, unknown) is
// served as an attachment.
var inlineTypes = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true, "image/avif": true, "image/bmp": true,
	"application/pdf": true, "text/plain": true, "text/csv": true, "application/json": true,
	"audio/mpeg": true, "audio/ogg": true, "video/mp4": true, "video/webm": true,
}

// inlineSafe reports whether the Content-Type typ may be shown inline.
func inlineSafe(typ string) bool {
	mt, _, err := mime.ParseMediaType(typ)
	return err == nil && inlineTypes[mt]
}

func (s *Server) deleteFile(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	b, fi, err := s.fileFor(r, p, auth.Write)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteFile(r.Context(), b, fi.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"_id": fi.ID})
	return nil
}

func (s *Server) fileInfo(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	_, fi, err := s.fileFor(r, p, auth.Read)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, fileJSON(fi))
	return nil
}

func (s *Server) patchFileMetadata(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	b, err := s.bucketFor(r, p, auth.Write)
	if err != nil {
		return err
	}
	var md map[string]any
	if err := readJSON(r, &md); err != nil {
		return err
	}
	if len(md) == 0 {
		return httpErrorf(http.StatusBadRequest, "the body must be an object with the metadata fields to update")
	}
	fi, err := s.fileKey(r.Context(), r, b)
	if err != nil {
		return err
	}
	if _, err := s.Store.PatchFileMetadata(r.Context(), b, fi.ID, md); err != nil {
		return err
	}
	key := map[string]any{"_id": fi.ID}
	if r.URL.Query().Get("key") == "filename" {
		key = map[string]any{"filename": fi.Filename}
	}
	set := map[string]any{}
	unset := map[string]any{}
	for k, v := range md {
		if v == nil {
			unset["metadata."+k] = ""
		} else {
			set["metadata."+k] = v
		}
	}
	update := map[string]any{}
	if len(set) > 0 {
		update["$set"] = set
	}
	if len(unset) > 0 {
		update["$unset"] = unset
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": key, "update": update})
	return nil
}
