package jsonvalue_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/jsonvalue"
)

// stdDecode is the reference: encoding/json with UseNumber, numbers typed
// the way Decode documents.
func stdDecode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	var rangeErr error
	var walk func(any) any
	walk = func(v any) any {
		switch t := v.(type) {
		case json.Number:
			s := string(t)
			if !strings.ContainsAny(s, ".eE") {
				if i, err := strconv.ParseInt(s, 10, 64); err == nil {
					return i
				}
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				rangeErr = err // ±Inf has no JSON form: Decode rejects it
			}
			return f
		case map[string]any:
			for k, e := range t {
				t[k] = walk(e)
			}
		case []any:
			for i, e := range t {
				t[i] = walk(e)
			}
		}
		return v
	}
	v = walk(v)
	return v, rangeErr
}

var seeds = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `12`, `-12.5e3`, `1E-7`, `9223372036854775807`,
	`9223372036854775808`, `-9223372036854775808`, `1.0`, `"plain"`, `"esc \" \\ \/ \b \f \n \r \t"`,
	`"\u00e9\u4e2d\ud83d\ude00"`, `"lone \ud800 surrogate"`, `"ünï ✓"`, `{"a": [1, 2.5, {"b": null}], "c": "d"}`,
	` { "x" : [ ] , "y" : { } } `, `[[[[[[1]]]]]]`,
	// invalid
	`{`, `[1,]`, `{"a":1,}`, `01`, `1.`, `.5`, `-`, `1e`, `tru`, `"unterminated`, `{"a" 1}`, `[1 2]`, `{} x`,
	`"ctrl` + "\x01" + `"`, `"\x"`, `"\u12"`, `NaN`, `Infinity`, `{1: 2}`, `+1`,
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, s := range seeds {
		compareWithStd(t, []byte(s))
	}
	if _, err := jsonvalue.Decode([]byte(strings.Repeat("[", 20000) + strings.Repeat("]", 20000))); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("deep nesting must be a clean error, got %v", err)
	}
}

func compareWithStd(t *testing.T, b []byte) {
	t.Helper()
	got, err := jsonvalue.Decode(b)
	want, werr := stdDecode(b)
	if (err == nil) != (werr == nil) {
		t.Fatalf("%q: Decode error %v, encoding/json error %v", b, err, werr)
	}
	if err != nil {
		if !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("%q: error kind %v", b, err)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: got %#v, want %#v", b, got, want)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) || len(b) > 4096 {
			return // encoding/json and we both replace invalid UTF-8, but report offsets differently
		}
		compareWithStd(t, b)
	})
}

func TestElementsAndMembersKeepTheText(t *testing.T) {
	elems, err := jsonvalue.Elements([]byte(` [ {"b": 1,  "a": [2.0]}, "x" , 3, null,{"c":{}} ] `))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`{"b": 1,  "a": [2.0]}`, `"x"`, `3`, `null`, `{"c":{}}`}
	if len(elems) != len(want) {
		t.Fatalf("%d elements, want %d", len(elems), len(want))
	}
	for i := range want {
		if string(elems[i]) != want[i] {
			t.Errorf("element %d: %q, want %q", i, elems[i], want[i])
		}
	}
	members, err := jsonvalue.Members([]byte(`{"id": "e\"1", "data": {"x": [1, {"y": "}"}]}, "n": 5, "id": "last"}`))
	if err != nil {
		t.Fatal(err)
	}
	wantMembers := map[string]string{"id": `"last"`, "data": `{"x": [1, {"y": "}"}]}`, "n": `5`}
	if len(members) != len(wantMembers) {
		t.Fatalf("members %q", members)
	}
	for k, v := range wantMembers {
		if string(members[k]) != v {
			t.Errorf("member %s: %q, want %q", k, members[k], v)
		}
	}
	if m, err := jsonvalue.Members([]byte(`{}`)); err != nil || len(m) != 0 {
		t.Errorf("empty object: %v %v", m, err)
	}
	if e, err := jsonvalue.Elements([]byte(`[]`)); err != nil || len(e) != 0 {
		t.Errorf("empty array: %v %v", e, err)
	}
	for _, bad := range []string{``, `{}`, `[1 2]`, `[1,`, `[1] x`, `["a]`} {
		if _, err := jsonvalue.Elements([]byte(bad)); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("Elements(%q): want ErrInvalid, got %v", bad, err)
		}
	}
	for _, bad := range []string{``, `[]`, `{"a"}`, `{"a": 1 "b": 2}`, `{a: 1}`, `{"a": 1,`, `{"a": }`} {
		if _, err := jsonvalue.Members([]byte(bad)); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("Members(%q): want ErrInvalid, got %v", bad, err)
		}
	}
}

func TestMarshalKeepsFloatsFloats(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{map[string]any{"f": 2.0, "i": int64(2), "tiny": 1e-20, "s": "<é>", "n": nil, "b": true},
			`{"b":true,"f":2.0,"i":2,"n":null,"s":"\u003cé\u003e","tiny":1e-20}`},
		{[]any{1.5, int64(-3), []any{}, map[string]any{}}, `[1.5,-3,[],{}]`},
		{float64(1 << 60), `1.152921504606847e+18`},
		{[]int{1, 2}, `[1,2]`}, // other types through encoding/json
	}
	for _, c := range cases {
		b, err := jsonvalue.Marshal(c.v)
		if err != nil || string(b) != c.want {
			t.Errorf("Marshal(%#v) = %s, %v; want %s", c.v, b, err, c.want)
		}
		if back, err := jsonvalue.Decode(b); err == nil {
			again, _ := jsonvalue.Marshal(back)
			if string(again) != string(b) {
				t.Errorf("%s does not survive a round trip: %s", b, again)
			}
		}
	}
	for _, bad := range []any{math.NaN(), map[string]any{"x": math.Inf(1)}, []any{math.Inf(-1)}, make(chan int)} {
		if _, err := jsonvalue.Marshal(bad); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("Marshal(%v): want ErrInvalid, got %v", bad, err)
		}
	}
}
