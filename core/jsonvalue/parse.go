package jsonvalue

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/structure-net/structure-net-data/core/errs"
)

// parser decodes JSON into map[string]any / []any / string / bool / nil and
// int64 or float64 by how the number is written (see Decode). It is a direct
// recursive-descent parser: indexing spends most of its time decoding
// experiments, and encoding/json's reflection-based decoder into interfaces
// is several times slower.
type parser struct {
	b     []byte
	i     int
	depth int
}

const maxJSONDepth = 10000 // as encoding/json

func (p *parser) fail(msg string) error {
	return errs.Invalidf("invalid JSON at offset %d: %s", p.i, msg)
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// parseDocument parses one value followed only by whitespace.
func parseDocument(b []byte) (any, error) {
	p := &parser{b: b}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	return v, p.end()
}

func (p *parser) value() (any, error) {
	p.ws()
	if p.i >= len(p.b) {
		return nil, p.fail("unexpected end of input")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return nil, p.fail("unexpected character " + strconv.QuoteRune(rune(c)))
	}
}

func (p *parser) literal(lit string) error {
	if len(p.b)-p.i < len(lit) || string(p.b[p.i:p.i+len(lit)]) != lit {
		return p.fail("invalid literal")
	}
	p.i += len(lit)
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxJSONDepth {
		return p.fail("nested too deeply")
	}
	return nil
}

func (p *parser) object() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.i++ // '{'
	m := map[string]any{}
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		p.depth--
		return m, nil
	}
	for {
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.fail("expected a string key")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.fail("expected ':'")
		}
		p.i++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
		p.ws()
		if p.i >= len(p.b) {
			return nil, p.fail("unexpected end of input in an object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			p.depth--
			return m, nil
		default:
			return nil, p.fail("expected ',' or '}'")
		}
	}
}

func (p *parser) array() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.i++ // '['
	a := []any{}
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		p.depth--
		return a, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.ws()
		if p.i >= len(p.b) {
			return nil, p.fail("unexpected end of input in an array")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			p.depth--
			return a, nil
		default:
			return nil, p.fail("expected ',' or ']'")
		}
	}
}

func (p *parser) str() (string, error) {
	p.i++ // opening quote
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !utf8.Valid(s) {
				return string([]rune(string(s))), nil // invalid bytes become U+FFFD, as in encoding/json
			}
			return string(s), nil
		case c == '\\':
			return p.strEscaped(start)
		case c < 0x20:
			return "", p.fail("control character in a string")
		}
		p.i++
	}
	return "", p.fail("unterminated string")
}

func (p *parser) strEscaped(start int) (string, error) {
	out := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if !utf8.Valid(out) {
				return string([]rune(string(out))), nil
			}
			return string(out), nil
		case c < 0x20:
			return "", p.fail("control character in a string")
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			return "", p.fail("unterminated escape")
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.fail("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					if v, ok := p.hex4(); ok {
						r2 = v
					} else {
						p.i = save
					}
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", p.fail("invalid escape")
		}
	}
	return "", p.fail("unterminated string")
}

func (p *parser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

func (p *parser) number() (any, error) {
	start := p.i
	isFloat := false
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	intStart := p.i
	if digits() == 0 || (p.b[intStart] == '0' && p.i-intStart > 1) {
		return nil, p.fail("invalid number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		isFloat = true
		p.i++
		if digits() == 0 {
			return nil, p.fail("invalid number")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		isFloat = true
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.fail("invalid number")
		}
	}
	s := string(p.b[start:p.i])
	if !isFloat {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, errs.Invalidf("number %s is out of range", s)
	}
	return f, nil
}

// skip passes over one value without building it and returns its span; the
// value is validated later, when it is decoded.
func (p *parser) skip() (int, int, error) {
	p.ws()
	start := p.i
	depth := 0
	for p.i < len(p.b) {
		switch c := p.b[p.i]; c {
		case '"':
			p.i++
			for p.i < len(p.b) && p.b[p.i] != '"' {
				if p.b[p.i] == '\\' {
					p.i++
				}
				p.i++
			}
			if p.i >= len(p.b) {
				return 0, 0, p.fail("unterminated string")
			}
			p.i++
			if depth == 0 {
				return start, p.i, nil
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // the end of the container holding a scalar
				if p.i == start {
					return 0, 0, p.fail("expected a value")
				}
				return start, p.i, nil
			}
			depth--
			if depth == 0 {
				p.i++
				return start, p.i, nil
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				if p.i == start {
					return 0, 0, p.fail("expected a value")
				}
				return start, p.i, nil
			}
		}
		p.i++
	}
	if depth != 0 || p.i == start {
		return 0, 0, p.fail("unexpected end of input")
	}
	return start, p.i, nil
}

// Elements returns the text of each element of a JSON array without decoding
// them (Decode checks each later), so that a caller can decode them in
// parallel or keep their text. Anything but an array is an ErrInvalid error.
func Elements(b []byte) ([][]byte, error) {
	p := &parser{b: b}
	p.ws()
	if p.i >= len(b) || b[p.i] != '[' {
		return nil, p.fail("expected an array")
	}
	p.i++
	var out [][]byte
	p.ws()
	if p.i < len(b) && b[p.i] == ']' {
		p.i++
		return out, p.end()
	}
	for {
		start, end, err := p.skip()
		if err != nil {
			return nil, err
		}
		out = append(out, b[start:end])
		p.ws()
		if p.i >= len(b) {
			return nil, p.fail("unexpected end of input in an array")
		}
		switch b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return out, p.end()
		default:
			return nil, p.fail("expected ',' or ']'")
		}
	}
}

// Members returns the text of each member of a JSON object by key, without
// decoding the values (a repeated key keeps the last, as Decode does).
// Anything but an object is an ErrInvalid error.
func Members(b []byte) (map[string][]byte, error) {
	p := &parser{b: b}
	p.ws()
	if p.i >= len(b) || b[p.i] != '{' {
		return nil, p.fail("expected an object")
	}
	p.i++
	out := map[string][]byte{}
	p.ws()
	if p.i < len(b) && b[p.i] == '}' {
		p.i++
		return out, p.end()
	}
	for {
		p.ws()
		if p.i >= len(b) || b[p.i] != '"' {
			return nil, p.fail("expected a string key")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.i >= len(b) || b[p.i] != ':' {
			return nil, p.fail("expected ':'")
		}
		p.i++
		start, end, err := p.skip()
		if err != nil {
			return nil, err
		}
		out[k] = b[start:end]
		p.ws()
		if p.i >= len(b) {
			return nil, p.fail("unexpected end of input in an object")
		}
		switch b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return out, p.end()
		default:
			return nil, p.fail("expected ',' or '}'")
		}
	}
}

// end checks that only whitespace follows.
func (p *parser) end() error {
	p.ws()
	if p.i != len(p.b) {
		return p.fail("trailing data after the value")
	}
	return nil
}
