package transform

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Spec names one transform and its parameters, e.g.
// {"name": "random_crop", "size": 32, "padding": 4}. JSON may also be a plain
// string, which means the transform with its defaults.
type Spec struct {
	Name   string
	Params map[string]any
}

// UnmarshalJSON accepts "name" or {"name": ..., params...}.
func (s *Spec) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		s.Name, s.Params = name, map[string]any{}
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return errs.Invalidf("transform must be a name or an object with \"name\": %s", string(b))
	}
	name, _ = m["name"].(string)
	if name == "" {
		return errs.Invalidf("transform object without a \"name\": %s", string(b))
	}
	delete(m, "name")
	s.Name, s.Params = name, m
	return nil
}

// MarshalJSON writes the object form.
func (s Spec) MarshalJSON() ([]byte, error) {
	m := map[string]any{"name": s.Name}
	for k, v := range s.Params {
		m[k] = v
	}
	return json.Marshal(m)
}

// Specs converts plain names into specs.
func Specs(names ...string) []Spec {
	out := make([]Spec, len(names))
	for i, n := range names {
		out[i] = Spec{Name: n, Params: map[string]any{}}
	}
	return out
}

// params reads typed parameters and remembers which were used, so unknown
// (misspelled) parameters can be rejected instead of silently ignored.
type params struct {
	spec Spec
	used map[string]bool
	err  error
}

func newParams(s Spec) *params { return &params{spec: s, used: map[string]bool{}} }

func (p *params) float(key string, def float64) float64 {
	p.used[key] = true
	v, ok := p.spec.Params[key]
	if !ok || v == nil {
		return def
	}
	f, ok := v.(float64)
	if !ok {
		p.fail("%s: parameter %q must be a number, got %v", p.spec.Name, key, v)
		return def
	}
	return f
}

func (p *params) int(key string, def int) int {
	f := p.float(key, float64(def))
	if f != float64(int(f)) {
		p.fail("%s: parameter %q must be an integer, got %v", p.spec.Name, key, f)
	}
	return int(f)
}

// pair reads an int or a [h, w] pair.
func (p *params) pair(key string, def [2]int) [2]int {
	p.used[key] = true
	v, ok := p.spec.Params[key]
	if !ok || v == nil {
		return def
	}
	switch t := v.(type) {
	case float64:
		return [2]int{int(t), int(t)}
	case []any:
		if len(t) == 2 {
			h, ok1 := t[0].(float64)
			w, ok2 := t[1].(float64)
			if ok1 && ok2 {
				return [2]int{int(h), int(w)}
			}
		}
	}
	p.fail("%s: parameter %q must be an int or [h, w], got %v", p.spec.Name, key, v)
	return def
}

func (p *params) floats(key string) []float64 {
	p.used[key] = true
	v, ok := p.spec.Params[key]
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		if f, ok := v.(float64); ok {
			return []float64{f}
		}
		p.fail("%s: parameter %q must be a list of numbers", p.spec.Name, key)
		return nil
	}
	out := make([]float64, len(list))
	for i, x := range list {
		f, ok := x.(float64)
		if !ok {
			p.fail("%s: parameter %q must be a list of numbers", p.spec.Name, key)
			return nil
		}
		out[i] = f
	}
	return out
}

func (p *params) fail(format string, args ...any) {
	if p.err == nil {
		p.err = errs.Invalidf(format, args...)
	}
}

// done reports the first error, or any parameter that was not recognised.
func (p *params) done() error {
	if p.err != nil {
		return p.err
	}
	var unknown []string
	for k := range p.spec.Params {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		return errs.Invalidf("%s: unknown parameter(s) %s", p.spec.Name, strings.Join(unknown, ", "))
	}
	return nil
}

func (s Spec) String() string {
	if len(s.Params) == 0 {
		return s.Name
	}
	b, _ := json.Marshal(s.Params)
	return fmt.Sprintf("%s%s", s.Name, b)
}

// normalizeParams reads "normalize"'s mean and std, defaulting to the
// dataset's; both pipelines share it so the parameter means the same in each.
func normalizeParams(pr *params, mean, std []float64) ([]float64, []float64) {
	m, s := pr.floats("mean"), pr.floats("std")
	if m == nil {
		m = mean
	}
	if s == nil {
		s = std
	}
	if m == nil || s == nil {
		pr.fail("normalize: the dataset has no mean/std; pass them as parameters")
	}
	return m, s
}
