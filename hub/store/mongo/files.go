package mongo

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/gridfs"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/gridedge/gridedge/hub/store"
)

// bucket opens a GridFS bucket, with the context's deadline (GridFS in the
// v1 driver takes deadlines, not contexts, for streams).
func (s *Store) bucket(ctx context.Context, name string) (*gridfs.Bucket, string, error) {
	name, err := store.Bucket(name)
	if err != nil {
		return nil, "", err
	}
	b, err := gridfs.NewBucket(s.db, options.GridFSBucket().SetName(name).SetChunkSizeBytes(store.FileChunkSize))
	if err != nil {
		return nil, "", fmt.Errorf("open bucket %q: %w", name, err)
	}
	if d, ok := ctx.Deadline(); ok {
		_ = b.SetWriteDeadline(d)
		_ = b.SetReadDeadline(d)
	}
	return b, name, nil
}

func decodeFile(r bson.M) store.FileInfo { return store.FileInfoOf(fromMap(r)) }

// lookup finds a file by id, else the latest upload with that filename.
func (s *Store) lookup(ctx context.Context, b *gridfs.Bucket, bucket, key string) (store.FileInfo, error) {
	files := b.GetFilesCollection()
	var r bson.M
	err := files.FindOne(ctx, bson.D{{Key: "_id", Value: key}}, options.FindOne().SetMaxTime(s.maxTime(ctx))).Decode(&r)
	if errors.Is(err, mongo.ErrNoDocuments) {
		err = files.FindOne(ctx, bson.D{{Key: "filename", Value: key}},
			options.FindOne().SetSort(bson.D{{Key: "uploadDate", Value: -1}, {Key: "_id", Value: -1}}).SetMaxTime(s.maxTime(ctx))).Decode(&r)
	}
	if errors.Is(err, mongo.ErrNoDocuments) {
		return store.FileInfo{}, fmt.Errorf("file %q in bucket %q: %w", key, bucket, store.ErrNotFound)
	}
	if err != nil {
		return store.FileInfo{}, fmt.Errorf("find file %q in bucket %q: %w", key, bucket, err)
	}
	return decodeFile(r), nil
}

// PutFile uploads a file with GridFS and records its MD5 and content type
// in the files document.
func (s *Store) PutFile(ctx context.Context, bucket string, info store.FileInfo, r io.Reader) (store.FileInfo, error) {
	b, bucket, err := s.bucket(ctx, bucket)
	if err != nil {
		return store.FileInfo{}, fmt.Errorf("store: put file: %w", err)
	}
	if info.ID == "" {
		info.ID = store.NewID()
	}
	what := fmt.Sprintf("store: put file %q in bucket %q", info.ID, bucket)
	if err := store.PrepareFileInfo(&info); err != nil {
		return store.FileInfo{}, fmt.Errorf("%s: %w", what, err)
	}
	n, err := b.GetFilesCollection().CountDocuments(ctx, bson.D{{Key: "_id", Value: info.ID}}, options.Count().SetMaxTime(s.maxTime(ctx)))
	if err != nil {
		return store.FileInfo{}, fmt.Errorf("%s: %w", what, err)
	}
	if n > 0 {
		return store.FileInfo{}, fmt.Errorf("%s: file %q: %w", what, info.ID, store.ErrConflict)
	}
	sum := md5.New()
	err = b.UploadFromStreamWithID(info.ID, info.Filename, io.TeeReader(r, sum), options.GridFSUpload().SetMetadata(info.Metadata))
	if isDuplicate(err) {
		return store.FileInfo{}, fmt.Errorf("%s: file %q: %w", what, info.ID, store.ErrConflict)
	}
	if err != nil {
		return store.FileInfo{}, fmt.Errorf("%s: %w", what, err)
	}
	_, err = b.GetFilesCollection().UpdateOne(ctx, bson.D{{Key: "_id", Value: info.ID}},
		bson.M{"$set": bson.M{"md5": hex.EncodeToString(sum.Sum(nil)), "contentType": info.ContentType}})
	if err != nil {
		return store.FileInfo{}, fmt.Errorf("%s: record md5: %w", what, err)
	}
	out, err := s.lookup(ctx, b, bucket, info.ID)
	if err != nil {
		return store.FileInfo{}, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// StatFile returns a file's info.
func (s *Store) StatFile(ctx context.Context, bucket, key string) (store.FileInfo, error) {
	b, bucket, err := s.bucket(ctx, bucket)
	if err != nil {
		return store.FileInfo{}, fmt.Errorf("store: file info: %w", err)
	}
	info, err := s.lookup(ctx, b, bucket, key)
	if err != nil {
		return store.FileInfo{}, fmt.Errorf("store: file info: %w", err)
	}
	return info, nil
}

// GetFile opens a file for reading.
func (s *Store) GetFile(ctx context.Context, bucket, key string) (store.FileInfo, io.ReadCloser, error) {
	b, bucket, err := s.bucket(ctx, bucket)
	if err != nil {
		return store.FileInfo{}, nil, fmt.Errorf("store: get file: %w", err)
	}
	info, err := s.lookup(ctx, b, bucket, key)
	if err != nil {
		return store.FileInfo{}, nil, fmt.Errorf("store: get file: %w", err)
	}
	ds, err := b.OpenDownloadStream(info.ID)
	if err != nil {
		return store.FileInfo{}, nil, fmt.Errorf("store: get file %q in bucket %q: %w", info.ID, bucket, err)
	}
	return info, ds, nil
}

// ListFiles returns the files of a bucket by upload date, then id.
func (s *Store) ListFiles(ctx context.Context, bucket string) ([]store.FileInfo, error) {
	b, bucket, err := s.bucket(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("store: list files: %w", err)
	}
	cur, err := b.GetFilesCollection().Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "uploadDate", Value: 1}, {Key: "_id", Value: 1}}).SetMaxTime(s.maxTime(ctx)))
	if err != nil {
		return nil, fmt.Errorf("store: list files of bucket %q: %w", bucket, err)
	}
	var raw []bson.M
	if err := cur.All(ctx, &raw); err != nil {
		return nil, fmt.Errorf("store: list files of bucket %q: %w", bucket, err)
	}
	out := make([]store.FileInfo, len(raw))
	for i, r := range raw {
		out[i] = decodeFile(r)
	}
	return out, nil
}

// DeleteFile removes a file and its chunks.
func (s *Store) DeleteFile(ctx context.Context, bucket, key string) error {
	b, bucket, err := s.bucket(ctx, bucket)
	if err != nil {
		return fmt.Errorf("store: delete file: %w", err)
	}
	info, err := s.lookup(ctx, b, bucket, key)
	if err != nil {
		return fmt.Errorf("store: delete file: %w", err)
	}
	if err := b.DeleteContext(ctx, info.ID); err != nil {
		if errors.Is(err, gridfs.ErrFileNotFound) {
			return fmt.Errorf("store: delete file %q in bucket %q: %w", info.ID, bucket, store.ErrNotFound)
		}
		return fmt.Errorf("store: delete file %q in bucket %q: %w", info.ID, bucket, err)
	}
	return nil
}

// PatchFileMetadata merges md into a file's metadata.
func (s *Store) PatchFileMetadata(ctx context.Context, bucket, key string, md map[string]any) (store.FileInfo, error) {
	b, bucket, err := s.bucket(ctx, bucket)
	if err != nil {
		return store.FileInfo{}, fmt.Errorf("store: patch file metadata: %w", err)
	}
	info, err := s.lookup(ctx, b, bucket, key)
	if err != nil {
		return store.FileInfo{}, fmt.Errorf("store: patch file metadata: %w", err)
	}
	if err := store.MergeMetadata(&info, md); err != nil {
		return store.FileInfo{}, fmt.Errorf("store: patch metadata of file %q: %w", info.ID, err)
	}
	_, err = b.GetFilesCollection().UpdateOne(ctx, bson.D{{Key: "_id", Value: info.ID}},
		bson.M{"$set": bson.M{"metadata": info.Metadata, "contentType": info.ContentType}})
	if err != nil {
		return store.FileInfo{}, fmt.Errorf("store: patch metadata of file %q: %w", info.ID, err)
	}
	return info, nil
}
