package engine

import (
	"bytes"
	"math/rand/v2"

	"github.com/dgraph-io/badger/v4"
)

// Random members for SPOP and SRANDMEMBER.
//
// A small set is read whole and sampled uniformly. A large one is probed:
// badger can seek but cannot index by rank, so a probe descends the member
// keys one branching byte at a time, at each level choosing uniformly among
// the byte values between the first and last member under the prefix chosen
// so far, and takes the first member at or after the prefix it ends with.
// That adapts to the members' alphabet ("user:0001".."user:9999" picks each
// digit in turn) but is not exactly uniform when members are spread
// unevenly; Redis does not promise uniformity either.

// setSmallSample is the set size up to which sampling reads the whole set.
const setSmallSample = 256

// setSample returns n distinct members of set c, 0 < n < c.count,
// chosen at random.
func (x *Txn) setSample(c collection, n int64) ([][]byte, error) {
	if c.count <= setSmallSample || n*4 >= c.count {
		return x.setSampleByReading(c, n)
	}
	p := x.newMemberProber(c)
	defer p.close()
	seen := make(map[string]bool, n)
	out := make([][]byte, 0, n)
	for tries := int64(0); int64(len(out)) < n; tries++ {
		if tries > 8*n+64 { // unevenly spread members keep colliding
			p.close()
			return x.setSampleByReading(c, n)
		}
		m := p.pick()
		if m == nil || seen[string(m)] {
			continue
		}
		seen[string(m)] = true
		out = append(out, m)
	}
	return out, nil
}

// setSampleByReading reads every member and picks n distinct ones uniformly.
func (x *Txn) setSampleByReading(c collection, n int64) ([][]byte, error) {
	all, err := x.setMembers(c)
	if err != nil {
		return nil, err
	}
	n = min(n, int64(len(all)))
	for i := int64(0); i < n; i++ { // a partial Fisher-Yates shuffle
		j := i + rand.Int64N(int64(len(all))-i)
		all[i], all[j] = all[j], all[i]
	}
	return all[:n], nil
}

// setDraw returns n members of set c drawn at random independently, so
// they may repeat (SRANDMEMBER with a negative count).
func (x *Txn) setDraw(c collection, n int64) ([][]byte, error) {
	out := make([][]byte, 0, min(n, 1<<16))
	if c.count <= setSmallSample || n >= c.count {
		all, err := x.setMembers(c)
		if err != nil || len(all) == 0 {
			return nil, err
		}
		for i := int64(0); i < n; i++ {
			out = append(out, all[rand.IntN(len(all))])
		}
		return out, nil
	}
	p := x.newMemberProber(c)
	defer p.close()
	for int64(len(out)) < n {
		if m := p.pick(); m != nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// memberProber picks random members of one collection with two iterators over
// its member keys.
type memberProber struct {
	base     []byte // memberPrefix(id)
	fwd, rev *badger.Iterator
}

func (x *Txn) newMemberProber(c collection) *memberProber {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = memberPrefix(c.id)
	opts.PrefetchValues = false
	p := &memberProber{base: opts.Prefix, fwd: x.t.NewIterator(opts)}
	opts.Reverse = true
	p.rev = x.t.NewIterator(opts)
	return p
}

// close releases the iterators; it may be called more than once.
func (p *memberProber) close() {
	if p.fwd != nil {
		p.fwd.Close()
		p.rev.Close()
		p.fwd, p.rev = nil, nil
	}
}

// first returns the first member key at or after from, or nil.
func (p *memberProber) first(from []byte) []byte {
	p.fwd.Seek(from)
	if !p.fwd.Valid() {
		return nil
	}
	return p.fwd.Item().KeyCopy(nil)
}

// last returns the last member key that starts with prefix, or nil.
func (p *memberProber) last(prefix []byte) []byte {
	// The smallest key after every key with this prefix: strip trailing
	// 0xff bytes and increment the last one (base never ends in 0xff
	// bytes only, its first byte being prefixMember).
	end := bytes.Clone(bytes.TrimRight(prefix, "\xff"))
	end[len(end)-1]++
	p.rev.Seek(end)
	if p.rev.Valid() && bytes.Equal(p.rev.Item().Key(), end) {
		p.rev.Next()
	}
	if !p.rev.Valid() || !bytes.HasPrefix(p.rev.Item().Key(), prefix) {
		return nil
	}
	return p.rev.Item().KeyCopy(nil)
}

// pick returns one member chosen at random (nil only for an empty set).
func (p *memberProber) pick() []byte {
	prefix := p.base
	for depth := 0; depth < 64; depth++ {
		lo := p.first(prefix)
		if lo == nil || !bytes.HasPrefix(lo, prefix) {
			break // no member under the chosen prefix: take the next one
		}
		hi := p.last(prefix)
		if hi == nil || bytes.Equal(lo, hi) {
			return lo[len(p.base):]
		}
		cp := probeCommonPrefix(lo, hi)
		var low int
		if cp < len(lo) {
			low = int(lo[cp])
		} else {
			// lo is a member and a prefix of every other member here:
			// stopping at lo is one more choice, just below the smallest
			// byte that follows lo.
			low = int(p.first(append(lo, 0))[cp]) - 1
		}
		b := low + rand.IntN(int(hi[cp])-low+1)
		if cp == len(lo) && b == low {
			return lo[len(p.base):]
		}
		prefix = append(hi[:cp:cp], byte(b))
	}
	m := p.first(prefix)
	if m == nil {
		m = p.first(p.base)
	}
	if m == nil {
		return nil
	}
	return m[len(p.base):]
}

func probeCommonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
