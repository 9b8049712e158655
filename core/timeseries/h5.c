/* See h5.h. Kept deliberately flat: one HDF5 task per function, no state
 * except the few datatypes created once in ts_init. */
#include "h5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static hid_t bool_type = -1;    /* h5py's bool: enum {FALSE=0, TRUE=1} over int8 */
static hid_t str_type = -1;     /* variable-length UTF-8 string */
static hid_t stat_type = -1;    /* ts_stat as a compound */
static char lib_version[32];

int ts_init(void) {
    if (H5open() < 0) {
        return -1;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (bool_type < 0) {
        int8_t f = 0, t = 1;
        hid_t b = H5Tenum_create(H5T_NATIVE_INT8);
        if (b < 0 || H5Tenum_insert(b, "FALSE", &f) < 0 || H5Tenum_insert(b, "TRUE", &t) < 0) {
            return -1;
        }
        bool_type = b;
    }
    if (str_type < 0) {
        hid_t s = H5Tcopy(H5T_C_S1);
        if (s < 0 || H5Tset_size(s, H5T_VARIABLE) < 0 || H5Tset_cset(s, H5T_CSET_UTF8) < 0) {
            return -1;
        }
        str_type = s;
    }
    if (stat_type < 0) {
        hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(ts_stat));
        if (t < 0) {
            return -1;
        }
        herr_t bad = 0;
#define I64(f) bad |= H5Tinsert(t, #f, HOFFSET(ts_stat, f), H5T_NATIVE_INT64)
#define F64(f) bad |= H5Tinsert(t, #f, HOFFSET(ts_stat, f), H5T_NATIVE_DOUBLE)
        I64(rows); I64(count); I64(missing); I64(nan); I64(posinf); I64(neginf);
        F64(sum); F64(sumc); F64(min); F64(max); F64(last);
        I64(argmin); I64(argmax); I64(last_row); I64(imin); I64(imax); I64(ilast);
#undef I64
#undef F64
        if (bad < 0) {
            return -1;
        }
        stat_type = t;
    }
    if (ts_lzf_register() < 0) {
        return -1;
    }
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(lib_version, sizeof lib_version, "%u.%u.%u", maj, min, rel);
    return 0;
}

const char *ts_lib_version(void) { return lib_version; }

/* ---- errors ---------------------------------------------------------------- */

typedef struct {
    char buf[1024];
    size_t len;
    int n;
} err_acc;

static herr_t err_walk(unsigned n, const H5E_error2_t *e, void *data) {
    err_acc *acc = (err_acc *)data;
    (void)n;
    if (e->desc == NULL || e->desc[0] == '\0' || acc->n >= 6) {
        return 0;
    }
    /* Outer frames repeat what inner ones say more precisely; keep distinct texts. */
    if (acc->len > 0 && strstr(acc->buf, e->desc) != NULL) {
        return 0;
    }
    int w = snprintf(acc->buf + acc->len, sizeof acc->buf - acc->len, "%s%s", acc->len ? ": " : "", e->desc);
    if (w > 0) {
        acc->len += (size_t)w;
        if (acc->len >= sizeof acc->buf) {
            acc->len = sizeof acc->buf - 1;
        }
    }
    acc->n++;
    return 0;
}

void ts_clear_error(void) {
    /* Auto-printing is a per-thread setting in thread-safe builds. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    H5Eclear2(H5E_DEFAULT);
}

/* Cleanup calls after a failure are API calls, and every API call clears the
 * error stack on entry: keep the failure's stack across them. */
static void keep_close(herr_t (*fn)(hid_t), hid_t id) {
    if (H5Eget_num(H5E_DEFAULT) <= 0) {
        fn(id);
        return;
    }
    hid_t es = H5Eget_current_stack();
    fn(id);
    if (es >= 0) {
        H5Eset_current_stack(es);
    }
}

char *ts_error_text(void) {
    err_acc acc;
    acc.buf[0] = '\0';
    acc.len = 0;
    acc.n = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, err_walk, &acc);
    H5Eclear2(H5E_DEFAULT);
    if (acc.len == 0) {
        return NULL;
    }
    return strdup(acc.buf);
}

int ts_filter_available(int filter) {
    switch (filter) {
    case TS_FILTER_NONE:
        return 1;
    case TS_FILTER_GZIP:
        return H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0 && H5Zfilter_avail(H5Z_FILTER_SHUFFLE) > 0;
    case TS_FILTER_LZF:
        return H5Zfilter_avail(TS_LZF_FILTER_ID) > 0;
    }
    return 0;
}

/* ---- files ----------------------------------------------------------------- */

static hid_t latest_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) {
        return -1;
    }
    /* The 1.10 format: required for SWMR, and its extensible-array chunk
     * index keeps appends O(1). */
    if (H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) < 0) {
        keep_close(H5Pclose, fapl);
        return -1;
    }
    return fapl;
}

hid_t ts_file_create(const char *path, int paged) {
    hid_t f = -1, fapl = -1, fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (fcpl < 0) {
        return -1;
    }
    /* h5py then lists the columns in the order they were written. */
    if (H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0) {
        goto done;
    }
    if (paged) {
        /* Paged aggregation keeps every metadata block inside one 4 KiB page,
         * so a writer killed mid-write (the kernel stops a write between
         * pages, never inside one) cannot leave a torn, checksum-failing
         * object header behind. */
        if (H5Pset_file_space_strategy(fcpl, H5F_FSPACE_STRATEGY_PAGE, 0, 1) < 0 ||
            H5Pset_file_space_page_size(fcpl, 4096) < 0) {
            goto done;
        }
    }
    if ((fapl = latest_fapl()) < 0) {
        goto done;
    }
    f = H5Fcreate(path, H5F_ACC_EXCL, fcpl, fapl);
done:
    keep_close(H5Pclose, fcpl);
    if (fapl >= 0) {
        keep_close(H5Pclose, fapl);
    }
    return f;
}

hid_t ts_file_open_write(const char *path) {
    hid_t fapl = latest_fapl();
    if (fapl < 0) {
        return -1;
    }
    /* SWMR from the first moment: the superblock is marked as being written
     * by a SWMR writer, which SWMR readers accept, whatever happens next. */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR | H5F_ACC_SWMR_WRITE, fapl);
    keep_close(H5Pclose, fapl);
    return f;
}

hid_t ts_file_open_read(const char *path) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) {
        return -1;
    }
    /* A SWMR reader retries checksum failures (a writer may be mid-flush) with
     * exponential back-off; the default of 100 tries would hang for minutes on
     * a damaged file. 12 tries wait about 10 ms in all. */
    if (H5Pset_metadata_read_attempts(fapl, 12) < 0) {
        keep_close(H5Pclose, fapl);
        return -1;
    }
    /* A SWMR reader needs no lock, and taking one fails (instead of waiting)
     * in the instant a writer holds it to mark the superblock. */
    if (H5Pset_file_locking(fapl, 0, 1) < 0) {
        keep_close(H5Pclose, fapl);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl);
    keep_close(H5Pclose, fapl);
    return f;
}

int ts_file_flush(hid_t f) { return H5Fflush(f, H5F_SCOPE_LOCAL) < 0 ? -1 : 0; }

int ts_file_close(hid_t f) { return H5Fclose(f) < 0 ? -1 : 0; }

/* ---- groups ------------------------------------------------------------------ */

static hid_t utf8_lcpl(void) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl >= 0 && H5Pset_char_encoding(lcpl, H5T_CSET_UTF8) < 0) {
        keep_close(H5Pclose, lcpl);
        return -1;
    }
    return lcpl;
}

hid_t ts_group_create(hid_t loc, const char *name) {
    hid_t lcpl = utf8_lcpl();
    if (lcpl < 0) {
        return -1;
    }
    hid_t g = H5Gcreate2(loc, name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    keep_close(H5Pclose, lcpl);
    return g;
}

hid_t ts_group_open(hid_t loc, const char *name) { return H5Gopen2(loc, name, H5P_DEFAULT); }

int ts_group_close(hid_t g) { return H5Gclose(g) < 0 ? -1 : 0; }

/* ---- datasets -------------------------------------------------------------- */

static hid_t mem_type(int kind) {
    switch (kind) {
    case TS_F64:
        return H5T_NATIVE_DOUBLE;
    case TS_I64:
        return H5T_NATIVE_INT64;
    case TS_BOOL:
        return bool_type;
    case TS_STR:
        return str_type;
    }
    return -1;
}

static hid_t file_type(int kind) {
    switch (kind) {
    case TS_F64:
        return H5T_IEEE_F64LE;
    case TS_I64:
        return H5T_STD_I64LE;
    case TS_BOOL:
        return bool_type;
    case TS_STR:
        return str_type;
    }
    return -1;
}

hid_t ts_dset_create(hid_t loc, const char *name, int kind, int64_t chunk, int filter, int level) {
    hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, chunks[1] = {(hsize_t)chunk};
    hid_t d = -1, lcpl = -1, space = -1, dcpl = -1, ftype = file_type(kind);
    if (ftype < 0 || chunk <= 0) {
        H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, H5E_ERR_CLS, H5E_ARGS, H5E_BADVALUE,
                 "bad column kind or chunk size");
        return -1;
    }
    if ((space = H5Screate_simple(1, dims, maxdims)) < 0 || (dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0 ||
        (lcpl = utf8_lcpl()) < 0) {
        goto done;
    }
    if (H5Pset_chunk(dcpl, 1, chunks) < 0 || H5Pset_obj_track_times(dcpl, 0) < 0) {
        goto done;
    }
    if (filter == TS_FILTER_GZIP) {
        if ((kind != TS_STR && H5Pset_shuffle(dcpl) < 0) || H5Pset_deflate(dcpl, (unsigned)level) < 0) {
            goto done;
        }
    } else if (filter == TS_FILTER_LZF) {
        if ((kind != TS_STR && H5Pset_shuffle(dcpl) < 0) ||
            H5Pset_filter(dcpl, TS_LZF_FILTER_ID, H5Z_FLAG_OPTIONAL, 0, NULL) < 0) {
            goto done;
        }
    }
    d = H5Dcreate2(loc, name, ftype, space, lcpl, dcpl, H5P_DEFAULT);
done:
    if (space >= 0) keep_close(H5Sclose, space);
    if (dcpl >= 0) keep_close(H5Pclose, dcpl);
    if (lcpl >= 0) keep_close(H5Pclose, lcpl);
    return d;
}

hid_t ts_dset_open(hid_t loc, const char *name, int64_t cache_bytes) {
    if (cache_bytes <= 0) {
        return H5Dopen2(loc, name, H5P_DEFAULT);
    }
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (dapl < 0 || H5Pset_chunk_cache(dapl, 521, (size_t)cache_bytes, 0.75) < 0) {
        if (dapl >= 0) keep_close(H5Pclose, dapl);
        return -1;
    }
    hid_t d = H5Dopen2(loc, name, dapl);
    keep_close(H5Pclose, dapl);
    return d;
}

int ts_dset_close(hid_t d) { return H5Dclose(d) < 0 ? -1 : 0; }

int64_t ts_dset_len(hid_t d) {
    hsize_t dims[1] = {0};
    hid_t s = H5Dget_space(d);
    if (s < 0) {
        return -1;
    }
    int nd = H5Sget_simple_extent_ndims(s);
    int r = nd == 1 ? H5Sget_simple_extent_dims(s, dims, NULL) : -1;
    keep_close(H5Sclose, s);
    return r < 0 ? -1 : (int64_t)dims[0];
}

int ts_dset_append(hid_t d, int kind, int64_t start, int64_t n, const void *buf) {
    hsize_t dims[1] = {(hsize_t)(start + n)}, off[1] = {(hsize_t)start}, cnt[1] = {(hsize_t)n};
    hid_t fs = -1, ms = -1, mt = mem_type(kind);
    int rc = -1;
    if (n <= 0) {
        return 0;
    }
    if (H5Dset_extent(d, dims) < 0 || (fs = H5Dget_space(d)) < 0 ||
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL) < 0 ||
        (ms = H5Screate_simple(1, cnt, NULL)) < 0) {
        goto done;
    }
    rc = H5Dwrite(d, mt, ms, fs, H5P_DEFAULT, buf) < 0 ? -1 : 0;
done:
    if (fs >= 0) keep_close(H5Sclose, fs);
    if (ms >= 0) keep_close(H5Sclose, ms);
    return rc;
}

int ts_dset_read(hid_t d, int kind, int64_t start, int64_t count, int64_t stride, void *out) {
    hsize_t off[1] = {(hsize_t)start}, cnt[1] = {(hsize_t)count}, str[1] = {(hsize_t)stride};
    hid_t fs = -1, ms = -1;
    int rc = -1;
    if (count <= 0) {
        return 0;
    }
    if ((fs = H5Dget_space(d)) < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, str, cnt, NULL) < 0 ||
        (ms = H5Screate_simple(1, cnt, NULL)) < 0) {
        goto done;
    }
    rc = H5Dread(d, mem_type(kind), ms, fs, H5P_DEFAULT, out) < 0 ? -1 : 0;
done:
    if (fs >= 0) keep_close(H5Sclose, fs);
    if (ms >= 0) keep_close(H5Sclose, ms);
    return rc;
}

int ts_dset_read_points(hid_t d, int kind, const uint64_t *idx, int64_t n, void *out) {
    hsize_t cnt[1] = {(hsize_t)n};
    hid_t fs = -1, ms = -1;
    int rc = -1;
    if (n <= 0) {
        return 0;
    }
    if ((fs = H5Dget_space(d)) < 0 || H5Sselect_elements(fs, H5S_SELECT_SET, (size_t)n, (const hsize_t *)idx) < 0 ||
        (ms = H5Screate_simple(1, cnt, NULL)) < 0) {
        goto done;
    }
    rc = H5Dread(d, mem_type(kind), ms, fs, H5P_DEFAULT, out) < 0 ? -1 : 0;
done:
    if (fs >= 0) keep_close(H5Sclose, fs);
    if (ms >= 0) keep_close(H5Sclose, ms);
    return rc;
}

void ts_free_strings(char **s, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (s[i] != NULL) {
            H5free_memory(s[i]);
            s[i] = NULL;
        }
    }
}

/* ---- attributes ------------------------------------------------------------ */

static int attr_delete_if_exists(hid_t obj, const char *name) {
    htri_t r = H5Aexists(obj, name);
    if (r < 0) {
        return -1;
    }
    if (r > 0 && H5Adelete(obj, name) < 0) {
        return -1;
    }
    return 0;
}

int ts_attr_write_str(hid_t obj, const char *name, const char *value) {
    hid_t space = -1, a = -1;
    int rc = -1;
    if (attr_delete_if_exists(obj, name) < 0 || (space = H5Screate(H5S_SCALAR)) < 0 ||
        (a = H5Acreate2(obj, name, str_type, space, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        goto done;
    }
    rc = H5Awrite(a, str_type, &value) < 0 ? -1 : 0;
done:
    if (a >= 0) keep_close(H5Aclose, a);
    if (space >= 0) keep_close(H5Sclose, space);
    return rc;
}

char *ts_attr_read_str(hid_t obj, const char *name) {
    char *raw = NULL, *out = NULL;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) {
        return NULL;
    }
    hid_t t = H5Aget_type(a);
    if (t >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0) {
        if (H5Aread(a, str_type, &raw) >= 0) {
            out = strdup(raw != NULL ? raw : "");
            H5free_memory(raw);
        }
    } else {
        H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, H5E_ERR_CLS, H5E_ATTR, H5E_BADTYPE,
                 "attribute %s is not a variable-length string", name);
    }
    if (t >= 0) keep_close(H5Tclose, t);
    keep_close(H5Aclose, a);
    return out;
}

int ts_attr_write_i64(hid_t obj, const char *name, int64_t v) {
    hid_t space = -1, a = -1;
    int rc = -1;
    htri_t exists = H5Aexists(obj, name);
    if (exists < 0) {
        return -1;
    }
    /* Overwriting in place keeps the object header's size, which SWMR needs. */
    if (exists > 0) {
        a = H5Aopen(obj, name, H5P_DEFAULT);
    } else if ((space = H5Screate(H5S_SCALAR)) >= 0) {
        a = H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    }
    if (a >= 0) {
        rc = H5Awrite(a, H5T_NATIVE_INT64, &v) < 0 ? -1 : 0;
        keep_close(H5Aclose, a);
    }
    if (space >= 0) keep_close(H5Sclose, space);
    return rc;
}

int ts_attr_read_i64(hid_t obj, const char *name, int64_t *v) {
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) {
        return -1;
    }
    int rc = H5Aread(a, H5T_NATIVE_INT64, v) < 0 ? -1 : 0;
    keep_close(H5Aclose, a);
    return rc;
}

static int64_t attr_npoints(hid_t a) {
    hid_t s = H5Aget_space(a);
    if (s < 0) {
        return -1;
    }
    hssize_t n = H5Sget_simple_extent_npoints(s);
    keep_close(H5Sclose, s);
    return (int64_t)n;
}

int ts_summary_write(hid_t obj, const ts_stat *s, int64_t n) {
    hsize_t dims[1] = {(hsize_t)n};
    hid_t space = -1, a = -1;
    int rc = -1;
    htri_t exists = H5Aexists(obj, "snd_summary");
    if (exists < 0) {
        return -1;
    }
    if (exists > 0) {
        a = H5Aopen(obj, "snd_summary", H5P_DEFAULT);
        if (a >= 0 && attr_npoints(a) != n) {
            /* The column count changed: only done outside SWMR mode. */
            keep_close(H5Aclose, a);
            a = -1;
            if (H5Adelete(obj, "snd_summary") < 0) {
                return -1;
            }
            exists = 0;
        }
    }
    if (n == 0) {
        if (a >= 0) keep_close(H5Aclose, a);
        return attr_delete_if_exists(obj, "snd_summary");
    }
    if (!exists && (space = H5Screate_simple(1, dims, NULL)) >= 0) {
        a = H5Acreate2(obj, "snd_summary", stat_type, space, H5P_DEFAULT, H5P_DEFAULT);
    }
    if (a >= 0) {
        rc = H5Awrite(a, stat_type, s) < 0 ? -1 : 0;
        keep_close(H5Aclose, a);
    }
    if (space >= 0) keep_close(H5Sclose, space);
    return rc;
}

/* Returns -2 when the attribute holds a different number of columns. */
int ts_summary_read(hid_t obj, ts_stat *s, int64_t n) {
    hid_t a = H5Aopen(obj, "snd_summary", H5P_DEFAULT);
    if (a < 0) {
        return -1;
    }
    int rc;
    if (attr_npoints(a) != n) {
        rc = -2;
    } else {
        rc = H5Aread(a, stat_type, s) < 0 ? -1 : 0;
    }
    keep_close(H5Aclose, a);
    return rc;
}

/* ---- direct chunk writes ---------------------------------------------------- */

int64_t ts_compress_bound(int64_t nbytes) { return (int64_t)compressBound((uLong)nbytes); }

/* Produces exactly what the dataset's filters (shuffle, then deflate or LZF)
 * store for a full chunk, so chunks can be compressed on several threads
 * (libhdf5 runs its filters serially, under its global lock) and written with
 * H5Dwrite_chunk. tmp must hold nelem*esize bytes. A chunk LZF cannot shrink
 * is stored shuffled only, with the LZF bit set in *filter_mask, as libhdf5
 * does for an optional filter that fails. Thread-safe: no HDF5 calls. */
int ts_compress_chunk(int filter, const void *src, int64_t nelem, int esize, int level, void *tmp, void *dst,
                      int64_t dst_cap, int64_t *out_len, uint32_t *filter_mask) {
    const unsigned char *in = (const unsigned char *)src;
    unsigned char *sh = (unsigned char *)tmp;
    int64_t nbytes = nelem * esize;
    *filter_mask = 0;
    if (esize > 1) {
        for (int j = 0; j < esize; j++) {
            unsigned char *o = sh + (int64_t)j * nelem;
            const unsigned char *p = in + j;
            for (int64_t i = 0; i < nelem; i++) {
                o[i] = p[i * esize];
            }
        }
        in = sh;
    }
    if (filter == TS_FILTER_LZF) {
        size_t n = ts_lzf_compress(in, (size_t)nbytes, dst, (size_t)nbytes);
        if (n == 0) {
            memcpy(dst, in, (size_t)nbytes);
            n = (size_t)nbytes;
            *filter_mask = 1u << 1; /* filter 0 is shuffle, filter 1 LZF */
        }
        *out_len = (int64_t)n;
        return 0;
    }
    uLongf len = (uLongf)dst_cap;
    if (compress2((Bytef *)dst, &len, (const Bytef *)in, (uLong)nbytes, level) != Z_OK) {
        return -1;
    }
    *out_len = (int64_t)len;
    return 0;
}

int ts_write_chunk(hid_t d, int64_t row, uint32_t filter_mask, const void *buf, int64_t len) {
    hsize_t off[1] = {(hsize_t)row};
    return H5Dwrite_chunk(d, H5P_DEFAULT, filter_mask, off, (size_t)len, buf) < 0 ? -1 : 0;
}

int ts_set_extent(hid_t d, int64_t rows) {
    hsize_t dims[1] = {(hsize_t)rows};
    return H5Dset_extent(d, dims) < 0 ? -1 : 0;
}
