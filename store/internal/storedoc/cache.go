package storedoc

import (
	"sync"

	"github.com/relman-dev/relman"
)

// Cache keeps decoded copies of releases by id and revision, for the SQL
// stores. A revision
// identifies one content of a release (every write increments it, under
// the revision check), so Get can ask the database for the document only
// when the stored revision is not the cached one, and skip decoding it
// otherwise. The Manager's Fire reads the release its previous Update
// wrote, so most reads hit.
type Cache struct {
	mu  sync.Mutex
	max int
	m   map[string]cached
}

type cached struct {
	rev int64
	r   *relman.Release // never changed: Get hands out clones, GetShared the value
}

// NewCache returns a cache of at most max releases, or nil (a cache that
// keeps nothing; its methods may be called) when max is not positive.
func NewCache(max int) *Cache {
	if max <= 0 {
		return nil
	}
	return &Cache{max: max, m: make(map[string]cached)}
}

// Revision returns the cached revision of id, or 0.
func (c *Cache) Revision(id string) int64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id].rev
}

// Get returns the cached release, which the caller must not change, if
// it is at revision rev.
func (c *Cache) Get(id string, rev int64) *relman.Release {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if !ok || e.rev != rev {
		return nil
	}
	return e.r
}

// Put keeps r (which the caller must not change afterwards) as id's
// content at revision rev, unless a later revision is cached.
func (c *Cache) Put(id string, rev int64, r *relman.Release) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok && e.rev > rev {
		return
	}
	if _, ok := c.m[id]; !ok && len(c.m) >= c.max {
		for k := range c.m { // evict an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	c.m[id] = cached{rev: rev, r: r}
}
