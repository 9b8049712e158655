package main

/*
#include <stdlib.h>
#include "snd.h"
*/
import "C"

import (
	"encoding/json"
	"unsafe"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/timeseries"
)

// tsResult is a read kept for the caller to copy its columns out.
type tsResult struct{ t *timeseries.Table }

type tsColumnSpec struct {
	Name    string          `json:"name"`
	Kind    timeseries.Kind `json:"kind"`
	Strings []*string       `json:"strings"`
}

type tsColumnsSpec struct {
	Columns []tsColumnSpec `json:"columns"`
}

const maxRows = 1 << 40

// tsTable views the caller's buffers as a Table (see
// timeseries.TableFromBuffers: numeric values are used in place, as the core
// only reads them during the call).
func tsTable(columnsJSON *C.snd_cchar, nRows C.int64_t, values *C.snd_cptr, valid **C.snd_cu8) (*timeseries.Table, error) {
	var spec tsColumnsSpec
	if err := decodeJSON(columnsJSON, "columns", &spec); err != nil {
		return nil, err
	}
	n := int64(nRows)
	if n < 0 || n > maxRows {
		return nil, errs.Invalidf("timeseries: n_rows %d out of range", n)
	}
	k := len(spec.Columns)
	if k > 0 && values == nil {
		return nil, errs.Invalidf("timeseries: values is NULL for %d columns", k)
	}
	cols := make([]timeseries.ColumnBuffers, k)
	for i, cs := range spec.Columns {
		cols[i] = timeseries.ColumnBuffers{Name: cs.Name, Kind: cs.Kind, Strings: cs.Strings}
		if n == 0 {
			continue
		}
		if p := unsafe.Slice(values, k)[i]; p != nil && cs.Kind.ValueBytes() > 0 {
			cols[i].Values = unsafe.Slice((*byte)(unsafe.Pointer(p)), n*int64(cs.Kind.ValueBytes()))
		}
		if valid != nil {
			if m := unsafe.Slice(valid, k)[i]; m != nil {
				cols[i].Valid = unsafe.Slice((*byte)(unsafe.Pointer(m)), n)
			}
		}
	}
	return timeseries.TableFromBuffers(int(n), cols)
}

func tsMetadata(meta *C.snd_cchar) json.RawMessage {
	if meta == nil {
		return nil
	}
	return json.RawMessage(goString(meta))
}

//export snd_ts_open
func snd_ts_open(optionsJSON *C.snd_cchar, out *C.uint64_t, errOut **C.char) C.int {
	return openHandle(out, errOut, func() (*timeseries.Store, error) {
		var opt timeseries.Options
		if err := decodeJSON(optionsJSON, "time-series options", &opt); err != nil {
			return nil, err
		}
		return timeseries.Open(opt)
	})
}

//export snd_ts_close
func snd_ts_close(store *C.uint64_t, errOut **C.char) C.int {
	return closeHandle[*timeseries.Store](store, errOut)
}

//export snd_ts_info
func snd_ts_info(store C.uint64_t, jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	s, err := lookup[*timeseries.Store](uint64(store))
	if err != nil {
		return fail(errOut, err)
	}
	info := map[string]any{
		"options":      s.Options(),
		"hdf5_version": timeseries.HDF5Version(),
		"filters": map[string]bool{
			"gzip": timeseries.FilterAvailable("gzip"), "lzf": timeseries.FilterAvailable("lzf"), "none": true,
		},
	}
	return status(errOut, setJSON(jsonOut, info))
}

//export snd_ts_put
func snd_ts_put(store C.uint64_t, experimentID *C.snd_cchar, columnsJSON *C.snd_cchar, nRows C.int64_t,
	values *C.snd_cptr, valid **C.snd_cu8, metadataJSON *C.snd_cchar, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	return status(errOut, tsWrite(store, experimentID, columnsJSON, nRows, values, valid, metadataJSON, (*timeseries.Store).Put))
}

//export snd_ts_append
func snd_ts_append(store C.uint64_t, experimentID *C.snd_cchar, columnsJSON *C.snd_cchar, nRows C.int64_t,
	values *C.snd_cptr, valid **C.snd_cu8, metadataJSON *C.snd_cchar, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	return status(errOut, tsWrite(store, experimentID, columnsJSON, nRows, values, valid, metadataJSON, (*timeseries.Store).Append))
}

// tsWrite decodes the caller's column buffers (copied during the call) and
// hands them to Put or Append.
func tsWrite(store C.uint64_t, experimentID *C.snd_cchar, columnsJSON *C.snd_cchar, nRows C.int64_t,
	values *C.snd_cptr, valid **C.snd_cu8, metadataJSON *C.snd_cchar,
	write func(*timeseries.Store, string, *timeseries.Table, json.RawMessage) error) error {
	s, err := lookup[*timeseries.Store](uint64(store))
	if err != nil {
		return err
	}
	t, err := tsTable(columnsJSON, nRows, values, valid)
	if err != nil {
		return err
	}
	return write(s, goString(experimentID), t, tsMetadata(metadataJSON))
}

//export snd_ts_finish
func snd_ts_finish(store C.uint64_t, experimentID *C.snd_cchar, errOut **C.char) C.int {
	return onHandle(store, errOut, func(s *timeseries.Store) error { return s.Finish(goString(experimentID)) })
}

//export snd_ts_writer_open
func snd_ts_writer_open(store C.uint64_t, experimentID *C.snd_cchar, metadataJSON *C.snd_cchar, out *C.uint64_t,
	errOut **C.char) C.int {
	return openHandle(out, errOut, func() (*timeseries.Writer, error) {
		s, err := lookup[*timeseries.Store](uint64(store))
		if err != nil {
			return nil, err
		}
		return s.OpenWriter(goString(experimentID), tsMetadata(metadataJSON))
	})
}

//export snd_ts_writer_append
func snd_ts_writer_append(writer C.uint64_t, columnsJSON *C.snd_cchar, nRows C.int64_t, values *C.snd_cptr,
	valid **C.snd_cu8, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	w, err := lookup[*timeseries.Writer](uint64(writer))
	if err != nil {
		return fail(errOut, err)
	}
	t, err := tsTable(columnsJSON, nRows, values, valid)
	if err != nil {
		return fail(errOut, err)
	}
	return status(errOut, w.Append(t))
}

//export snd_ts_writer_close
func snd_ts_writer_close(writer *C.uint64_t, errOut **C.char) C.int {
	return closeHandle[*timeseries.Writer](writer, errOut)
}

type tsReadInfo struct {
	ExperimentID string          `json:"experiment_id"`
	Metadata     json.RawMessage `json:"metadata"`
	TotalRows    int64           `json:"total_rows"`
	Rows         int             `json:"rows"`
	Backend      string          `json:"backend"`
	Columns      []tsReadColumn  `json:"columns"`
}

type tsReadColumn struct {
	Name   string          `json:"name"`
	Kind   timeseries.Kind `json:"kind"`
	Masked bool            `json:"masked"`
}

//export snd_ts_read
func snd_ts_read(store C.uint64_t, experimentID *C.snd_cchar, selectionJSON *C.snd_cchar, outResult *C.uint64_t,
	jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	if outResult == nil || jsonOut == nil {
		return fail(errOut, errs.Invalidf("out_result or json_out is NULL"))
	}
	s, err := lookup[*timeseries.Store](uint64(store))
	if err != nil {
		return fail(errOut, err)
	}
	sel := timeseries.All()
	if err := decodeJSON(selectionJSON, "selection", &sel); err != nil {
		return fail(errOut, err)
	}
	h, err := s.Read(goString(experimentID), sel)
	if err != nil {
		return fail(errOut, err)
	}
	info := tsReadInfo{ExperimentID: h.ExperimentID, Metadata: h.Metadata, TotalRows: h.TotalRows, Rows: h.Table.Rows,
		Backend: h.Backend, Columns: make([]tsReadColumn, len(h.Table.Columns))}
	for i, c := range h.Table.Columns {
		info.Columns[i] = tsReadColumn{Name: c.Name, Kind: c.Kind, Masked: c.Valid != nil}
	}
	b, err := json.Marshal(info)
	if err != nil {
		return fail(errOut, errs.Invalidf("encode read result: %v", err))
	}
	*outResult = C.uint64_t(newHandle(&tsResult{t: h.Table}))
	return status(errOut, setString(jsonOut, string(b)))
}

func tsResultColumn(result C.uint64_t, column C.int64_t) (*timeseries.Column, int, error) {
	r, err := lookup[*tsResult](uint64(result))
	if err != nil {
		return nil, 0, err
	}
	if column < 0 || int(column) >= len(r.t.Columns) {
		return nil, 0, errs.Invalidf("timeseries: column %d out of range (result has %d)", int64(column), len(r.t.Columns))
	}
	return &r.t.Columns[column], r.t.Rows, nil
}

//export snd_ts_result_column
func snd_ts_result_column(result C.uint64_t, column C.int64_t, values unsafe.Pointer, valid *C.uint8_t, nRows C.int64_t,
	errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	c, n, err := tsResultColumn(result, column)
	if err != nil {
		return fail(errOut, err)
	}
	if int64(nRows) != int64(n) {
		return fail(errOut, errs.Invalidf("timeseries: n_rows %d, the result has %d rows", int64(nRows), n))
	}
	if n > 0 && values == nil {
		return fail(errOut, errs.Invalidf("timeseries: values is NULL"))
	}
	switch c.Kind {
	case timeseries.KindFloat64:
		copy(unsafe.Slice((*float64)(values), n), c.F)
	case timeseries.KindInt64:
		copy(unsafe.Slice((*int64)(values), n), c.I)
	case timeseries.KindBool:
		copy(unsafe.Slice((*bool)(values), n), c.B)
	default:
		return fail(errOut, errs.Invalidf("timeseries: column %q holds %s values; use snd_ts_result_strings", c.Name, c.Kind))
	}
	if valid != nil && n > 0 {
		out := unsafe.Slice((*bool)(unsafe.Pointer(valid)), n)
		if c.Valid != nil {
			copy(out, c.Valid)
		} else {
			for i := range out {
				out[i] = true
			}
		}
	}
	return C.SND_OK
}

//export snd_ts_result_strings
func snd_ts_result_strings(result C.uint64_t, column C.int64_t, jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	c, n, err := tsResultColumn(result, column)
	if err != nil {
		return fail(errOut, err)
	}
	if c.Kind != timeseries.KindString && c.Kind != timeseries.KindJSON {
		return fail(errOut, errs.Invalidf("timeseries: column %q holds %s values; use snd_ts_result_column", c.Name, c.Kind))
	}
	out := make([]*string, n)
	for i := range out {
		if c.Valid == nil || c.Valid[i] {
			out[i] = &c.S[i]
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fail(errOut, errs.Invalidf("encode strings: %v", err))
	}
	return status(errOut, setString(jsonOut, string(b)))
}

//export snd_ts_result_close
func snd_ts_result_close(result *C.uint64_t, errOut **C.char) C.int {
	return closeHandle[*tsResult](result, errOut)
}

//export snd_ts_summary
func snd_ts_summary(store C.uint64_t, experimentID *C.snd_cchar, jsonOut **C.char, errOut **C.char) C.int {
	return onHandle(store, errOut, func(s *timeseries.Store) error {
		sum, err := s.Summary(goString(experimentID))
		if err != nil {
			return err
		}
		b, err := timeseries.MarshalSummary(sum)
		return setEncoded(jsonOut, b, err)
	})
}

//export snd_ts_delete
func snd_ts_delete(store C.uint64_t, experimentID *C.snd_cchar, errOut **C.char) C.int {
	return onHandle(store, errOut, func(s *timeseries.Store) error { return s.Delete(goString(experimentID)) })
}

//export snd_ts_repair
func snd_ts_repair(store C.uint64_t, experimentID *C.snd_cchar, jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	s, err := lookup[*timeseries.Store](uint64(store))
	if err != nil {
		return fail(errOut, err)
	}
	rep, err := s.Repair(goString(experimentID))
	if err != nil {
		return fail(errOut, err)
	}
	b, _ := json.Marshal(rep)
	return status(errOut, setString(jsonOut, string(b)))
}

//export snd_ts_list
func snd_ts_list(store C.uint64_t, jsonOut **C.char, errOut **C.char) C.int {
	return onHandle(store, errOut, func(s *timeseries.Store) error {
		ids, err := s.List()
		return setResult(jsonOut, ids, err)
	})
}
