package engine

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
)

// SORT and SORT_RO over lists, sets and sorted sets, with Redis 7.0's
// semantics (sort.c): elements are read straight from the shared encodings
// (list elements in sequence order, set members, sorted-set members with the
// score index for BY nosort), weights and GET values are looked up through
// patterns in the same snapshot.

// SortArgs are SORT's options, parsed.
type SortArgs struct {
	By []byte // the weight pattern (nil: the elements themselves)
	// NoSort is set when a BY pattern without '*' was given, even before
	// another BY: as in Redis the elements then keep their own order
	// (sets excepted when storing: they are sorted ALPHA).
	NoSort bool
	// Offset and Count are LIMIT's arguments; Count < 0 means all (the
	// default, with Offset 0).
	Offset, Count int64
	Get           [][]byte // GET patterns, in order
	Desc, Alpha   bool
}

// sortItem is one element to sort with its weight.
type sortItem struct {
	elem  []byte
	score float64 // numeric weight
	by    []byte  // ALPHA weight from a BY pattern; nil when missing
}

// Sort returns SORT's reply: the selected elements, or for each one the
// value of every GET pattern (nil where the pattern names nothing).
func (s *Store) Sort(db int, key []byte, a SortArgs) ([][]byte, error) {
	var out [][]byte
	err := s.view(db, func(x *Txn) error {
		var err error
		out, err = x.sort(key, a, false, x)
		return err
	})
	return out, err
}

// SortStore runs SORT ... STORE dst: the reply becomes a list at dst
// (missing GET values as empty strings), replacing dst and its TTL, or
// deleting dst when empty. It returns the list's length.
//
// The sorted key and dst are locked; the keys BY and GET patterns name are
// not known in advance, so they are read from a read-only snapshot taken
// with the locks held (readTxn, like any read): as consistent as a plain
// SORT, and a concurrent write to a weight key cannot make this transaction
// conflict.
func (s *Store) SortStore(db int, key, dst []byte, a SortArgs) (int64, error) {
	var n int64
	err := s.update(db, [][]byte{key, dst}, func(x *Txn) error {
		lookups := x
		if s.batch == nil {
			// In a batch the keys were locked and the lookups must see
			// the batch's own writes: they use its transaction.
			snap, sr := s.readTxn()
			defer s.doneReading(snap, sr)
			var readOnly writeCount
			lookups = &Txn{t: snap, s: s, ns: x.ns, now: x.now, writes: &readOnly}
		}
		out, err := x.sort(key, a, true, lookups)
		if err != nil {
			return err
		}
		n = int64(len(out))
		return x.replaceWithList(dst, out)
	})
	return n, err
}

// replaceWithList makes key a new list of elems, or deletes key when there
// are none, with the list encoding (elements at sequence numbers head,
// head+1, ... as 8-byte big-endian keys).
func (x *Txn) replaceWithList(key []byte, elems [][]byte) error {
	if len(elems) == 0 {
		if _, exists, err := x.get(key); err != nil || !exists {
			return err
		}
		return x.del(key)
	}
	c := x.newCollection(KindList)
	for _, e := range elems {
		if err := x.putMember(c.id, sortSeqKey(c.tail), e); err != nil {
			return err
		}
		c.tail++
	}
	c.count = int64(len(elems))
	return x.saveCollection(key, c, true)
}

// sortSeqKey is the member name of list sequence number seq.
func sortSeqKey(seq int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(seq))
}

// sort is SORT on key. lookups reads the keys patterns name.
func (x *Txn) sort(key []byte, a SortArgs, store bool, lookups *Txn) ([][]byte, error) {
	r, exists, err := x.get(key)
	if err != nil {
		return nil, err
	}
	var c collection
	if exists {
		if r.kind != KindList && r.kind != KindSet && r.kind != KindZSet {
			return nil, ErrWrongType
		}
		if c, err = decodeCollection(r); err != nil {
			return nil, err
		}
	} else {
		c = collection{kind: KindList} // a missing key sorts as an empty list
	}
	dontSort, by := a.NoSort, a.By
	if dontSort {
		by = nil
	}
	alpha := a.Alpha
	if dontSort && c.kind == KindSet && store {
		// Redis sorts a set anyway when storing, so that the stored list
		// does not depend on hash order.
		dontSort, alpha = false, true
	}

	start, end := sortLimit(a.Offset, a.Count, c.count)
	var items []sortItem
	if dontSort && c.kind != KindSet {
		// Lists and sorted sets keep their own order: read only the range.
		items, err = x.sortRange(c, start, end-start+1, a.Desc)
		start, end = 0, end-start
	} else {
		items, err = x.sortLoad(c)
	}
	if err != nil {
		return nil, err
	}

	if !dontSort {
		if err := sortWeigh(lookups, items, by, alpha); err != nil {
			return nil, err
		}
		slices.SortStableFunc(items, sortCompare(by != nil, alpha, a.Desc))
	}

	// Trust what was read over the header's count, should they disagree.
	start, end = min(start, int64(len(items))), min(end, int64(len(items))-1)
	var out [][]byte
	for _, it := range items[start : end+1] {
		if len(a.Get) == 0 {
			out = append(out, it.elem)
			continue
		}
		for _, pat := range a.Get {
			v, found, err := lookups.sortLookup(pat, it.elem)
			if err != nil {
				return nil, err
			}
			if store && !found {
				v = []byte{}
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// sortLimit applies Redis's LIMIT rules to n elements: the reply is
// elements start..end inclusive (end < start: none).
func sortLimit(offset, count, n int64) (start, end int64) {
	start = min(max(offset, 0), n)
	count = min(max(count, -1), n)
	end = start + count - 1
	if count < 0 {
		end = n - 1
	}
	if start >= n {
		start, end = n-1, n-2
	}
	end = min(end, n-1)
	if start < 0 { // n == 0
		start, end = 0, -1
	}
	return start, end
}

// sortLoad reads every element of c: a list in order, set and sorted-set
// members in byte order.
func (x *Txn) sortLoad(c collection) ([]sortItem, error) {
	items := make([]sortItem, 0, min(c.count, 1<<16))
	if c.count == 0 {
		return items, nil
	}
	err := x.eachRaw(memberPrefix(c.id), nil, false, func(k, v []byte) (bool, error) {
		elem := k
		if c.kind == KindList {
			elem = v
		}
		items = append(items, sortItem{elem: append([]byte{}, elem...)})
		return true, nil
	})
	return items, err
}

// sortRange reads n elements of list or sorted set c from position start in
// its own order (from the end when desc): list order, or score order for a
// sorted set.
func (x *Txn) sortRange(c collection, start, n int64, desc bool) ([]sortItem, error) {
	items := make([]sortItem, 0, max(min(n, 1<<16), 0))
	if n <= 0 {
		return items, nil
	}
	take := func(elem []byte) bool {
		items = append(items, sortItem{elem: append([]byte{}, elem...)})
		return int64(len(items)) < n
	}
	if c.kind == KindList {
		from := c.head + start
		if desc {
			from = c.tail - 1 - start
		}
		return items, x.eachRaw(memberPrefix(c.id), sortSeqKey(from), desc, func(_, v []byte) (bool, error) {
			return take(v), nil
		})
	}
	// The score index orders members by score, then by member; reaching
	// position start costs start steps.
	skip := start
	return items, x.eachRaw(scorePrefix(c.id), nil, desc, func(k, _ []byte) (bool, error) {
		if skip > 0 {
			skip--
			return true, nil
		}
		return take(k[8:]), nil
	})
}

// sortWeigh fills in each item's weight: with by, the value its pattern
// names (missing: 0, or nil for ALPHA); otherwise the element itself, which
// only numeric sorting needs.
func sortWeigh(lookups *Txn, items []sortItem, by []byte, alpha bool) error {
	bad := false
	for i := range items {
		w := items[i].elem
		if by != nil {
			v, found, err := lookups.sortLookup(by, items[i].elem)
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			w = v
		}
		if alpha {
			items[i].by = w
			continue
		}
		score, ok := sortParseScore(w)
		if !ok {
			bad = true
		}
		items[i].score = score
	}
	if bad {
		return ErrSortScore
	}
	return nil
}

// sortCompare orders items as Redis's sortCompare: numerically with ties
// broken by the elements' bytes, or by bytes (ALPHA; a missing BY value
// first). The C locale's strcoll is byte order.
func sortCompare(byPattern, alpha, desc bool) func(a, b sortItem) int {
	return func(a, b sortItem) int {
		var c int
		switch {
		case !alpha:
			switch {
			case a.score > b.score:
				c = 1
			case a.score < b.score:
				c = -1
			default:
				c = bytes.Compare(a.elem, b.elem)
			}
		case byPattern:
			switch {
			case a.by == nil && b.by == nil:
				c = 0
			case a.by == nil:
				c = -1
			case b.by == nil:
				c = 1
			default:
				c = bytes.Compare(a.by, b.by)
			}
		default:
			c = bytes.Compare(a.elem, b.elem)
		}
		if desc {
			return -c
		}
		return c
	}
}

// sortLookup is Redis's lookupKeyByPattern: "#" is the element itself;
// otherwise the first '*' of pattern is replaced by the element to name a
// key, and "->field" after the '*' names a field of the hash there. Only a
// string (or, with a field, a hash) yields a value; a pattern without '*'
// names nothing.
func (x *Txn) sortLookup(pattern, elem []byte) ([]byte, bool, error) {
	if len(pattern) == 1 && pattern[0] == '#' {
		return elem, true, nil
	}
	star := bytes.IndexByte(pattern, '*')
	if star < 0 {
		return nil, false, nil
	}
	post, field := pattern[star+1:], []byte(nil)
	if arrow := bytes.Index(post, []byte("->")); arrow >= 0 && arrow+2 < len(post) {
		post, field = post[:arrow], post[arrow+2:]
	}
	name := make([]byte, 0, len(pattern)+len(elem))
	name = append(append(append(name, pattern[:star]...), elem...), post...)
	r, ok, err := x.get(name)
	if err != nil || !ok {
		return nil, false, err
	}
	if field == nil {
		if r.kind != KindString {
			return nil, false, nil
		}
		return append([]byte{}, r.payload...), true, nil
	}
	if r.kind != KindHash {
		return nil, false, nil
	}
	c, err := decodeCollection(r)
	if err != nil {
		return nil, false, err
	}
	v, ok, err := x.getMember(c.id, field)
	if ok && v == nil {
		v = []byte{}
	}
	return v, ok, err
}

// sortParseScore converts a weight as SORT does, with C's strtod: leading
// white space, hexadecimal and "inf" are accepted; trailing bytes, NaN and
// out-of-range values are not. strtod stops at a NUL byte, and an empty
// string converts to 0.
func sortParseScore(b []byte) (float64, bool) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return 0, true
	}
	s := strings.TrimLeft(string(b), " \t\n\v\f\r")
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 || body == "" {
		return 0, false
	}
	switch strings.ToLower(body) {
	case "inf", "infinity":
		if s[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	hex := len(body) > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')
	if !sortNumberSyntax(body, hex) {
		return 0, false
	}
	if hex && !strings.ContainsAny(body, "pP") {
		s += "p0" // Go requires the binary exponent that C makes optional
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false // ERANGE: overflow
	}
	if f == 0 && strings.ContainsAny(strings.TrimLeft(sortMantissa(body, hex), "0x.X"), "123456789abcdefABCDEF") {
		return 0, false // ERANGE: underflow to zero
	}
	if f != 0 && math.Abs(f) < 0x1p-1022 {
		return 0, false // ERANGE: glibc reports subnormal results too
	}
	return f, true
}

// sortNumberSyntax reports whether s (no sign) is a whole decimal or
// hexadecimal floating point literal as strtod reads one: digits with an
// optional point, at least one digit, then an optional exponent that has
// digits.
func sortNumberSyntax(s string, hex bool) bool {
	digit := func(c byte) bool { return '0' <= c && c <= '9' }
	isDigit, exp := digit, byte('e')
	if hex {
		s = s[2:]
		isDigit = func(c byte) bool {
			return digit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
		}
		exp = 'p'
	}
	i, digits := 0, 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && isDigit(s[i]); i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i == len(s) {
		return true
	}
	if s[i]|0x20 != exp {
		return false
	}
	i++
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	if i == len(s) {
		return false
	}
	for ; i < len(s); i++ {
		if !digit(s[i]) {
			return false
		}
	}
	return true
}

// sortMantissa is s without its exponent.
func sortMantissa(s string, hex bool) string {
	exp := "eE"
	if hex {
		exp = "pP"
	}
	if i := strings.IndexAny(s, exp); i >= 0 {
		return s[:i]
	}
	return s
}
