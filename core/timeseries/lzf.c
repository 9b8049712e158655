/* LZF compression (Marc Lehmann's format, as h5py's built-in "lzf" filter
 * uses it) and the HDF5 filter 32000 that h5py reads natively. Debian ships no
 * LZF plugin for libhdf5, so the package registers its own when libhdf5 has
 * none. Written from the format description; the tests check that h5py (an
 * independent decoder) reads what it writes.
 *
 * Format: a sequence of runs. A control byte below 32 starts a literal run of
 * ctrl+1 bytes. Otherwise the top 3 bits are a length L (7 means: add the next
 * byte) and the low 5 bits the high bits of an offset whose low 8 bits follow:
 * copy L+2 bytes from offset+1 bytes back in the output. */
#include "lzf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HLOG 13
#define HSIZE (1u << HLOG)
#define MAX_LIT (1u << 5)
#define MAX_OFF (1u << 13)
#define MAX_REF ((1u << 8) + (1u << 3))

static unsigned hash3(const uint8_t *p) {
    uint32_t v = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
    return ((v >> (24 - HLOG)) - v * 5) & (HSIZE - 1);
}

size_t ts_lzf_compress(const void *in_data, size_t in_len, void *out_data, size_t out_len) {
    const uint8_t *in = (const uint8_t *)in_data, *ip = in, *in_end = in + in_len;
    uint8_t *op = (uint8_t *)out_data, *out_end = op + out_len;
    uint32_t *htab; /* 1 + position of the last occurrence of each hash; 0: none */
    size_t lit = 0;
    if (in_len == 0 || out_len < 2) {
        return 0;
    }
    htab = (uint32_t *)calloc(HSIZE, sizeof(uint32_t));
    if (htab == NULL) {
        return 0;
    }
    op++; /* room for the first literal run's control byte */
    while (in_len >= 3 && ip < in_end - 2) {
        unsigned h = hash3(ip);
        uint32_t prev = htab[h];
        htab[h] = (uint32_t)(ip - in) + 1;
        const uint8_t *ref = prev ? in + (prev - 1) : NULL;
        size_t off;
        if (ref != NULL && ref < ip && (off = (size_t)(ip - ref - 1)) < MAX_OFF && ref[0] == ip[0] && ref[1] == ip[1] &&
            ref[2] == ip[2]) {
            size_t len = 2, maxlen = (size_t)(in_end - ip);
            if (maxlen > MAX_REF) {
                maxlen = MAX_REF;
            }
            /* Worst case: 3 bytes of back reference and a new control byte. */
            if (op - !lit + 3 + 1 >= out_end) {
                free(htab);
                return 0;
            }
            op[-(ptrdiff_t)lit - 1] = (uint8_t)(lit - 1); /* close the literal run */
            op -= !lit;                                   /* or drop it when empty */
            do {
                len++;
            } while (len < maxlen && ref[len] == ip[len]);
            ip += len;
            len -= 2;
            if (len < 7) {
                *op++ = (uint8_t)((off >> 8) + (len << 5));
            } else {
                *op++ = (uint8_t)((off >> 8) + (7u << 5));
                *op++ = (uint8_t)(len - 7);
            }
            *op++ = (uint8_t)off;
            lit = 0;
            op++; /* the next literal run's control byte */
            continue;
        }
        if (op >= out_end) {
            free(htab);
            return 0;
        }
        lit++;
        *op++ = *ip++;
        if (lit == MAX_LIT) {
            op[-(ptrdiff_t)lit - 1] = (uint8_t)(lit - 1);
            lit = 0;
            op++;
        }
    }
    free(htab);
    while (ip < in_end) {
        if (op >= out_end) {
            return 0;
        }
        lit++;
        *op++ = *ip++;
        if (lit == MAX_LIT) {
            op[-(ptrdiff_t)lit - 1] = (uint8_t)(lit - 1);
            lit = 0;
            op++;
        }
    }
    if (op > out_end) {
        return 0;
    }
    op[-(ptrdiff_t)lit - 1] = (uint8_t)(lit - 1);
    op -= !lit;
    return (size_t)(op - (uint8_t *)out_data);
}

size_t ts_lzf_decompress(const void *in_data, size_t in_len, void *out_data, size_t out_len) {
    const uint8_t *ip = (const uint8_t *)in_data, *in_end = ip + in_len;
    uint8_t *out = (uint8_t *)out_data, *op = out, *out_end = out + out_len;
    while (ip < in_end) {
        unsigned ctrl = *ip++;
        if (ctrl < MAX_LIT) {
            ctrl++;
            if ((size_t)(out_end - op) < ctrl) {
                errno = E2BIG;
                return 0;
            }
            if ((size_t)(in_end - ip) < ctrl) {
                errno = EINVAL;
                return 0;
            }
            memcpy(op, ip, ctrl);
            op += ctrl;
            ip += ctrl;
            continue;
        }
        size_t len = ctrl >> 5, back = (size_t)(ctrl & 0x1f) << 8;
        if (ip >= in_end) {
            errno = EINVAL;
            return 0;
        }
        if (len == 7) {
            len += *ip++;
            if (ip >= in_end) {
                errno = EINVAL;
                return 0;
            }
        }
        back += *ip++;
        len += 2;
        if ((size_t)(out_end - op) < len) {
            errno = E2BIG;
            return 0;
        }
        if ((size_t)(op - out) < back + 1) {
            errno = EINVAL;
            return 0;
        }
        const uint8_t *ref = op - back - 1;
        while (len--) { /* overlapping copies repeat a pattern: byte by byte */
            *op++ = *ref++;
        }
    }
    return (size_t)(op - out);
}

/* ---- the HDF5 filter (same id, client data and behaviour as h5py's) -------- */

#define LZF_FILTER_VERSION 4
#define LZF_LIB_VERSION 0x0105

static herr_t lzf_set_local(hid_t dcpl, hid_t type, hid_t space) {
    unsigned flags;
    size_t nelements = 8;
    unsigned values[] = {0, 0, 0, 0, 0, 0, 0, 0};
    hsize_t chunkdims[32];
    (void)space;
    if (H5Pget_filter_by_id2(dcpl, TS_LZF_FILTER_ID, &flags, &nelements, values, 0, NULL, NULL) < 0) {
        return -1;
    }
    if (nelements < 3) {
        nelements = 3;
    }
    if (values[0] == 0) {
        values[0] = LZF_FILTER_VERSION;
    }
    if (values[1] == 0) {
        values[1] = LZF_LIB_VERSION;
    }
    int ndims = H5Pget_chunk(dcpl, 32, chunkdims);
    if (ndims < 0) {
        return -1;
    }
    size_t bufsize = H5Tget_size(type);
    if (bufsize == 0) {
        return -1;
    }
    for (int i = 0; i < ndims; i++) {
        bufsize *= chunkdims[i];
    }
    values[2] = (unsigned)bufsize;
    return H5Pmodify_filter(dcpl, TS_LZF_FILTER_ID, flags, nelements, values) < 0 ? -1 : 1;
}

static size_t lzf_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes,
                         size_t *buf_size, void **buf) {
    void *outbuf = NULL;
    size_t outbuf_size, status = 0;
    if (!(flags & H5Z_FLAG_REVERSE)) {
        /* An incompressible chunk fails here; the filter is optional, so
         * libhdf5 then stores it as it is. */
        outbuf_size = nbytes;
        if ((outbuf = H5allocate_memory(outbuf_size, 0)) == NULL) {
            return 0;
        }
        status = ts_lzf_compress(*buf, nbytes, outbuf, outbuf_size);
    } else {
        outbuf_size = (cd_nelmts >= 3 && cd_values[2] != 0) ? cd_values[2] : *buf_size;
        for (int tries = 0; status == 0 && tries < 8; tries++) {
            H5free_memory(outbuf);
            if ((outbuf = H5allocate_memory(outbuf_size, 0)) == NULL) {
                return 0;
            }
            status = ts_lzf_decompress(*buf, nbytes, outbuf, outbuf_size);
            if (status == 0 && errno != E2BIG) {
                break;
            }
            outbuf_size += *buf_size;
        }
    }
    if (status == 0) {
        H5free_memory(outbuf);
        return 0;
    }
    H5free_memory(*buf);
    *buf = outbuf;
    *buf_size = outbuf_size;
    return status;
}

int ts_lzf_register(void) {
    static const H5Z_class2_t cls = {
        H5Z_CLASS_T_VERS, (H5Z_filter_t)TS_LZF_FILTER_ID, 1, 1, "lzf", NULL, (H5Z_set_local_func_t)lzf_set_local,
        (H5Z_func_t)lzf_filter,
    };
    if (H5Zfilter_avail(TS_LZF_FILTER_ID) > 0) {
        return 0;
    }
    return H5Zregister(&cls) < 0 ? -1 : 0;
}
