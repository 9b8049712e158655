/* Datasets and batch loaders; included by snd.h. */
#pragma once

/*! Opens a registered dataset of an array format (mnist, cifar10, cifar100):
 *  maps its decoded cache, or decodes the source files (downloading them
 *  from the mirrors when options allow) and writes the cache.
 *  @param name          registered dataset name.
 *  @param options_json  NULL or {"data_dir","cache_dir","download","force_reload",
 *                       "mirrors":[base URLs],"md5_override":{file: md5}}.
 *  @param progress      NULL or a download progress callback.
 *  @param user          passed to progress untouched.
 *  @param out           receives the dataset handle; close with snd_dataset_close.
 *  @return SND_ERR_NOT_FOUND for an unknown name or missing files (the message
 *          names the files and the folder), SND_ERR_CORRUPT / SND_ERR_CHECKSUM
 *          for bad files, SND_ERR_UNAVAILABLE when no mirror could be reached. */
int snd_dataset_open(snd_cchar* name, snd_cchar* options_json, snd_progress_fn progress, void* user,
                     uint64_t* out, char** err_out);

/*! Creates a dataset from caller-decoded uint8 samples (NCHW, shape from the
 *  config's input_shape). The bytes are copied during the call; the caller
 *  keeps ownership of its buffers. The test split may be NULL with n_test 0.
 *  @param config_json   DatasetConfig JSON (need not be registered).
 *  @param out           receives the dataset handle; close with snd_dataset_close. */
int snd_dataset_from_arrays(snd_cchar* config_json,
                            snd_cu8* train_images, snd_ci64* train_labels, int64_t n_train,
                            snd_cu8* test_images, snd_ci64* test_labels, int64_t n_test,
                            uint64_t* out, char** err_out);

/*! Dataset facts as JSON: {"config", "train_samples", "test_samples", "files",
 *  "cache_hits", "size_bytes"}. Free json_out with snd_free. */
int snd_dataset_info(uint64_t dataset, char** json_out, char** err_out);

/*! Exports one split's raw uint8 samples as an Arrow record batch
 *  {image: fixed_size_binary[C*H*W], label: int64}. The exported buffers are
 *  copies in C memory owned by the caller's release callback.
 *  @param split "train" or "test". */
int snd_dataset_export_split(uint64_t dataset, snd_cchar* split, struct ArrowArray* out_array,
                             struct ArrowSchema* out_schema, char** err_out);

/*! Closes a dataset handle and sets *dataset to 0; a no-op when *dataset is 0.
 *  Loaders opened on it keep it alive until they are closed. */
int snd_dataset_close(uint64_t* dataset, char** err_out);

/*! Opens a batch loader over one split.
 *  @param options_json {"batch_size","shuffle","seed","drop_last","rank","world_size",
 *                      "threads","prefetch","indices":[...],"epoch",
 *                      "transforms":[name or {"name":..., params}]}.
 *  @param out receives the loader handle; close with snd_loader_close. */
int snd_loader_open(uint64_t dataset, snd_cchar* split, snd_cchar* options_json, uint64_t* out, char** err_out);

/*! Exports the batches' schema (image FixedSizeList<float32>[C*H*W], label
 *  int64; metadata "shape" = "[C,H,W]") into a zeroed ArrowSchema the caller releases. */
int snd_loader_schema(uint64_t loader, struct ArrowSchema* out_schema, char** err_out);

/*! Moves to the next batch. On success either *done is 1 (the epoch is over;
 *  the next call starts the next epoch) and out_array is untouched, or *done is
 *  0 and out_array (caller-allocated, zeroed) holds the batch, whose release
 *  callback returns its C buffers to the pool. Blocks until the batch is ready. */
int snd_loader_next(uint64_t loader, struct ArrowArray* out_array, int* done, char** err_out);

/*! Loader facts as JSON: {"num_batches","num_samples","shape","transforms","epoch","batch"}. */
int snd_loader_info(uint64_t loader, char** json_out, char** err_out);

/*! Starts epoch `epoch` from its first batch; the order is a function of (seed, epoch). */
int snd_loader_set_epoch(uint64_t loader, int64_t epoch, char** err_out);

/*! The loader's position as JSON, for snd_loader_restore. */
int snd_loader_state(uint64_t loader, char** json_out, char** err_out);

/*! Resumes at a position from snd_loader_state of a loader with the same options. */
int snd_loader_restore(uint64_t loader, snd_cchar* state_json, char** err_out);

/*! Stops the loader and sets *loader to 0; a no-op when *loader is 0. Batches
 *  already handed out remain valid until released. */
int snd_loader_close(uint64_t* loader, char** err_out);
