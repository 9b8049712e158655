package search

import (
	"container/heap"
	"math"
	"math/bits"
	"runtime"
	"sort"
	"sync"
)

// mirror is the embedded store's in-memory copy of its live records: ids,
// trimmed vectors with their norms, and metadata by column so that a filter
// is a loop over one array per key. Rows are dense 0..n-1; a delete moves the
// last row into the hole. Not safe for concurrent use: embedded guards it.
type mirror struct {
	space Space
	ids   []string
	index map[string]int32
	vecs  [][]float32 // trimmed: no trailing zeros
	norms []float32   // Euclidean norm of each row
	cols  map[string]*column
}

// column holds one metadata key. It starts sparse (a map from row) and turns
// dense (arrays indexed by row) once many rows have the key, so rare config
// keys cost memory per use, common ones one byte plus 8 per row.
type column struct {
	dense  bool
	kinds  []uint8 // dense: 0 absent, else a codec kind
	bits   []uint64
	sparse map[int32]cell
	count  int // rows holding a value
	dict   map[string]uint32
	strs   []string
}

type cell struct {
	kind uint8
	bits uint64
}

func newMirror(space Space) *mirror {
	return &mirror{space: space, index: map[string]int32{}, cols: map[string]*column{}}
}

func (m *mirror) len() int { return len(m.ids) }

// put inserts or replaces a record; vec is trimmed and owned by the mirror from now on.
func (m *mirror) put(id string, vec []float32, meta Metadata) {
	row, ok := m.index[id]
	if !ok {
		row = int32(len(m.ids))
		m.ids = append(m.ids, id)
		m.vecs = append(m.vecs, nil)
		m.norms = append(m.norms, 0)
		m.index[id] = row
		for _, c := range m.cols {
			if c.dense {
				c.kinds = append(c.kinds, 0)
				c.bits = append(c.bits, 0)
			}
		}
	} else {
		for _, c := range m.cols {
			c.clear(row)
		}
	}
	m.vecs[row] = vec
	m.norms[row] = norm(vec)
	for k, v := range meta {
		c := m.cols[k]
		if c == nil {
			c = &column{sparse: map[int32]cell{}, dict: map[string]uint32{}}
			m.cols[k] = c
		}
		c.set(row, c.encode(v), len(m.ids))
	}
}

// remove deletes id when present.
func (m *mirror) remove(id string) {
	row, ok := m.index[id]
	if !ok {
		return
	}
	last := int32(len(m.ids) - 1)
	for _, c := range m.cols {
		c.clear(row)
		if row != last {
			if v, has := c.get(last); has {
				c.clear(last)
				c.set(row, v, len(m.ids))
			}
		}
		if c.dense {
			c.kinds = c.kinds[:last]
			c.bits = c.bits[:last]
		}
	}
	if row != last {
		moved := m.ids[last]
		m.ids[row] = moved
		m.vecs[row] = m.vecs[last]
		m.norms[row] = m.norms[last]
		m.index[moved] = row
	}
	m.ids = m.ids[:last]
	m.vecs[last] = nil
	m.vecs = m.vecs[:last]
	m.norms = m.norms[:last]
	delete(m.index, id)
}

func (c *column) encode(v any) cell {
	switch t := v.(type) {
	case string:
		code, ok := c.dict[t]
		if !ok {
			code = uint32(len(c.strs))
			c.dict[t] = code
			c.strs = append(c.strs, t)
		}
		return cell{codecString, uint64(code)}
	case int64:
		return cell{codecInt, uint64(t)}
	case float64:
		return cell{codecFloat, math.Float64bits(t)}
	case bool:
		if t {
			return cell{codecBool, 1}
		}
		return cell{codecBool, 0}
	}
	return cell{}
}

func (c *column) decode(v cell) any {
	switch v.kind {
	case codecString:
		return c.strs[v.bits]
	case codecInt:
		return int64(v.bits)
	case codecFloat:
		return math.Float64frombits(v.bits)
	case codecBool:
		return v.bits != 0
	}
	return nil
}

func (c *column) get(row int32) (cell, bool) {
	if c.dense {
		if int(row) >= len(c.kinds) || c.kinds[row] == 0 {
			return cell{}, false
		}
		return cell{c.kinds[row], c.bits[row]}, true
	}
	v, ok := c.sparse[row]
	return v, ok
}

func (c *column) clear(row int32) {
	if c.dense {
		if int(row) < len(c.kinds) && c.kinds[row] != 0 {
			c.kinds[row], c.bits[row] = 0, 0
			c.count--
		}
		return
	}
	if _, ok := c.sparse[row]; ok {
		delete(c.sparse, row)
		c.count--
	}
}

// set stores v at row of a mirror with n rows, turning the column dense once
// it holds a value for more than 1 in 16 of them.
func (c *column) set(row int32, v cell, n int) {
	if c.dense {
		if c.kinds[row] == 0 {
			c.count++
		}
		c.kinds[row], c.bits[row] = v.kind, v.bits
		return
	}
	if _, ok := c.sparse[row]; !ok {
		c.count++
	}
	c.sparse[row] = v
	if c.count > 64 && c.count*16 > n {
		c.kinds = make([]uint8, n, n+n/4)
		c.bits = make([]uint64, n, n+n/4)
		for r, e := range c.sparse {
			c.kinds[r], c.bits[r] = e.kind, e.bits
		}
		c.sparse = nil
		c.dense = true
	}
}

// forEach calls fn for every row holding a value.
func (c *column) forEach(fn func(row int32, v cell)) {
	if c.dense {
		for r, k := range c.kinds {
			if k != 0 {
				fn(int32(r), cell{k, c.bits[r]})
			}
		}
		return
	}
	for r, v := range c.sparse {
		fn(r, v)
	}
}

// metadata rebuilds row's metadata; keys limits it to those keys when non-nil.
func (m *mirror) metadata(row int32, keys []string) Metadata {
	var out Metadata
	add := func(k string, c *column) {
		if v, ok := c.get(row); ok {
			if out == nil {
				out = Metadata{}
			}
			out[k] = c.decode(v)
		}
	}
	if keys != nil {
		for _, k := range keys {
			if c := m.cols[k]; c != nil {
				add(k, c)
			}
		}
		return out
	}
	for k, c := range m.cols {
		add(k, c)
	}
	return out
}

// bitset marks rows.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i int32)      { b[i>>6] |= 1 << (uint(i) & 63) }
func (b bitset) has(i int32) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }
func (b bitset) and(o bitset) {
	for i := range b {
		b[i] &= o[i]
	}
}
func (b bitset) or(o bitset) {
	for i := range b {
		b[i] |= o[i]
	}
}
func (b bitset) count() (n int) {
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// not complements the first n bits.
func (b bitset) not(n int) {
	for i := range b {
		b[i] = ^b[i]
	}
	if r := n & 63; r != 0 && len(b) > 0 {
		b[len(b)-1] &= (1 << uint(r)) - 1
	}
}

func fullBitset(n int) bitset {
	b := newBitset(n)
	b.not(n)
	return b
}

// eval returns the rows matching f (every row for nil).
func (m *mirror) eval(f *Filter) bitset {
	n := m.len()
	if f == nil {
		return fullBitset(n)
	}
	switch f.Op {
	case OpAnd, OpOr:
		acc := m.eval(f.Subs[0])
		for _, s := range f.Subs[1:] {
			if f.Op == OpAnd {
				acc.and(m.eval(s))
			} else {
				acc.or(m.eval(s))
			}
		}
		return acc
	}
	out := newBitset(n)
	c := m.cols[f.Key]
	negate := f.Op == OpNe || f.Op == OpNin
	if c != nil {
		match := c.matcher(f)
		c.forEach(func(row int32, v cell) {
			if match(v) {
				out.set(row)
			}
		})
	}
	if negate {
		out.not(n)
	}
	return out
}

// matcher returns the cell predicate of a leaf; $ne/$nin return the $eq/$in
// predicate, eval complements the result.
func (c *column) matcher(f *Filter) func(cell) bool {
	switch f.Op {
	case OpEq, OpNe, OpIn, OpNin:
		want := make([]cell, 0, len(f.Values))
		var nums []any
		for _, v := range f.Values {
			switch t := v.(type) {
			case string:
				if code, ok := c.dict[t]; ok {
					want = append(want, cell{codecString, uint64(code)})
				}
			case bool:
				want = append(want, c.encode(t))
			default:
				nums = append(nums, t)
			}
		}
		return func(v cell) bool {
			for _, w := range want {
				if v == w {
					return true
				}
			}
			if len(nums) > 0 && (v.kind == codecInt || v.kind == codecFloat) {
				x := c.decode(v)
				for _, n := range nums {
					if compareNumbers(x, n) == 0 {
						return true
					}
				}
			}
			return false
		}
	default:
		op, operand := f.Op, f.Values[0]
		if fo, isFloat := operand.(float64); isFloat {
			return func(v cell) bool {
				switch v.kind {
				case codecFloat:
					return compareOK(op, cmp3(math.Float64frombits(v.bits), fo))
				case codecInt:
					return compareOK(op, cmpIntFloat(int64(v.bits), fo))
				}
				return false
			}
		}
		io := operand.(int64)
		return func(v cell) bool {
			switch v.kind {
			case codecInt:
				return compareOK(op, cmp3(int64(v.bits), io))
			case codecFloat:
				return compareOK(op, -cmpIntFloat(io, math.Float64frombits(v.bits)))
			}
			return false
		}
	}
}

// ---- distances ----

func norm(v []float32) float32 {
	var s float32
	for _, x := range v {
		s += x * x
	}
	return float32(math.Sqrt(float64(s)))
}

// dot is q·r over r's length (r is trimmed, q is full length).
func dot(q, r []float32) float32 {
	q = q[:len(r)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(r); i += 4 {
		s0 += q[i] * r[i]
		s1 += q[i+1] * r[i+1]
		s2 += q[i+2] * r[i+2]
		s3 += q[i+3] * r[i+3]
	}
	for ; i < len(r); i++ {
		s0 += q[i] * r[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// sqdiff is Σ(q-r)² over r's length.
func sqdiff(q, r []float32) float32 {
	q = q[:len(r)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(r); i += 4 {
		d0, d1, d2, d3 := q[i]-r[i], q[i+1]-r[i+1], q[i+2]-r[i+2], q[i+3]-r[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(r); i++ {
		d := q[i] - r[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// scorer computes distances from one query.
type scorer struct {
	space Space
	q     []float32
	qnorm float32
	tail  []float32 // tail[j] = Σ_{i>=j} q_i², for l2 against trimmed rows
}

func newScorer(space Space, q []float32) *scorer {
	s := &scorer{space: space, q: q, qnorm: norm(q)}
	if space == L2 {
		s.tail = make([]float32, len(q)+1)
		for i := len(q) - 1; i >= 0; i-- {
			s.tail[i] = s.tail[i+1] + q[i]*q[i]
		}
	}
	return s
}

func (s *scorer) dist(r []float32, rnorm float32) float32 {
	switch s.space {
	case L2:
		return sqdiff(s.q, r) + s.tail[len(r)]
	case IP:
		return 1 - dot(s.q, r)
	default:
		if s.qnorm == 0 || rnorm == 0 {
			return 1
		}
		return 1 - dot(s.q, r)/(s.qnorm*rnorm)
	}
}

type scored struct {
	row  int32
	dist float32
}

// worstFirst is a max-heap on (distance, id): its root is the hit to evict.
type worstFirst struct {
	items []scored
	ids   []string
}

func (h *worstFirst) Len() int { return len(h.items) }
func (h *worstFirst) Less(i, j int) bool {
	return worse(h.items[i], h.items[j], h.ids)
}
func (h *worstFirst) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *worstFirst) Push(x any)    { h.items = append(h.items, x.(scored)) }
func (h *worstFirst) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

// worse orders by distance, then id, so ties resolve the same way every time.
func worse(a, b scored, ids []string) bool {
	if a.dist != b.dist {
		return a.dist > b.dist
	}
	return ids[a.row] > ids[b.row]
}

// topK scans rows [lo, hi) of cand and keeps the k nearest.
func (m *mirror) topK(s *scorer, cand bitset, lo, hi, k int) []scored {
	h := &worstFirst{items: make([]scored, 0, k+1), ids: m.ids}
	for w := lo >> 6; w < (hi+63)>>6 && w < len(cand); w++ {
		word := cand[w]
		for word != 0 {
			b := bits.TrailingZeros64(word)
			word &= word - 1
			row := int32(w<<6 + b)
			if int(row) < lo || int(row) >= hi {
				continue
			}
			d := s.dist(m.vecs[row], m.norms[row])
			if h.Len() < k {
				heap.Push(h, scored{row, d})
			} else if worse(h.items[0], scored{row, d}, m.ids) {
				h.items[0] = scored{row, d}
				heap.Fix(h, 0)
			}
		}
	}
	return h.items
}

// parallelFrom is the candidate count above which a query uses every core.
const parallelFrom = 32768

// nearest returns the k nearest candidates, nearest first.
func (m *mirror) nearest(q []float32, k int, cand bitset) []scored {
	s := newScorer(m.space, q)
	n := m.len()
	workers := runtime.GOMAXPROCS(0)
	var all []scored
	if workers > 1 && cand.count() >= parallelFrom {
		chunk := ((n+workers-1)/workers + 63) &^ 63
		parts := make([][]scored, workers)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			lo, hi := w*chunk, min((w+1)*chunk, n)
			if lo >= hi {
				continue
			}
			wg.Add(1)
			go func(w, lo, hi int) {
				defer wg.Done()
				parts[w] = m.topK(s, cand, lo, hi, k)
			}(w, lo, hi)
		}
		wg.Wait()
		for _, p := range parts {
			all = append(all, p...)
		}
	} else {
		all = m.topK(s, cand, 0, n, k)
	}
	sort.Slice(all, func(i, j int) bool { return worse(all[j], all[i], m.ids) })
	if len(all) > k {
		all = all[:k]
	}
	return all
}
