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
	created []orderItem // by created, then id
	byID    []orderItem // by id; created is zero
}

type orderItem struct {
	created time.Time
	id      string
	r       *rec
}

func compareItems(a, b orderItem) int {
	return cmp.Or(a.created.Compare(b.created), strings.Compare(a.id, b.id))
}

func insertItem(s []orderItem, it orderItem) []orderItem {
	i, _ := slices.BinarySearchFunc(s, it, compareItems)
	return slices.Insert(s, i, it)
}

func deleteItem(s []orderItem, it orderItem) []orderItem {
	if i, ok := slices.BinarySearchFunc(s, it, compareItems); ok {
		return slices.Delete(s, i, i+1)
	}
	return s
}

// add indexes a new release.
func (o *orderIndex) add(r *rec, c *relman.Release) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.created = insertItem(o.created, orderItem{c.CreatedAt, c.ID, r})
	o.byID = insertItem(o.byID, orderItem{time.Time{}, c.ID, r})
}

// moved follows an Update that changed a release's creation time.
func (o *orderIndex) moved(r *rec, id string, from, to time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.created = deleteItem(o.created, orderItem{from, id, r})
	o.created = insertItem(o.created, orderItem{to, id, r})
}

// page returns the releases of one List page in q's order (created_at or
// id), q normalized and valid.
func (o *orderIndex) page(q relman.Query) []*relman.Release {
	o.mu.RLock()
	defer o.mu.RUnlock()
	items := o.created
	if q.OrderBy == relman.OrderID {
		items = o.byID
	}
	// i: the first item of the walk; step: its direction.
	i, step := 0, 1
	if q.Desc {
		i, step = len(items)-1, -1
	}
	if q.After != "" {
		k, _ := q.Key()
		key := orderItem{created: k.Time, id: k.ID}
		j, found := slices.BinarySearchFunc(items, key, compareItems)
		switch {
		case !q.Desc && found:
			i = j + 1
		case !q.Desc:
			i = j
		default:
			i = j - 1
		}
	}
	skip := q.Offset
	var out []*relman.Release
	for ; i >= 0 && i < len(items) && len(out) < q.Limit; i += step {
		r := items[i].r.cur.Load()
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
