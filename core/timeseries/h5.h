/* The small C layer between package timeseries and libhdf5 (1.10+).
 *
 * Every function returns a negative value (or NULL) on failure and leaves the
 * reason on the calling thread's HDF5 error stack; ts_error_text() turns that
 * stack into a message. The Go side locks the OS thread around each call so
 * the stack it reads is the one the call filled.
 *
 * Ownership:
 * - Every string passed in (paths, names, attribute values, and the char*
 *   array given to ts_dset_append for TS_STR) is only read during the call;
 *   the caller keeps and frees it.
 * - ts_error_text() and ts_attr_read_str() return a string the caller owns
 *   and releases with free() (they copy what libhdf5 allocated, which is
 *   freed inside).
 * - ts_dset_read() and ts_dset_read_points() of TS_STR fill out (char *[n])
 *   with strings allocated by libhdf5; the caller releases them with
 *   ts_free_strings(out, n), never with free().
 * - ts_lib_version() returns static storage, never freed.
 * - Every hid_t returned by a *_create or *_open function is the caller's,
 *   released by the matching *_close. */
#pragma once
#include <hdf5.h>
#include <stdint.h>

#include "lzf.h"

enum { TS_F64 = 1, TS_I64 = 2, TS_BOOL = 3, TS_STR = 4 };
enum { TS_FILTER_NONE = 0, TS_FILTER_GZIP = 1, TS_FILTER_LZF = 2 };

/* Per-column running statistics, stored as one element of the compound
 * attribute "snd_summary". Field names are part of the file format. */
typedef struct {
    int64_t rows;      /* table rows when this summary was written */
    int64_t count;     /* present, non-NaN values */
    int64_t missing;   /* rows without a value (masked; floats use NaN) */
    int64_t nan;       /* NaN values */
    int64_t posinf, neginf;
    double sum, sumc;  /* finite sum and its Neumaier compensation */
    double min, max, last;
    int64_t argmin, argmax, last_row;
    int64_t imin, imax, ilast; /* exact values for int64 and bool columns */
} ts_stat;

/* Initialises libhdf5 and the shared datatypes and registers the LZF filter;
 * returns a negative value on failure (once, before any other call). */
int ts_init(void);
char *ts_error_text(void);
void ts_clear_error(void);
const char *ts_lib_version(void);
int ts_filter_available(int filter);

hid_t ts_file_create(const char *path, int paged);
hid_t ts_file_open_write(const char *path);
hid_t ts_file_open_read(const char *path);
int ts_file_flush(hid_t f);
int ts_file_close(hid_t f);

hid_t ts_group_create(hid_t loc, const char *name);
hid_t ts_group_open(hid_t loc, const char *name);
int ts_group_close(hid_t g);

hid_t ts_dset_create(hid_t loc, const char *name, int kind, int64_t chunk, int filter, int level);
hid_t ts_dset_open(hid_t loc, const char *name, int64_t cache_bytes);
int ts_dset_close(hid_t d);
int64_t ts_dset_len(hid_t d);
int ts_dset_append(hid_t d, int kind, int64_t start, int64_t n, const void *buf);
int ts_dset_read(hid_t d, int kind, int64_t start, int64_t count, int64_t stride, void *out);
int ts_dset_read_points(hid_t d, int kind, const uint64_t *idx, int64_t n, void *out);
void ts_free_strings(char **s, int64_t n);

int ts_attr_write_str(hid_t obj, const char *name, const char *value);
char *ts_attr_read_str(hid_t obj, const char *name);
int ts_attr_write_i64(hid_t obj, const char *name, int64_t v);
int ts_attr_read_i64(hid_t obj, const char *name, int64_t *v);
int ts_summary_write(hid_t obj, const ts_stat *s, int64_t n);
int ts_summary_read(hid_t obj, ts_stat *s, int64_t n);

int64_t ts_compress_bound(int64_t nbytes);
int ts_compress_chunk(int filter, const void *src, int64_t nelem, int esize, int level, void *tmp, void *dst,
                      int64_t dst_cap, int64_t *out_len, uint32_t *filter_mask);
int ts_write_chunk(hid_t d, int64_t row, uint32_t filter_mask, const void *buf, int64_t len);
int ts_set_extent(hid_t d, int64_t rows);
