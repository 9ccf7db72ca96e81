package projections

import (
	"bytes"
	"fmt"
	"sync"
)

// recordCache keeps decoded event records for the queries that decode
// them, keyed by their stored bytes: an event asked for by id (the feed
// renders each new one, and every open page asks again for an event a
// correction changed), the timeline as values, and an event whose stored
// JSON is not canonical. Being keyed by content, an entry can never be
// stale, whichever store or transaction it came from. Queries only read
// what they get; Apply decodes its own.
//
// Two generations bound it: when the young one is full it becomes the old
// one, and what is still used is carried forward on its next hit.
type recordCache struct {
	mu         sync.Mutex
	young, old map[string]*cached
}

type cached struct {
	raw []byte
	rec *eventRecord
}

const recordCacheSize = 4096

var decoded = &recordCache{young: map[string]*cached{}, old: map[string]*cached{}}

// get returns the record stored as raw under id, decoding it on a miss.
func (c *recordCache) get(id string, raw []byte) (*eventRecord, error) {
	c.mu.Lock()
	e, ok := c.young[id]
	if !ok {
		if e, ok = c.old[id]; ok {
			c.put(id, e)
		}
	}
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		return e.rec, nil
	}
	own := bytes.Clone(raw) // the stored bytes belong to the transaction
	r, err := decodeRecord(own, true)
	if err != nil {
		return nil, fmt.Errorf("event record %s: %w", id, err)
	}
	c.mu.Lock()
	c.put(id, &cached{raw: own, rec: r})
	c.mu.Unlock()
	return r, nil
}

func (c *recordCache) put(id string, e *cached) {
	if len(c.young) >= recordCacheSize {
		c.old, c.young = c.young, make(map[string]*cached, recordCacheSize)
	}
	c.young[id] = e
}

// cachedRecord is getRecord for queries: the record may be shared with
// other queries and must not be changed.
func cachedRecord(tx Tx, id string) (*eventRecord, error) {
	v := tx.Bucket(BucketEvents).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	return decoded.get(id, v)
}
