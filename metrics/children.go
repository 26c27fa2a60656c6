package metrics

import (
	"maps"
	"sync"
	"sync/atomic"
)

// children caches the children of a metric vector by their label values.
// WithLabelValues builds a slice and hashes the values on every call; on
// the submission path a lookup in this map costs neither an allocation
// nor a lock. The map is copied on write, and only the first use of a
// label set writes: label values come from small fixed sets, so that
// happens a few dozen times in a process's life.
type children[K comparable, V any] struct {
	cur  atomic.Pointer[map[K]V]
	mu   sync.Mutex // serialises writers
	make func(K) V
}

// newChildren makes the children of keys at once (so that their series
// exist, at zero, from the first scrape), and any other key on first use
// with mk.
func newChildren[K comparable, V any](mk func(K) V, keys ...K) *children[K, V] {
	c := &children[K, V]{make: mk}
	m := make(map[K]V, len(keys))
	for _, k := range keys {
		m[k] = mk(k)
	}
	c.cur.Store(&m)
	return c
}

// get returns the child of k, making it on first use.
func (c *children[K, V]) get(k K) V {
	if v, ok := (*c.cur.Load())[k]; ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.cur.Load()
	if v, ok := old[k]; ok {
		return v
	}
	v := c.make(k)
	m := maps.Clone(old)
	m[k] = v
	c.cur.Store(&m)
	return v
}
