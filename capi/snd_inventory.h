/* What is on disk: a dataset's source files (with their checksums) and the
 * cache folder's decoded splits and prepared packs; included by snd.h. */
#pragma once

/*! Lists the source files of a built-in array dataset (mnist, cifar10,
 *  cifar100) under the data folder, and its decoded caches for that folder.
 *  @param options_json NULL or {"data_dir","cache_dir","md5_override":{file: md5},
 *                      "verify": hash each present file and compare its MD5}.
 *  @param progress     NULL or a callback fed as files are hashed.
 *  @param json_out     {"data_dir", "files": [{"name","path","size","md5","actual_md5",
 *                      "status","error"}], "caches": [{"dataset","split","kind","path",
 *                      "size","mtime_ns","present"}]}; status is present, ok, mismatch,
 *                      missing, unverified (no MD5 published for that form), archived
 *                      (still in the archive next to it) or error. Free with snd_free.
 *  @return SND_ERR_NOT_FOUND for an unknown name, SND_ERR_UNSUPPORTED for a
 *          dataset without built-in source files. Bad files are reported in
 *          json_out, not as errors. */
int snd_dataset_files(snd_cchar* name, snd_cchar* options_json, snd_progress_fn progress, void* user,
                      char** json_out, char** err_out);

/*! Finds a registered image-folder dataset's folders (without scanning the
 *  images) and its prepared packs.
 *  @param options_json NULL or {"data_dir","cache_dir"}.
 *  @param json_out {"root" ("" when not found), "problem" (why not), "files": the
 *                  split folders as in snd_dataset_files, "caches": the packs}. */
int snd_images_locate(snd_cchar* name, snd_cchar* options_json, char** json_out, char** err_out);

/*! Lists the cache folder: decoded splits (kind "decoded", of every data
 *  folder), prepared packs ("pack") and files left by interrupted writes
 *  ("partial"), sorted by dataset, split and path.
 *  @param options_json NULL or {"cache_dir", "dataset": only this one}.
 *  @param json_out {"cache_dir", "files": [...as snd_dataset_files' caches]}. */
int snd_cache_list(snd_cchar* options_json, char** json_out, char** err_out);

/*! Removes what snd_cache_list lists (and the folders it leaves empty).
 *  Processes reading a removed cache keep their mapping; later opens decode again.
 *  @param options_json NULL or {"cache_dir", "dataset", "dry_run": remove nothing}.
 *  @param json_out {"cache_dir", "files": what was (or would be) removed, "removed"}. */
int snd_cache_remove(snd_cchar* options_json, char** json_out, char** err_out);
