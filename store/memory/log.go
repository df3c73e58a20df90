package memory

// chunks is an append-only list that never moves what it holds: a value
// is one version of the list, and appending makes a new version that
// shares every element with the old one. Elements are kept in chunks
// whose size doubles up to maxChunk, so that appending costs O(1) without
// the copies of a growing slice, and a list of a few elements stays small.
//
// Readers use a version while one writer, holding the lock of the list's
// owner, appends: the writer only writes past the end of every version
// published before (in the spare capacity of the last chunk, or in the
// spare capacity of the list of chunks), which no reader of those
// versions looks at.
type chunks[T any] struct {
	full [][]T // full chunks, in order
	tail []T   // the chunk being filled
	n    int   // elements in all
}

const (
	firstChunk = 4
	maxChunk   = 1024
)

// appended returns the list with xs appended.
func (c chunks[T]) appended(xs ...T) chunks[T] { return c.appendedFix(nil, xs...) }

// appendedFix is appended, calling fix (if not nil) on each element in
// its place in the list: the copy the list keeps.
func (c chunks[T]) appendedFix(fix func(*T), xs ...T) chunks[T] {
	for _, x := range xs {
		if len(c.tail) == cap(c.tail) {
			if len(c.tail) > 0 {
				c.full = append(c.full, c.tail)
			}
			size := firstChunk
			if len(c.tail) > 0 {
				size = min(2*len(c.tail), maxChunk)
			}
			c.tail = make([]T, 0, size)
		}
		c.tail = append(c.tail, x)
		if fix != nil {
			fix(&c.tail[len(c.tail)-1])
		}
		c.n++
	}
	return c
}

// each calls fn with every element in order until fn returns false.
func (c chunks[T]) each(fn func(*T) bool) {
	for _, ch := range c.full {
		for i := range ch {
			if !fn(&ch[i]) {
				return
			}
		}
	}
	for i := range c.tail {
		if !fn(&c.tail[i]) {
			return
		}
	}
}

// from calls fn with the elements from the first for which before
// returns false, in order, until fn returns false. The elements must be
// sorted so that before is true for a prefix of them: from finds the
// first by binary search, in O(log n).
func (c chunks[T]) from(before func(*T) bool, fn func(*T) bool) {
	all := c.full
	if len(c.tail) > 0 {
		all = append(all[:len(all):len(all)], c.tail)
	}
	// The first chunk whose last element is not before.
	lo, hi := 0, len(all)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ch := all[m]; before(&ch[len(ch)-1]) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	for k := lo; k < len(all); k++ {
		ch := all[k]
		i := 0
		if k == lo {
			j, h := 0, len(ch)
			for j < h {
				m := int(uint(j+h) >> 1)
				if before(&ch[m]) {
					j = m + 1
				} else {
					h = m
				}
			}
			i = j
		}
		for ; i < len(ch); i++ {
			if !fn(&ch[i]) {
				return
			}
		}
	}
}
