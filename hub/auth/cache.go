// The credential cache: verified tokens and app keys, so that a request
// with known credentials costs a map lookup instead of two store reads.

package auth

import (
	"sync"
	"time"
)

// DefaultCacheTTL is how long a verified credential is trusted without
// reading the store again (Options.CacheTTL).
const DefaultCacheTTL = 5 * time.Second

// maxCacheEntries bounds the cache; past it, stale entries are swept and,
// if that frees nothing, the cache starts over.
const maxCacheEntries = 10000

// credCache maps verified credentials (id and secret hash) to their
// principal. An entry is used until the token expires or, at most, for the
// cache TTL: writes this process makes (logout, renewal, password, grant or
// role changes, user and app deletion) drop entries at once; the TTL bounds
// how long a change made by another hub sharing the store, or by a tool
// writing the store directly, goes unnoticed.
type credCache struct {
	ttl time.Duration // <= 0: no caching

	mu sync.RWMutex
	// gen counts invalidations; an entry verified under an older
	// generation is not added, so a verification racing with a logout
	// cannot cache a revoked token.
	gen     uint64
	entries map[cacheKey]cacheEntry
}

type cacheKey struct {
	id, hash string
}

type cacheEntry struct {
	p *Principal
	// expires is the token's expiry (zero for apps, whose keys do not expire).
	expires time.Time
	// until is when the store must be read again.
	until time.Time
}

func newCredCache(ttl time.Duration) *credCache {
	return &credCache{ttl: ttl, entries: map[cacheKey]cacheEntry{}}
}

// get returns the principal cached for id and hash, if still valid at now,
// and the generation to pass to put after a store read otherwise.
func (c *credCache) get(id, hash string, now time.Time) (*Principal, uint64) {
	if c.ttl <= 0 {
		return nil, 0
	}
	c.mu.RLock()
	e, ok := c.entries[cacheKey{id, hash}]
	gen := c.gen
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) || (!e.expires.IsZero() && !now.Before(e.expires)) {
		return nil, gen
	}
	p := *e.p // callers get their own copy; Grants is shared and never modified
	return &p, gen
}

// put caches p for id and hash unless an invalidation happened since gen.
func (c *credCache) put(id, hash string, p *Principal, expires, now time.Time, gen uint64) {
	if c.ttl <= 0 {
		return
	}
	until := now.Add(c.ttl)
	if !expires.IsZero() && expires.Before(until) {
		until = expires
	}
	cp := *p
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.entries) >= maxCacheEntries {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCacheEntries {
			clear(c.entries)
		}
	}
	c.entries[cacheKey{id, hash}] = cacheEntry{p: &cp, expires: expires, until: until}
}

// drop removes the entries of principal id of kind k, or, when hash is not
// empty, only the one of that token or key.
func (c *credCache) drop(k Kind, id, hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for key, e := range c.entries {
		if e.p.Kind == k && key.id == id && (hash == "" || key.hash == hash) {
			delete(c.entries, key)
		}
	}
}
