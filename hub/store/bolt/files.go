package bolt

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	bbolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/hub/store"
)

var (
	bucketFiles  = []byte("files")
	bucketChunks = []byte("chunks")
)

// chunksPerTx bounds the content one write transaction holds (4 MiB).
const chunksPerTx = 16

func filesBucket(bucket string) []byte { return []byte("f/" + bucket) }

func chunkKey(id string, n uint32) []byte {
	k := append([]byte(id), 0)
	return binary.BigEndian.AppendUint32(k, n)
}

// fileBuckets returns the files and chunks buckets of a files bucket,
// creating them in a write transaction; nil, nil when absent in a read one.
func fileBuckets(tx *bbolt.Tx, bucket string) (files, chunks *bbolt.Bucket, err error) {
	name := filesBucket(bucket)
	b := tx.Bucket(name)
	if b == nil {
		if !tx.Writable() {
			return nil, nil, nil
		}
		if b, err = tx.CreateBucket(name); err != nil {
			return nil, nil, err
		}
	}
	if files, chunks = b.Bucket(bucketFiles), b.Bucket(bucketChunks); files == nil && tx.Writable() {
		if files, err = b.CreateBucket(bucketFiles); err != nil {
			return nil, nil, err
		}
		if chunks, err = b.CreateBucket(bucketChunks); err != nil {
			return nil, nil, err
		}
	}
	return files, chunks, nil
}

// PutFile stores a file in chunks of store.FileChunkSize, a few chunks per
// transaction; the file becomes visible when its info is written last.
func (s *Store) PutFile(ctx context.Context, bucket string, info store.FileInfo, r io.Reader) (store.FileInfo, error) {
	bucket, err := store.Bucket(bucket)
	if err != nil {
		return store.FileInfo{}, fmt.Errorf("store: put file: %w", err)
	}
	if info.ID == "" {
		info.ID = store.NewID()
	}
	if err := store.PrepareFileInfo(&info); err != nil {
		return store.FileInfo{}, fmt.Errorf("store: put file %q: %w", info.ID, err)
	}
	what := fmt.Sprintf("put file %q in bucket %q", info.ID, bucket)
	exists := func(tx *bbolt.Tx) error {
		files, _, err := fileBuckets(tx, bucket)
		if err != nil {
			return err
		}
		if files.Get([]byte(info.ID)) != nil {
			return fmt.Errorf("file %q: %w", info.ID, store.ErrConflict)
		}
		return nil
	}
	if err := s.update(ctx, what, exists); err != nil {
		return store.FileInfo{}, err
	}
	sum := md5.New()
	var n uint32
	buf := make([]byte, store.FileChunkSize)
	cleanup := func() {
		_ = s.db.Update(func(tx *bbolt.Tx) error {
			_, chunks, err := fileBuckets(tx, bucket)
			if err != nil {
				return err
			}
			return deleteChunks(chunks, info.ID)
		})
	}
	for done := false; !done; {
		var batch [][]byte
		for len(batch) < chunksPerTx {
			k, err := io.ReadFull(r, buf)
			if k > 0 {
				batch = append(batch, bytes.Clone(buf[:k]))
				sum.Write(buf[:k])
				info.Length += int64(k)
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				done = true
				break
			}
			if err != nil {
				cleanup()
				return store.FileInfo{}, fmt.Errorf("store: %s: read: %w", what, err)
			}
		}
		err := s.update(ctx, what, func(tx *bbolt.Tx) error {
			_, chunks, err := fileBuckets(tx, bucket)
			if err != nil {
				return err
			}
			for _, c := range batch {
				if err := chunks.Put(chunkKey(info.ID, n), c); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			cleanup()
			return store.FileInfo{}, err
		}
	}
	info.MD5 = hex.EncodeToString(sum.Sum(nil))
	info.ChunkSize = store.FileChunkSize
	info.UploadDate = s.clock()
	err = s.update(ctx, what, func(tx *bbolt.Tx) error {
		if err := exists(tx); err != nil {
			return err
		}
		files, _, err := fileBuckets(tx, bucket)
		if err != nil {
			return err
		}
		return putInfo(files, info)
	})
	if err != nil {
		cleanup()
		return store.FileInfo{}, err
	}
	return info, nil
}

func putInfo(files *bbolt.Bucket, info store.FileInfo) error {
	enc, err := encodeValue(store.FileInfoDocument(info))
	if err != nil {
		return err
	}
	return files.Put([]byte(info.ID), enc)
}

func decodeInfo(v []byte) (store.FileInfo, error) {
	d, err := decodeDoc(v)
	if err != nil {
		return store.FileInfo{}, err
	}
	return store.FileInfoOf(d), nil
}

// lookup finds a file by id, else by filename (latest upload).
func lookup(files *bbolt.Bucket, bucket, key string) (store.FileInfo, error) {
	notFound := fmt.Errorf("file %q in bucket %q: %w", key, bucket, store.ErrNotFound)
	if files == nil {
		return store.FileInfo{}, notFound
	}
	if v := files.Get([]byte(key)); v != nil {
		return decodeInfo(v)
	}
	var best store.FileInfo
	found := false
	err := files.ForEach(func(_, v []byte) error {
		info, err := decodeInfo(v)
		if err != nil {
			return err
		}
		if info.Filename == key && (!found || info.UploadDate.After(best.UploadDate) ||
			info.UploadDate.Equal(best.UploadDate) && info.ID > best.ID) {
			best, found = info, true
		}
		return nil
	})
	if err != nil {
		return store.FileInfo{}, err
	}
	if !found {
		return store.FileInfo{}, notFound
	}
	return best, nil
}

// StatFile returns a file's info.
func (s *Store) StatFile(ctx context.Context, bucket, key string) (store.FileInfo, error) {
	bucket, err := store.Bucket(bucket)
	if err != nil {
		return store.FileInfo{}, fmt.Errorf("store: file info: %w", err)
	}
	var info store.FileInfo
	err = s.view(ctx, "file info", func(tx *bbolt.Tx) error {
		files, _, err := fileBuckets(tx, bucket)
		if err != nil {
			return err
		}
		info, err = lookup(files, bucket, key)
		return err
	})
	return info, err
}

// GetFile opens a file; the reader reads one chunk per read transaction,
// so a slow reader does not hold a transaction open.
func (s *Store) GetFile(ctx context.Context, bucket, key string) (store.FileInfo, io.ReadCloser, error) {
	info, err := s.StatFile(ctx, bucket, key)
	if err != nil {
		return store.FileInfo{}, nil, err
	}
	bucket, _ = store.Bucket(bucket)
	return info, &fileReader{s: s, bucket: bucket, info: info}, nil
}

type fileReader struct {
	s      *Store
	bucket string
	info   store.FileInfo
	n      uint32
	buf    []byte
	read   int64
	mu     sync.Mutex
	closed bool
}

func (r *fileReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errors.New("read of a closed file")
	}
	for len(r.buf) == 0 {
		if r.read >= r.info.Length {
			return 0, io.EOF
		}
		err := r.s.db.View(func(tx *bbolt.Tx) error {
			_, chunks, err := fileBuckets(tx, r.bucket)
			if err != nil {
				return err
			}
			var v []byte
			if chunks != nil {
				v = chunks.Get(chunkKey(r.info.ID, r.n))
			}
			if v == nil {
				return fmt.Errorf("file %q: chunk %d is missing (deleted while reading?)", r.info.ID, r.n)
			}
			r.buf = bytes.Clone(v)
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("store: read file: %w", err)
		}
		r.n++
	}
	k := copy(p, r.buf)
	r.buf = r.buf[k:]
	r.read += int64(k)
	return k, nil
}

func (r *fileReader) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return nil
}

// ListFiles returns the files of a bucket by upload date, then id.
func (s *Store) ListFiles(ctx context.Context, bucket string) ([]store.FileInfo, error) {
	bucket, err := store.Bucket(bucket)
	if err != nil {
		return nil, fmt.Errorf("store: list files: %w", err)
	}
	out := []store.FileInfo{}
	err = s.view(ctx, "list files", func(tx *bbolt.Tx) error {
		files, _, err := fileBuckets(tx, bucket)
		if err != nil || files == nil {
			return err
		}
		return files.ForEach(func(_, v []byte) error {
			info, err := decodeInfo(v)
			if err == nil {
				out = append(out, info)
			}
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].UploadDate.Equal(out[j].UploadDate) {
			return out[i].UploadDate.Before(out[j].UploadDate)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func deleteChunks(chunks *bbolt.Bucket, id string) error {
	prefix := append([]byte(id), 0)
	c := chunks.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// DeleteFile removes a file and its chunks.
func (s *Store) DeleteFile(ctx context.Context, bucket, key string) error {
	bucket, err := store.Bucket(bucket)
	if err != nil {
		return fmt.Errorf("store: delete file: %w", err)
	}
	return s.update(ctx, "delete file", func(tx *bbolt.Tx) error {
		files, chunks, err := fileBuckets(tx, bucket)
		if err != nil {
			return err
		}
		info, err := lookup(files, bucket, key)
		if err != nil {
			return err
		}
		if err := files.Delete([]byte(info.ID)); err != nil {
			return err
		}
		return deleteChunks(chunks, info.ID)
	})
}

// PatchFileMetadata merges md into a file's metadata.
func (s *Store) PatchFileMetadata(ctx context.Context, bucket, key string, md map[string]any) (store.FileInfo, error) {
	bucket, err := store.Bucket(bucket)
	if err != nil {
		return store.FileInfo{}, fmt.Errorf("store: patch file metadata: %w", err)
	}
	var info store.FileInfo
	err = s.update(ctx, "patch file metadata", func(tx *bbolt.Tx) error {
		files, _, err := fileBuckets(tx, bucket)
		if err != nil {
			return err
		}
		if info, err = lookup(files, bucket, key); err != nil {
			return err
		}
		if err := store.MergeMetadata(&info, md); err != nil {
			return err
		}
		return putInfo(files, info)
	})
	return info, err
}
