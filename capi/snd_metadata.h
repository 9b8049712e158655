/* Dataset metadata and usage tracking; included by snd.h. */
#pragma once

/*! Opens (creating when absent) the metadata database in `dir` (SQLite, WAL).
 *  Several processes may open the same directory and write concurrently.
 *  @return SND_ERR_CORRUPT when the file exists but is not a readable database
 *          (it is never replaced). Close the handle with snd_metadata_close. */
int snd_metadata_open(snd_cchar* dir, uint64_t* out, char** err_out);

/*! Opens the metadata database a URI names: "sqlite:///path/metadata.db" or
 *  "postgresql://user:password@host:port/database" (the database must exist; its
 *  tables are created and migrated). `retry_seconds` is how long operations retry
 *  after a lost connection to a server (<= 0: 30 s). Errors name host and port,
 *  never the password; SND_ERR_UNSUPPORTED for a schema newer than this build. */
int snd_metadata_open_uri(snd_cchar* uri, double retry_seconds, uint64_t* out, char** err_out);

/*! Records or replaces a dataset's metadata, given as DatasetMetadata JSON. */
int snd_metadata_put_dataset(uint64_t store, snd_cchar* json, char** err_out);

/*! The recorded metadata of `name` as JSON; SND_ERR_NOT_FOUND when none. */
int snd_metadata_get_dataset(uint64_t store, snd_cchar* name, char** json_out, char** err_out);

/*! Appends a usage record (DatasetUsage JSON); *id_out receives its usage id. */
int snd_metadata_track_usage(uint64_t store, snd_cchar* json, char** id_out, char** err_out);

/*! Usage records as a JSON array, oldest first; empty or NULL filters match all. */
int snd_metadata_history(uint64_t store, snd_cchar* dataset_name, snd_cchar* experiment_id, char** json_out,
                         char** err_out);

/*! Usage statistics of one dataset as JSON. */
int snd_metadata_stats(uint64_t store, snd_cchar* dataset_name, char** json_out, char** err_out);

/*! Closes the store and sets *store to 0; a no-op when *store is 0. */
int snd_metadata_close(uint64_t* store, char** err_out);
