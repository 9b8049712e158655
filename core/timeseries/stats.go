package timeseries

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// colStats are one column's running statistics, updated on every append and
// stored with the data so a summary never reads the rows. Float columns skip
// NaN (a missing float is NaN) for count, min, max, mean and last; ±inf take
// part in min and max and make the mean ±inf (NaN when both occur).
type colStats struct {
	Rows, Count, Missing, NaN, PosInf, NegInf int64
	Sum, SumC                                 float64 // finite values, Neumaier-compensated
	Min, Max, Last                            float64
	ArgMin, ArgMax, LastRow                   int64
	IMin, IMax, ILast                         int64
}

func newStats() colStats {
	return colStats{Min: math.NaN(), Max: math.NaN(), Last: math.NaN(), ArgMin: -1, ArgMax: -1, LastRow: -1}
}

func (s *colStats) add(x float64) {
	t := s.Sum + x
	if math.Abs(s.Sum) >= math.Abs(x) {
		s.SumC += (s.Sum - t) + x
	} else {
		s.SumC += (x - t) + s.Sum
	}
	s.Sum = t
}

// update folds rows [0, c.Rows) of c, which start at history row `start`.
func (s *colStats) update(c *Column, start int64) {
	n := c.length()
	switch c.Kind {
	case KindFloat64:
		for i, v := range c.F {
			row := start + int64(i)
			switch {
			case math.IsNaN(v):
				s.NaN++
				continue
			case math.IsInf(v, 1):
				s.PosInf++
			case math.IsInf(v, -1):
				s.NegInf++
			default:
				s.add(v)
			}
			if s.Count == 0 || v < s.Min {
				s.Min, s.ArgMin = v, row
			}
			if s.Count == 0 || v > s.Max {
				s.Max, s.ArgMax = v, row
			}
			s.Count++
			s.Last, s.LastRow = v, row
		}
	case KindInt64, KindBool:
		for i := 0; i < n; i++ {
			row := start + int64(i)
			if !c.present(i) {
				s.Missing++
				continue
			}
			var v int64
			if c.Kind == KindInt64 {
				v = c.I[i]
			} else if c.B[i] {
				v = 1
			}
			s.add(float64(v))
			if s.Count == 0 || v < s.IMin {
				s.IMin, s.ArgMin = v, row
			}
			if s.Count == 0 || v > s.IMax {
				s.IMax, s.ArgMax = v, row
			}
			s.Count++
			s.ILast, s.LastRow = v, row
		}
	default:
		for i := 0; i < n; i++ {
			if !c.present(i) {
				s.Missing++
				continue
			}
			s.Count++
			s.LastRow = start + int64(i)
		}
	}
	s.Rows = start + int64(n)
}

func (s *colStats) mean() float64 {
	switch {
	case s.PosInf > 0 && s.NegInf > 0:
		return math.NaN()
	case s.PosInf > 0:
		return math.Inf(1)
	case s.NegInf > 0:
		return math.Inf(-1)
	case s.Count == 0:
		return math.NaN()
	}
	return (s.Sum + s.SumC) / float64(s.Count)
}

// statsFor computes fresh statistics of an aligned table starting at row 0.
func statsFor(t *Table) []colStats {
	out := make([]colStats, len(t.Columns))
	for i := range t.Columns {
		out[i] = newStats()
		out[i].update(&t.Columns[i], 0)
	}
	return out
}

// ---- the summary handed to callers -------------------------------------------

// Number is a float64 that encodes NaN as null and ±Inf as ±1e999, which JSON
// readers (Python's json among them) parse back as ±inf.
type Number float64

// MarshalJSON implements json.Marshaler.
func (f Number) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte("null"), nil
	case math.IsInf(v, 1):
		return []byte("1e999"), nil
	case math.IsInf(v, -1):
		return []byte("-1e999"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// ColumnSummary is one column's statistics. Value fields (Final, Min, Max)
// hold a float64 (Number), int64 or bool as the column does; they and the
// indexes are nil when the column has no value. Indexes are 0-based row
// positions in the history.
type ColumnSummary struct {
	Name       string `json:"name"`
	Kind       Kind   `json:"kind"`
	Count      int64  `json:"count"`
	Missing    int64  `json:"missing"`
	NaNCount   int64  `json:"nan_count"`
	Final      any    `json:"final"`
	FinalIndex *int64 `json:"final_index"`
	Min        any    `json:"min"`
	Max        any    `json:"max"`
	Mean       any    `json:"mean"`
	ArgMin     *int64 `json:"argmin"`
	ArgMax     *int64 `json:"argmax"`
}

// Best is the best value of a column whose name says which direction is
// better (accuracy-like: max; loss-like: min).
type Best struct {
	Mode  string `json:"mode"`
	Value any    `json:"value"`
	Index int64  `json:"index"`
}

// Summary is what get_summary_statistics returns, built from the stored
// statistics without reading any rows.
type Summary struct {
	ExperimentID string           `json:"experiment_id"`
	NumEpochs    int64            `json:"num_epochs"`
	Created      string           `json:"created"`
	Updated      string           `json:"updated"`
	Backend      string           `json:"backend"`
	Path         string           `json:"path"`
	Columns      []ColumnSummary  `json:"columns"`
	Best         map[string]*Best `json:"best"`
}

func buildSummary(id string, s Schema, st []colStats, rows int64) *Summary {
	out := &Summary{ExperimentID: id, NumEpochs: rows, Columns: make([]ColumnSummary, len(s)), Best: map[string]*Best{}}
	for i, info := range s {
		c := &st[i]
		cs := ColumnSummary{Name: info.Name, Kind: info.Kind, Count: c.Count, Missing: c.Missing, NaNCount: c.NaN}
		if c.LastRow >= 0 {
			cs.FinalIndex = ptr(c.LastRow)
		}
		if c.Count > 0 {
			switch info.Kind {
			case KindFloat64:
				cs.Final, cs.Min, cs.Max, cs.Mean = Number(c.Last), Number(c.Min), Number(c.Max), Number(c.mean())
				cs.ArgMin, cs.ArgMax = ptr(c.ArgMin), ptr(c.ArgMax)
			case KindInt64:
				cs.Final, cs.Min, cs.Max, cs.Mean = c.ILast, c.IMin, c.IMax, Number(c.mean())
				cs.ArgMin, cs.ArgMax = ptr(c.ArgMin), ptr(c.ArgMax)
			case KindBool:
				cs.Final, cs.Min, cs.Max, cs.Mean = c.ILast == 1, c.IMin == 1, c.IMax == 1, Number(c.mean())
				cs.ArgMin, cs.ArgMax = ptr(c.ArgMin), ptr(c.ArgMax)
			}
		}
		out.Columns[i] = cs
		if mode := bestMode(info.Name); mode != "" && cs.ArgMax != nil && info.Kind != KindBool {
			b := &Best{Mode: mode, Value: cs.Max, Index: *cs.ArgMax}
			if mode == "min" {
				b.Value, b.Index = cs.Min, *cs.ArgMin
			}
			out.Best[info.Name] = b
		}
	}
	return out
}

func ptr(v int64) *int64 { return &v }

// bestMode guesses from a column's name whether larger (accuracy-like) or
// smaller (loss-like) values are better; "" when the name says neither.
func bestMode(name string) string {
	n := strings.ToLower(name)
	for _, w := range []string{"loss", "error", "err", "perplexity", "mse", "mae", "rmse", "nll"} {
		if strings.Contains(n, w) {
			return "min"
		}
	}
	for _, w := range []string{"acc", "f1", "auc", "precision", "recall", "score", "iou", "bleu", "top1", "top5"} {
		if strings.Contains(n, w) {
			return "max"
		}
	}
	return ""
}

// MarshalSummary encodes a summary (Number keeps NaN/inf representable).
func MarshalSummary(s *Summary) ([]byte, error) { return json.Marshal(s) }
