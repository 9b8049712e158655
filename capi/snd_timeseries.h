/* Training histories (time-series storage); included by snd.h.
 *
 * A store is a folder of histories, one per experiment id. Rows cross the
 * boundary column by column: a JSON description of the columns plus, for
 * numeric columns, typed buffers (double, int64_t, or uint8_t 0/1 for bool)
 * that the library reads during the call and never keeps. */
#pragma once

/*! Read-only pointer to one column's values. */
typedef const void* snd_cptr;

/*! Opens (creating it when missing) a history folder.
 *  @param options_json {"storage_dir" (required), "backend": "hdf5"|"json",
 *                      "compression": "gzip"|"lzf"|"none", "compression_level": 1-9,
 *                      "chunk_size": rows per HDF5 chunk, "compact_on_close": bool,
 *                      "fsync": bool}; omitted fields take their defaults.
 *  @param out receives the store handle; close with snd_ts_close.
 *  @return SND_ERR_UNSUPPORTED when the compression filter is not available
 *          in this libhdf5 (gzip without zlib). */
int snd_ts_open(snd_cchar* options_json, uint64_t* out, char** err_out);

/*! Finishes the store's open append writers (see snd_ts_append), closes the
 *  store and sets *store to 0; a no-op when *store is 0. */
int snd_ts_close(uint64_t* store, char** err_out);

/*! The store's options in effect and the library's capabilities as JSON:
 *  {"options": {...}, "hdf5_version", "filters": {"gzip": bool, "lzf": bool, "none": bool}}.
 *  Free json_out with snd_free. */
int snd_ts_info(uint64_t store, char** json_out, char** err_out);

/*! Stores rows as the whole history of experiment_id, replacing any earlier
 *  one atomically (readers see the old or the new history).
 *  @param columns_json {"columns": [{"name", "kind": "float64"|"int64"|"bool"|
 *                      "string"|"json"|"null", "strings": [text or null, ...]}]},
 *                      "strings" only for string and json columns (json values
 *                      are JSON texts); "null" marks a column with no values.
 *  @param n_rows       rows in every column.
 *  @param values       one pointer per column, in order: n_rows doubles,
 *                      int64_t or uint8_t (0/1); NULL for string, json and null
 *                      columns. Read during the call only.
 *  @param valid        NULL, or one pointer per column, each NULL (all present)
 *                      or n_rows uint8_t (1 = the row has a value).
 *  @param metadata_json NULL or a JSON object stored with the history.
 *  @return SND_ERR_INVALID for bad ids, names, kinds or lengths;
 *          SND_ERR_CONFLICT while another writer holds the experiment. */
int snd_ts_put(uint64_t store, snd_cchar* experiment_id, snd_cchar* columns_json, int64_t n_rows,
               snd_cptr* values, snd_cu8** valid, snd_cchar* metadata_json, char** err_out);

/*! Appends rows (same encoding as snd_ts_put) to experiment_id's history,
 *  creating it. The store keeps the experiment's writer, and its lock, open
 *  until snd_ts_finish or snd_ts_close; the rows are durable on return.
 *  @param metadata_json NULL, or a JSON object replacing the stored metadata.
 *  @return SND_ERR_CONFLICT while another writer holds the experiment;
 *          SND_ERR_INVALID when a column changes type (only int64 -> float64
 *          is allowed, as float64). */
int snd_ts_append(uint64_t store, snd_cchar* experiment_id, snd_cchar* columns_json, int64_t n_rows,
                  snd_cptr* values, snd_cu8** valid, snd_cchar* metadata_json, char** err_out);

/*! Closes the append writer of experiment_id (of every experiment when NULL
 *  or ""), releasing its lock and compacting the file. */
int snd_ts_finish(uint64_t store, snd_cchar* experiment_id, char** err_out);

/*! Opens a writer on experiment_id's history (created when missing; one left
 *  by a crashed writer is recovered first). It holds the experiment's lock.
 *  @param metadata_json NULL, or a JSON object replacing the stored metadata.
 *  @param out receives the writer handle; close with snd_ts_writer_close.
 *  @return SND_ERR_CONFLICT while another writer holds the experiment. */
int snd_ts_writer_open(uint64_t store, snd_cchar* experiment_id, snd_cchar* metadata_json, uint64_t* out,
                       char** err_out);

/*! Appends rows (encoded as for snd_ts_put); durable on return. */
int snd_ts_writer_append(uint64_t writer, snd_cchar* columns_json, int64_t n_rows, snd_cptr* values, snd_cu8** valid,
                         char** err_out);

/*! Closes a writer (compacting the file), sets *writer to 0; a no-op when 0. */
int snd_ts_writer_close(uint64_t* writer, char** err_out);

/*! Reads rows of experiment_id's history.
 *  @param selection_json NULL (all rows) or {"kind": "all"|"index"|"slice"|"list",
 *                        "index", "start", "stop", "step", "indices": [...]},
 *                        with Python's indexing rules (negative indices count
 *                        from the end; slice fields may be null).
 *  @param out_result     receives a result handle; close with snd_ts_result_close.
 *  @param json_out       receives {"experiment_id", "metadata", "total_rows",
 *                        "rows", "backend", "columns": [{"name", "kind", "masked"}]};
 *                        free with snd_free.
 *  @return SND_ERR_NOT_FOUND for an unknown experiment; SND_ERR_INVALID for
 *          an index out of range. */
int snd_ts_read(uint64_t store, snd_cchar* experiment_id, snd_cchar* selection_json, uint64_t* out_result,
                char** json_out, char** err_out);

/*! Copies numeric column `column` of a result into caller buffers: n_rows
 *  doubles, int64_t or uint8_t (bool) in values, and, when valid is not NULL,
 *  n_rows flags (1 = present) in valid. n_rows must equal the result's rows. */
int snd_ts_result_column(uint64_t result, int64_t column, void* values, uint8_t* valid, int64_t n_rows,
                         char** err_out);

/*! A string or json column of a result as a JSON array (null = missing);
 *  json columns hold their values' JSON texts. Free json_out with snd_free. */
int snd_ts_result_strings(uint64_t result, int64_t column, char** json_out, char** err_out);

/*! Frees a result and sets *result to 0; a no-op when 0. */
int snd_ts_result_close(uint64_t* result, char** err_out);

/*! Summary statistics, kept up to date on every write, read without reading
 *  rows: {"experiment_id", "num_epochs", "created", "updated", "backend",
 *  "columns": [{"name", "kind", "count", "missing", "nan_count", "final",
 *  "final_index", "min", "max", "mean", "argmin", "argmax"}],
 *  "best": {column: {"mode": "max"|"min", "value", "index"}}}. NaN is null and
 *  +-inf is +-1e999. Free json_out with snd_free. */
int snd_ts_summary(uint64_t store, snd_cchar* experiment_id, char** json_out, char** err_out);

/*! Deletes experiment_id's history.
 *  @return SND_ERR_NOT_FOUND when there is none; SND_ERR_CONFLICT while a
 *          writer holds it. */
int snd_ts_delete(uint64_t store, snd_cchar* experiment_id, char** err_out);

/*! JSON array of the experiment ids with a history, sorted. Free with snd_free. */
int snd_ts_list(uint64_t store, char** json_out, char** err_out);

/*! Repairs experiment_id's history after a writer died with it open (the
 *  HDF5 superblock still marked open for writing, which plain HDF5 readers
 *  refuse; or a JSON append cut short): every committed row is kept and the
 *  file closed cleanly. A clean history is left as it is. json_out:
 *  {"id", "path", "backend", "damage" ("" when clean), "repaired", "rows"}.
 *  Free with snd_free.
 *  @return SND_ERR_CONFLICT while a live writer holds the history;
 *          SND_ERR_NOT_FOUND when there is none. */
int snd_ts_repair(uint64_t store, snd_cchar* experiment_id, char** json_out, char** err_out);
