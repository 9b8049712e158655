package main

/*
#include "snd.h"
*/
import "C"

import (
	"bytes"
	"encoding/json"

	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
)

// The JSON helpers every export uses. Options are decoded strictly (unknown
// fields are errors) and every encoding error is reported, never dropped.

// decodeJSON decodes optional JSON options into v: NULL or "" leaves v as
// it is; unknown fields are an error, so a misspelled option never passes
// silently.
func decodeJSON(s *C.snd_cchar, what string, v any) error {
	text := goString(s)
	if text == "" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errs.Invalidf("%s: %v", what, err)
	}
	return nil
}

// decodeConfig decodes a dataset config (DatasetConfig's fields).
func decodeConfig(s *C.snd_cchar) (*dataset.Config, error) {
	var cfg dataset.Config
	if err := json.Unmarshal([]byte(goString(s)), &cfg); err != nil {
		return nil, errs.Invalidf("dataset config is not valid JSON: %v", err)
	}
	return &cfg, nil
}

// setJSON stores v, JSON-encoded, in *out.
func setJSON(out **C.char, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return errs.Invalidf("encode %T as JSON: %w", v, err)
	}
	return setString(out, string(b))
}

// setResult stores a call's result as JSON in *out, or passes on its error.
func setResult(out **C.char, v any, err error) error {
	if err != nil {
		return err
	}
	return setJSON(out, v)
}

// setEncoded stores JSON text an encoder returned, or passes on its error.
func setEncoded(out **C.char, b []byte, err error) error {
	if err != nil {
		return err
	}
	return setString(out, string(b))
}
