package main

/*
#include "snd.h"
*/
import "C"

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/cdata"

	"github.com/structure-net/structure-net-data/core/errs"
)

// exportRecord moves rec into the caller's zeroed ArrowArray (and schema, when
// given). The buffers are C memory from the pool; release returns them.
func exportRecord(rec arrow.RecordBatch, outArray *C.struct_ArrowArray, outSchema *C.struct_ArrowSchema) error {
	if outArray == nil {
		return errs.Invalidf("out_array is NULL")
	}
	if outArray.release != nil {
		return errs.Invalidf("out_array is not zero-initialized (or still holds an unreleased array)")
	}
	var schemaPtr *cdata.CArrowSchema
	if outSchema != nil {
		if outSchema.release != nil {
			return errs.Invalidf("out_schema is not zero-initialized")
		}
		schemaPtr = (*cdata.CArrowSchema)(unsafe.Pointer(outSchema))
	}
	cdata.ExportArrowRecordBatch(rec, (*cdata.CArrowArray)(unsafe.Pointer(outArray)), schemaPtr)
	return nil
}

func exportSchema(schema *arrow.Schema, out *C.struct_ArrowSchema) error {
	if out == nil {
		return errs.Invalidf("out_schema is NULL")
	}
	if out.release != nil {
		return errs.Invalidf("out_schema is not zero-initialized")
	}
	cdata.ExportArrowSchema(schema, (*cdata.CArrowSchema)(unsafe.Pointer(out)))
	return nil
}
