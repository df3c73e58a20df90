package memory

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/relman-dev/relman"
)

// orderIndex keeps every release in the two orders whose keys a write
// seldom changes: creation time (then id), List's default, and id. List
// in those orders starts at its cursor (or its first release) by binary
// search and reads on until the page is full, so that every page of a
// walk through the store costs the same. Releases enter it on Create and
// move only when an Update changes their creation time; a transition
// never touches it. List by update time, which every write changes,
// sorts the matching releases instead.
type orderIndex struct {
	mu      sync.RWMutex
	created sortedItems // by created, then id
	byID    sortedItems // by id; created is zero
}

type orderItem struct {
	created time.Time
	id      string
	r       *rec
}

func compareItems(a, b orderItem) int {
	return cmp.Or(a.created.Compare(b.created), strings.Compare(a.id, b.id))
}

// sortedItems is a sorted list of items kept in chunks of at most
// chunkItems, so that an insert anywhere (a random id, an old creation
// time) moves the items of one chunk and not of the whole list: O(log n)
// to find the place and O(chunkItems) to make room, where one sorted
// slice cost O(n).
type sortedItems struct {
	chunks [][]orderItem // each sorted and not empty; all of one before all of the next
}

const chunkItems = 256

// pos is a place in a sortedItems: chunk c, item i.
type pos struct{ c, i int }

// search returns the place of the first item not before key (the end of
// the list if there is none) and whether it equals key.
func (s *sortedItems) search(key orderItem) (pos, bool) {
	// The first chunk whose last item is not before key.
	c, _ := slices.BinarySearchFunc(s.chunks, key, func(ch []orderItem, key orderItem) int {
		return compareItems(ch[len(ch)-1], key)
	})
	if c == len(s.chunks) {
		return s.end(), false
	}
	i, found := slices.BinarySearchFunc(s.chunks[c], key, compareItems)
	return pos{c, i}, found
}

// end returns the place just past the last item.
func (s *sortedItems) end() pos {
	if len(s.chunks) == 0 {
		return pos{}
	}
	return pos{len(s.chunks) - 1, len(s.chunks[len(s.chunks)-1])}
}

func (s *sortedItems) insert(it orderItem) {
	if len(s.chunks) == 0 {
		ch := make([]orderItem, 1, chunkItems)
		ch[0] = it
		s.chunks = [][]orderItem{ch}
		return
	}
	p, _ := s.search(it) // past the last item: the end of the last chunk
	if ch := s.chunks[p.c]; len(ch) == chunkItems {
		// Full: the upper half moves to a new chunk, the lower half keeps
		// the backing array (the items it no longer holds are cleared, so
		// as not to keep their releases alive).
		half := chunkItems / 2
		hi := make([]orderItem, chunkItems-half, chunkItems)
		copy(hi, ch[half:])
		clear(ch[half:])
		s.chunks[p.c] = ch[:half]
		s.chunks = slices.Insert(s.chunks, p.c+1, hi)
		if p.i > half {
			p = pos{p.c + 1, p.i - half}
		}
	}
	s.chunks[p.c] = slices.Insert(s.chunks[p.c], p.i, it)
}

func (s *sortedItems) delete(it orderItem) {
	p, found := s.search(it)
	if !found {
		return
	}
	if ch := slices.Delete(s.chunks[p.c], p.i, p.i+1); len(ch) > 0 {
		s.chunks[p.c] = ch
	} else {
		s.chunks = slices.Delete(s.chunks, p.c, p.c+1)
	}
}

// at returns the item at p, which must be in the list.
func (s *sortedItems) at(p pos) orderItem { return s.chunks[p.c][p.i] }

// valid reports whether p is an item of the list.
func (s *sortedItems) valid(p pos) bool {
	return p.c >= 0 && p.c < len(s.chunks) && p.i >= 0 && p.i < len(s.chunks[p.c])
}

// next returns the place after p (step 1) or before it (step -1); a place
// off either end is not valid.
func (s *sortedItems) next(p pos, step int) pos {
	p.i += step
	switch {
	case p.i < 0 && p.c > 0:
		p.c--
		p.i = len(s.chunks[p.c]) - 1
	case p.i >= len(s.chunks[p.c]) && p.c+1 < len(s.chunks):
		p.c++
		p.i = 0
	}
	return p
}

// last returns the place of the last item (not valid if there is none).
func (s *sortedItems) last() pos {
	p := s.end()
	p.i--
	return p
}

// add indexes a new release.
func (o *orderIndex) add(r *rec, c *relman.Release) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.created.insert(orderItem{c.CreatedAt, c.ID, r})
	o.byID.insert(orderItem{time.Time{}, c.ID, r})
}

// moved follows an Update that changed a release's creation time.
func (o *orderIndex) moved(r *rec, id string, from, to time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.created.delete(orderItem{from, id, r})
	o.created.insert(orderItem{to, id, r})
}

// page returns the releases of one List page in q's order (created_at or
// id), q normalized and valid.
func (o *orderIndex) page(q relman.Query) []*relman.Release {
	o.mu.RLock()
	defer o.mu.RUnlock()
	items := &o.created
	if q.OrderBy == relman.OrderID {
		items = &o.byID
	}
	// p: the first item of the walk; step: its direction.
	p, step := pos{}, 1
	if q.Desc {
		p, step = items.last(), -1
	}
	if q.After != "" {
		k, _ := q.Key()
		j, found := items.search(orderItem{created: k.Time, id: k.ID})
		switch {
		case !q.Desc && found:
			p = items.next(j, 1)
		case !q.Desc:
			p = j
		default:
			p = j
			if j == items.end() {
				p = items.last()
			} else {
				p = items.next(j, -1)
			}
		}
	}
	skip := q.Offset
	var out []*relman.Release
	for ; items.valid(p) && len(out) < q.Limit; p = items.next(p, step) {
		r := items.at(p).r.cur.Load()
		if !q.Match(r) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, r.Clone())
	}
	return out
}
