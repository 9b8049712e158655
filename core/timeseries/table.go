package timeseries

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Kind is a column's value type.
type Kind uint8

// The kinds. KindNull only appears in input: a column whose values are all
// missing, so its type is unknown; it is dropped unless the history already
// has the column.
const (
	KindNull    Kind = 0
	KindFloat64 Kind = 1
	KindInt64   Kind = 2
	KindBool    Kind = 3
	KindString  Kind = 4
	KindJSON    Kind = 5
)

var kindNames = map[Kind]string{
	KindNull: "null", KindFloat64: "float64", KindInt64: "int64", KindBool: "bool", KindString: "string", KindJSON: "json",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if name == s {
			return k, nil
		}
	}
	return 0, errs.Invalidf("timeseries: unknown column kind %q (want float64, int64, bool, string, json or null)", s)
}

// MarshalJSON writes the kind's name.
func (k Kind) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// UnmarshalJSON reads a kind's name.
func (k *Kind) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errs.Invalidf("timeseries: column kind: %v", err)
	}
	v, err := ParseKind(s)
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Column is one named column of a Table. Only the slice matching Kind is
// used. Missing values: a float64 column holds NaN; the other kinds clear
// their Valid entry (nil Valid means every value is present). String values
// of a KindJSON column are JSON texts.
type Column struct {
	Name  string
	Kind  Kind
	F     []float64
	I     []int64
	B     []bool
	S     []string
	Valid []bool
}

// Table is a batch of rows stored column by column.
type Table struct {
	Rows    int
	Columns []Column
}

// ColumnInfo describes a stored column. Dataset is its HDF5 dataset name
// (the name, escaped where HDF5 would misread it); Masked says a mask
// dataset records which rows have a value.
type ColumnInfo struct {
	Name    string `json:"name"`
	Dataset string `json:"dataset"`
	Kind    Kind   `json:"kind"`
	Masked  bool   `json:"masked"`
}

// Schema is the ordered list of a history's columns.
type Schema []ColumnInfo

func (s Schema) index(name string) int {
	for i := range s {
		if s[i].Name == name {
			return i
		}
	}
	return -1
}

const maxColumnName = 1024

func (c *Column) length() int {
	switch c.Kind {
	case KindFloat64:
		return len(c.F)
	case KindInt64:
		return len(c.I)
	case KindBool:
		return len(c.B)
	case KindString, KindJSON:
		return len(c.S)
	}
	return len(c.Valid)
}

// hasMissing reports whether any row lacks a value.
func (c *Column) hasMissing() bool {
	if c.Kind == KindNull {
		return true
	}
	for _, v := range c.Valid {
		if !v {
			return true
		}
	}
	return false
}

func (c *Column) present(i int) bool { return c.Valid == nil || c.Valid[i] }

// Validate checks names, lengths and values, and normalizes the table: float
// columns fold their mask into NaN, and an all-true mask is dropped.
func (t *Table) Validate() error {
	if t.Rows < 0 {
		return errs.Invalidf("timeseries: negative row count %d", t.Rows)
	}
	seen := make(map[string]bool, len(t.Columns))
	for i := range t.Columns {
		c := &t.Columns[i]
		if err := validateColumnName(c.Name); err != nil {
			return err
		}
		if seen[c.Name] {
			return errs.Invalidf("timeseries: column %q appears twice", c.Name)
		}
		seen[c.Name] = true
		if _, ok := kindNames[c.Kind]; !ok {
			return errs.Invalidf("timeseries: column %q has unknown kind %d", c.Name, c.Kind)
		}
		if n := c.length(); n != t.Rows {
			return errs.Invalidf("timeseries: column %q has %d values for %d rows", c.Name, n, t.Rows)
		}
		if c.Valid != nil && len(c.Valid) != t.Rows {
			return errs.Invalidf("timeseries: column %q mask has %d entries for %d rows", c.Name, len(c.Valid), t.Rows)
		}
		switch c.Kind {
		case KindFloat64:
			for j, ok := range c.Valid {
				if !ok {
					c.F[j] = math.NaN()
				}
			}
			c.Valid = nil
		case KindString, KindJSON:
			for j, s := range c.S {
				if !c.present(j) {
					c.S[j] = ""
					continue
				}
				if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
					return errs.Invalidf("timeseries: column %q row %d is not valid UTF-8 text", c.Name, j)
				}
				if c.Kind == KindJSON && !json.Valid([]byte(s)) {
					return errs.Invalidf("timeseries: column %q row %d is not valid JSON: %.80q", c.Name, j, s)
				}
			}
		}
		if c.Valid != nil && !c.hasMissing() {
			c.Valid = nil
		}
	}
	return nil
}

func validateColumnName(name string) error {
	switch {
	case name == "":
		return errs.Invalidf("timeseries: a column name is empty")
	case len(name) > maxColumnName:
		return errs.Invalidf("timeseries: column name of %d bytes is longer than %d", len(name), maxColumnName)
	case !utf8.ValidString(name) || strings.IndexByte(name, 0) >= 0:
		return errs.Invalidf("timeseries: column name %q is not valid UTF-8 without NUL", name)
	}
	return nil
}

// merge returns the schema after appending t to a history with schema s,
// whether it differs from s in a way that needs the stored data rewritten
// (a new column, a new mask, an int64 column promoted to float64), and t
// aligned to the new schema. rows is the history's length before t.
func merge(s Schema, t *Table, rows int64) (Schema, *Table, bool, error) {
	out := append(Schema(nil), s...)
	changed := false
	byName := make(map[string]*Column, len(t.Columns))
	for i := range t.Columns {
		byName[t.Columns[i].Name] = &t.Columns[i]
	}
	for i := range out {
		info := &out[i]
		c, ok := byName[info.Name]
		if !ok || c.Kind == KindNull {
			if t.Rows > 0 && info.Kind != KindFloat64 && !info.Masked {
				info.Masked, changed = true, true
			}
			continue
		}
		k, err := combineKinds(info.Name, info.Kind, c.Kind)
		if err != nil {
			return nil, nil, false, err
		}
		if k != info.Kind {
			info.Kind, changed = k, true
			if k == KindFloat64 {
				info.Masked = false // NaN marks a missing float
			}
		}
		if k != KindFloat64 && c.hasMissing() && !info.Masked {
			info.Masked, changed = true, true
		}
	}
	for i := range t.Columns {
		c := &t.Columns[i]
		if out.index(c.Name) >= 0 || c.Kind == KindNull {
			continue
		}
		info := ColumnInfo{Name: c.Name, Dataset: datasetName(c.Name), Kind: c.Kind}
		if c.Kind != KindFloat64 && (rows > 0 || c.hasMissing()) {
			info.Masked = true
		}
		out = append(out, info)
		changed = true
	}
	aligned, err := align(t, out)
	if err != nil {
		return nil, nil, false, err
	}
	return out, aligned, changed, nil
}

// combineKinds is the type of a column holding `have` after values of kind
// `got` arrive: int64 and float64 mix as float64, a json column takes strings
// (as JSON strings); any other change is an error.
func combineKinds(name string, have, got Kind) (Kind, error) {
	switch {
	case have == got:
		return have, nil
	case have == KindFloat64 && got == KindInt64, have == KindInt64 && got == KindFloat64:
		return KindFloat64, nil
	case have == KindJSON && got == KindString:
		return KindJSON, nil
	}
	return 0, errs.Invalidf("timeseries: column %q holds %s values and cannot take %s values "+
		"(only int64 and float64 mix, as float64); convert the values or use another column name", name, have, got)
}

// align returns t's rows laid out as schema s: every column of s in order,
// converted to its kind, absent ones filled as missing.
func align(t *Table, s Schema) (*Table, error) {
	out := &Table{Rows: t.Rows, Columns: make([]Column, len(s))}
	for i, info := range s {
		var src *Column
		for j := range t.Columns {
			if t.Columns[j].Name == info.Name {
				src = &t.Columns[j]
				break
			}
		}
		c, err := convertColumn(src, info, t.Rows)
		if err != nil {
			return nil, err
		}
		out.Columns[i] = c
	}
	return out, nil
}

func convertColumn(src *Column, info ColumnInfo, rows int) (Column, error) {
	c := Column{Name: info.Name, Kind: info.Kind}
	if src == nil || src.Kind == KindNull {
		missingColumn(&c, rows)
		return c, nil
	}
	if src.Kind == info.Kind {
		c = *src
		c.Name = info.Name
		return c, nil
	}
	switch {
	case info.Kind == KindFloat64 && src.Kind == KindInt64:
		c.F = make([]float64, rows)
		for i, v := range src.I {
			if src.present(i) {
				c.F[i] = float64(v)
			} else {
				c.F[i] = math.NaN()
			}
		}
	case info.Kind == KindJSON && src.Kind == KindString:
		c.S = make([]string, rows)
		for i, v := range src.S {
			if src.present(i) {
				b, _ := json.Marshal(v)
				c.S[i] = string(b)
			}
		}
		c.Valid = src.Valid
	default:
		return c, errs.Invalidf("timeseries: column %q holds %s values and cannot take %s values", info.Name, info.Kind, src.Kind)
	}
	return c, nil
}

func missingColumn(c *Column, rows int) {
	switch c.Kind {
	case KindFloat64:
		c.F = make([]float64, rows)
		for i := range c.F {
			c.F[i] = math.NaN()
		}
		return
	case KindInt64:
		c.I = make([]int64, rows)
	case KindBool:
		c.B = make([]bool, rows)
	default:
		c.S = make([]string, rows)
	}
	c.Valid = make([]bool, rows)
}

// slice returns rows [lo, hi) of t, sharing memory.
func (t *Table) slice(lo, hi int) *Table {
	out := &Table{Rows: hi - lo, Columns: make([]Column, len(t.Columns))}
	for i, c := range t.Columns {
		d := Column{Name: c.Name, Kind: c.Kind}
		switch c.Kind {
		case KindFloat64:
			d.F = c.F[lo:hi]
		case KindInt64:
			d.I = c.I[lo:hi]
		case KindBool:
			d.B = c.B[lo:hi]
		default:
			d.S = c.S[lo:hi]
		}
		if c.Valid != nil {
			d.Valid = c.Valid[lo:hi]
		}
		out.Columns[i] = d
	}
	return out
}

// concat appends the rows of b (same schema) to a.
func concat(a, b *Table) *Table {
	if a == nil {
		return b
	}
	out := &Table{Rows: a.Rows + b.Rows, Columns: make([]Column, len(a.Columns))}
	for i := range a.Columns {
		x, y := &a.Columns[i], &b.Columns[i]
		c := Column{Name: x.Name, Kind: x.Kind}
		switch x.Kind {
		case KindFloat64:
			c.F = append(append(make([]float64, 0, out.Rows), x.F...), y.F...)
		case KindInt64:
			c.I = append(append(make([]int64, 0, out.Rows), x.I...), y.I...)
		case KindBool:
			c.B = append(append(make([]bool, 0, out.Rows), x.B...), y.B...)
		default:
			c.S = append(append(make([]string, 0, out.Rows), x.S...), y.S...)
		}
		if x.Valid != nil || y.Valid != nil {
			c.Valid = append(maskOrTrue(x.Valid, a.Rows), maskOrTrue(y.Valid, b.Rows)...)
		}
		out.Columns[i] = c
	}
	return out
}

func maskOrTrue(m []bool, n int) []bool {
	if m != nil {
		return append([]bool(nil), m...)
	}
	out := make([]bool, n)
	for i := range out {
		out[i] = true
	}
	return out
}
