/* Experiment search; included by snd.h.
 *
 * A searcher owns two collections: experiments (384-d experiment vectors, typed
 * metadata, the original experiment JSON as document) and architectures
 * (128-d architecture vectors, the same metadata). The backend is an embedded
 * on-disk store (default; several processes may write it at once) or a Chroma
 * server. Filters ("where") use Chroma's grammar: $eq $ne $gt $gte $lt $lte
 * $in $nin $and $or, a dict with several keys being an implicit $and;
 * "where_document" takes $contains / $not_contains / $and / $or.
 * Numbers in JSON keep their type: 5 is an int, 5.0 a float. */
#pragma once

/*! Opens a searcher.
 *  @param config_json NULL or {"backend": "embedded"|"chroma" (default: chroma when
 *         host is set), "persist_directory", "collection_name", "architecture_collection",
 *         "embedding_dim", "architecture_embedding_dim", "allow_reset", "max_n_results",
 *         "host", "port", "ssl", "headers": {..}, "auth_token", "auth_header", "tenant",
 *         "database", "timeout" (s), "max_retries", "batch_size", "busy_timeout" (s)}.
 *         Unknown fields are an error. The default persist directory is
 *         $SND_CHROMA_DIR, else <user cache dir>/structure-net-data/chroma.
 *  @param out receives the handle; close with snd_search_close.
 *  @return SND_ERR_UNAVAILABLE when a Chroma server cannot be reached,
 *          SND_ERR_CONFLICT when a collection exists with another distance space. */
int snd_search_open(snd_cchar* config_json, uint64_t* out, char** err_out);

/*! Closes a searcher and sets *searcher to 0; a no-op when *searcher is 0. */
int snd_search_close(uint64_t* searcher, char** err_out);

/*! Facts as JSON: {"config", "backend", "space", "dimension", "server_version"?}
 *  (auth token and headers left out). Free json_out with snd_free. */
int snd_search_info(uint64_t searcher, char** json_out, char** err_out);

/*! Embeds and upserts experiments; re-indexing an id replaces it.
 *  @param items_json [{"id": str, "data": {experiment}, "metadata": {extra} or null}];
 *         an empty list is a no-op.
 *  @param report_out may be NULL. Set only when a Chroma server failed part-way:
 *         {"written": [ids stored], "unconfirmed": [ids that may not be]}; free with snd_free. */
int snd_search_index(uint64_t searcher, snd_cchar* items_json, char** report_out, char** err_out);

/*! Experiments nearest to a query experiment.
 *  @param request_json {"query": {experiment}, "n_results": 10, "where": {..}, "where_document": {..}}.
 *  @param results_out JSON list of {"id", "similarity_score" (cosine similarity,
 *         in [-1, 1]), "distance", "metadata", "description", "accuracy",
 *         "parameters", "dataset", "architecture", "hypothesis_id"}; free with snd_free. */
int snd_search_similar(uint64_t searcher, snd_cchar* request_json, char** results_out, char** err_out);

/*! Experiments whose architecture vectors are nearest to an architecture's.
 *  @param request_json {"architecture": [widths] | {"layers": [...]} | "[784, 10]",
 *         "n_results": 10, "where": {..}}; widths are whole numbers (784 or 784.0).
 *         Results as snd_search_similar. */
int snd_search_by_architecture(uint64_t searcher, snd_cchar* request_json, char** results_out, char** err_out);

/*! The most accurate experiments among ALL that match.
 *  @param request_json {"min_accuracy", "max_parameters", "dataset", "n_results"}
 *         (each may be null; n_results null or absent returns every match).
 *  Results as snd_search_similar with similarity_score and distance null. */
int snd_search_by_performance(uint64_t searcher, snd_cchar* request_json, char** results_out, char** err_out);

/*! Every experiment of a hypothesis, most accurate first (n_results null: all).
 *  @param request_json {"hypothesis_id": str, "n_results": int or null}. */
int snd_search_by_hypothesis(uint64_t searcher, snd_cchar* request_json, char** results_out, char** err_out);

/*! The stored experiment: {"id", "experiment": {the original JSON}, "metadata"}.
 *  @return SND_ERR_NOT_FOUND when no experiment has this id. */
int snd_search_get_experiment(uint64_t searcher, snd_cchar* id, char** json_out, char** err_out);

/*! Deletes experiments from both collections. @param ids_json JSON list of ids;
 *  unknown ids are ignored. */
int snd_search_delete_experiments(uint64_t searcher, snd_cchar* ids_json, char** err_out);

/*! Number of indexed experiments. */
int snd_search_count(uint64_t searcher, int64_t* out, char** err_out);

/*! Deletes every experiment. @return SND_ERR_INVALID unless allow_reset was set. */
int snd_search_reset(uint64_t searcher, char** err_out);

/*! Upserts raw records into the experiment collection (whole records: absent
 *  metadata keys and documents are removed).
 *  @param records_json {"ids": [...], "metadatas": [dict|null]|null, "documents": [str|null]|null}.
 *  @param vectors n*dim row-major float32, read during the call only.
 *  @param report_out as in snd_search_index.
 *  @return SND_ERR_INVALID for duplicate ids in the batch, a dimension other
 *          than the collection's, non-finite values or bad metadata. */
int snd_search_upsert(uint64_t searcher, snd_cchar* records_json, snd_cf32* vectors, int64_t n, int64_t dim,
                      char** report_out, char** err_out);

/*! Nearest records of the experiment collection to one vector.
 *  @param request_json {"n_results": 10, "where", "where_document",
 *         "include": ["metadatas", "documents", "embeddings"] (default metadatas, documents)}.
 *  @param results_out {"ids", "distances", "metadatas"?, "documents"?, "embeddings"?},
 *         nearest first; free with snd_free. */
int snd_search_query(uint64_t searcher, snd_cf32* query, int64_t dim, snd_cchar* request_json,
                     char** results_out, char** err_out);

/*! Records of the experiment collection by ids and/or filters.
 *  @param request_json {"ids", "where", "where_document", "limit", "offset", "include"}.
 *         With ids, results keep their order (missing ids skipped).
 *  @param results_out {"ids", "metadatas"?, "documents"?, "embeddings"?}. */
int snd_search_get(uint64_t searcher, snd_cchar* request_json, char** results_out, char** err_out);

/*! Deletes records of the experiment collection.
 *  @param request_json {"ids", "where", "where_document"}; at least one is required. */
int snd_search_delete(uint64_t searcher, snd_cchar* request_json, char** err_out);

/*! Writes the experiment embedding of a JSON experiment into out[0..dim-1]. */
int snd_search_embed_experiment(snd_cchar* experiment_json, int64_t dim, float* out, char** err_out);

/*! Writes the architecture embedding into out[0..dim-1].
 *  @param architecture_json a list of widths, {"layers": [...]}, or null (zeros). */
int snd_search_embed_architecture(snd_cchar* architecture_json, int64_t dim, float* out, char** err_out);

/*! Writes the 128-d hypothesis fingerprint (SHA-256 bytes / 255, not normalised)
 *  of {"name", "description", "question", "prediction"} into out[0..127]. */
int snd_search_embed_hypothesis(snd_cchar* hypothesis_json, float* out, char** err_out);
