/*
 * snd.h — the C API of structure-net-data's Go core (libsnd.so).
 *
 * Conventions (every function follows them):
 *  - Every function except snd_abi_version and snd_free returns an int status:
 *    SND_OK (0) on success, one of the SND_ERR_* codes otherwise.
 *  - The last parameter, `char **err_out`, may be NULL. On failure, when it is
 *    not NULL, *err_out receives a malloc'd, NUL-terminated message that the
 *    caller must free with snd_free. On success it is left untouched.
 *  - Objects are opaque 64-bit handles. 0 is never a valid handle. Closing a
 *    handle of 0 is a no-op; closing twice, or using a closed or unknown handle,
 *    returns SND_ERR_INVALID_HANDLE and never crashes.
 *  - Strings returned through `char **` out-parameters are malloc'd and must be
 *    freed with snd_free. JSON is UTF-8.
 *  - Arrow out-parameters are caller-allocated, ZERO-INITIALIZED ArrowArray /
 *    ArrowSchema structs. On success the caller owns them and must call their
 *    release callback exactly once; the data buffers live in C memory and stay
 *    valid until then. No Go memory is retained by the caller.
 *  - No Go panic crosses this boundary: a panic is reported as SND_ERR_INTERNAL.
 *  - The library must not be used in a child created by fork() after it was
 *    loaded (golang/go#15538); start workers with "spawn" instead.
 */
#pragma once
#ifndef SND_H
#define SND_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*! ABI version; bumped on any incompatible change. Compare with snd_abi_version(). */
#define SND_ABI_VERSION 1

#define SND_OK 0                 /* success */
#define SND_ERR_INVALID 1        /* a bad argument or option */
#define SND_ERR_NOT_FOUND 2      /* an unknown name, id or missing file */
#define SND_ERR_CORRUPT 3        /* a file or record failed to decode */
#define SND_ERR_IO 4             /* an operating-system I/O failure */
#define SND_ERR_CLOSED 5         /* the object was closed */
#define SND_ERR_UNSUPPORTED 6    /* a valid request this build cannot serve */
#define SND_ERR_INTERNAL 7       /* a bug, including a recovered Go panic */
#define SND_ERR_CHECKSUM 8       /* downloaded or stored bytes failed verification */
#define SND_ERR_CONFLICT 9       /* already exists, or locked by another writer */
#define SND_ERR_UNAVAILABLE 10   /* a network peer or server could not be reached */
#define SND_ERR_INVALID_HANDLE 11 /* 0, unknown, closed or wrong-type handle */
#define SND_ERR_OUT_OF_MEMORY 12 /* C memory for a result could not be allocated */

/* Arrow C Data Interface (https://arrow.apache.org/docs/format/CDataInterface.html). */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE
#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4
struct ArrowSchema {
  const char* format;
  const char* name;
  const char* metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema** children;
  struct ArrowSchema* dictionary;
  void (*release)(struct ArrowSchema*);
  void* private_data;
};
struct ArrowArray {
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void** buffers;
  struct ArrowArray** children;
  struct ArrowArray* dictionary;
  void (*release)(struct ArrowArray*);
  void* private_data;
};
#endif

/*! Spelling of `const char` that cgo exports can use, so the compiler checks
 *  every declaration below against its Go definition. */
typedef const char snd_cchar;
typedef const uint8_t snd_cu8;   /* const uint8_t, likewise */
typedef const int64_t snd_ci64;  /* const int64_t, likewise */
typedef const float snd_cf32;    /* const float, likewise */
typedef const double snd_cf64;   /* const double, likewise */

/*! Progress callback for downloads: bytes done and total (-1 when unknown).
 *  Called from a library thread; `user` is passed through untouched. */
typedef void (*snd_progress_fn)(const char* file, int64_t done, int64_t total, void* user);

/*! Log callback: one JSON object (zerolog format) per record, without newline. */
typedef void (*snd_log_fn)(int level, const char* json, void* user);

/* ---- library ----------------------------------------------------------- */

/*! @return SND_ABI_VERSION of the built library. */
int snd_abi_version(void);
/*! Frees a string or buffer this library returned. NULL is a no-op. */
void snd_free(void* p);
/*! Library build information as JSON: {"version", "go", "abi"}. "version" is the
 *  package version the build stamped (-X main.Version; "unstamped" for a plain
 *  go build); the Python package refuses a library whose version is not its own.
 *  @param json_out receives a string; free with snd_free. */
int snd_version(char** json_out, char** err_out);
/*! C-memory pool statistics as JSON: {"live_bytes","pooled_bytes","mallocs","reuses"}. */
int snd_memory_stats(char** json_out, char** err_out);
/*! Routes core log records at or above `level` (0 debug,1 info,2 warn,3 error)
 *  to `fn`; fn NULL restores logging to stderr. */
int snd_set_log_callback(snd_log_fn fn, int level, void* user, char** err_out);

/* ---- dataset registry --------------------------------------------------- */

/*! Registers a dataset config given as JSON (DatasetConfig fields).
 *  @param replace non-zero to replace an existing registration. */
int snd_registry_register(const char* config_json, int replace, char** err_out);
/*! Looks a dataset up. @param json_out receives its config JSON; free with snd_free.
 *  Unknown names give SND_ERR_NOT_FOUND listing the available names. */
int snd_registry_get(const char* name, char** json_out, char** err_out);
/*! JSON array of registered names, in registration order. */
int snd_registry_list(char** json_out, char** err_out);
/*! Removes a user-registered dataset. */
int snd_registry_unregister(const char* name, char** err_out);

#include "snd_dataset.h"
#include "snd_images.h"
#include "snd_search.h"
#include "snd_timeseries.h"
#include "snd_metadata.h"
#include "snd_inventory.h"

#ifdef __cplusplus
}
#endif
#endif /* SND_H */
