/* LZF codec and HDF5 filter; see lzf.c. */
#pragma once
#include <hdf5.h>
#include <stddef.h>

#define TS_LZF_FILTER_ID 32000

/* Returns the compressed size, or 0 when the output would not fit in out_len. */
size_t ts_lzf_compress(const void *in_data, size_t in_len, void *out_data, size_t out_len);
/* Returns the decompressed size, or 0 with errno E2BIG (output too small) or EINVAL (bad input). */
size_t ts_lzf_decompress(const void *in_data, size_t in_len, void *out_data, size_t out_len);
/* Registers the filter with libhdf5 unless a plugin already provides it. */
int ts_lzf_register(void);
