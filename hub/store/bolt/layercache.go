package bolt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	bbolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/hub/store"
)

// Every document read and write looks up its layer, and decoding the
// layer's JSON (collections with free-form attributes, config) cost more
// than reading the document. decodedLayers memoises that decoding: an entry
// holds the stored bytes it was decoded from, and is used only while the
// bytes in the transaction at hand are the same, so a layer written by any
// transaction (committed or not, in this process or before it) is never
// served stale and nothing has to invalidate entries. Decoding is a pure
// function of the bytes, so one memo serves every open Store.
var decodedLayers layerMemo

// maxDecodedLayers bounds the memo; past it the memo starts over.
const maxDecodedLayers = 4096

type layerMemo struct {
	m sync.Map // layer id → *decodedLayer
	n atomic.Int64
}

type decodedLayer struct {
	raw []byte
	l   *store.Layer
}

// decode returns the layer stored as raw under id, shared and read-only.
func (c *layerMemo) decode(id string, raw []byte) (*store.Layer, error) {
	if e, ok := c.m.Load(id); ok {
		if d := e.(*decodedLayer); bytes.Equal(d.raw, raw) {
			return d.l, nil
		}
	}
	var l store.Layer
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("decode layer %q: %w", id, err)
	}
	// raw belongs to the transaction: keep a copy
	d := &decodedLayer{raw: bytes.Clone(raw), l: &l}
	if _, loaded := c.m.Swap(id, d); !loaded && c.n.Add(1) > maxDecodedLayers {
		c.m.Clear()
		c.n.Store(0)
	}
	return d.l, nil
}

// layerView returns a layer as stored in tx without copying it: callers
// must not change it (getLayer returns a copy they may change).
func layerView(tx *bbolt.Tx, id string) (*store.Layer, error) {
	v := tx.Bucket(bucketLayers).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("layer %q: %w", id, store.ErrNotFound)
	}
	return decodedLayers.decode(id, v)
}
