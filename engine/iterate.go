package engine

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// eachKey calls fn for every key of the transaction's namespace at or after
// from (nil: the first), in byte order, until fn returns false. Values are
// not prefetched: most callers need keys only.
func (x *Txn) eachKey(from []byte, fn func(key []byte, item *badger.Item) (bool, error)) error {
	if err := x.s.outsideBatch(); err != nil {
		return err // a batch may read only the keys it locked
	}
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = nsPrefix(x.ns)
	it := x.t.NewIterator(opts)
	defer it.Close()
	for it.Seek(encodeKey(x.ns, from)); it.Valid(); it.Next() {
		item := it.Item()
		more, err := fn(userKey(item.Key()), item)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
	return nil
}

// itemLive reports whether an iterated key is live now. badger already hides
// items past their (whole second) ExpiresAt; one more than a second away
// cannot have passed its millisecond deadline either.
func (x *Txn) itemLive(item *badger.Item) (bool, error) {
	exp := item.ExpiresAt()
	if exp == 0 || int64(exp)*1000 > x.now+2000 {
		return true, nil
	}
	r, err := x.itemRecord(item)
	if err != nil {
		return false, err
	}
	return !r.expiredAt(x.now), nil
}

func (x *Txn) itemRecord(item *badger.Item) (record, error) {
	v, err := item.ValueCopy(nil)
	if err != nil {
		return record{}, fmt.Errorf("read value: %w", err)
	}
	return decodeRecord(v)
}
