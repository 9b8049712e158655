/* Image folders (ImageNet and custom class-folder trees); included by snd.h.
 * An image dataset handle works with every snd_loader_* function. */
#pragma once

/*! Opens a registered dataset of format "imagefolder": scans its folders
 *  (torchvision ImageFolder order) or maps its prepared packs.
 *  @param options_json NULL or {"data_dir","cache_dir","force_reload",
 *                      "on_error":"raise"|"skip","dct_scaling","use_pack"}.
 *  @param out receives the handle; close with snd_images_close.
 *  @return SND_ERR_NOT_FOUND when the folder (or ImageNet under data_dir) is
 *          missing, with the places looked at in the message. */
int snd_images_open(snd_cchar* name, snd_cchar* options_json, uint64_t* out, char** err_out);

/*! Looks at a folder without registering anything, for register_image_folder.
 *  @param config_json a DatasetConfig JSON whose metadata holds "root" (and
 *                     optionally "train_dir", "test_dir").
 *  @param json_out    receives what snd_images_info returns. */
int snd_images_scan(snd_cchar* config_json, snd_cchar* options_json, char** json_out, char** err_out);

/*! Dataset facts as JSON: snd_dataset_info's keys plus "root", "classes",
 *  "class_names", "<split>_dir", "<split>_scan" (files passed over),
 *  "<split>_pack", "skipped_files" (count) and "skipped" (paths). */
int snd_images_info(uint64_t images, char** json_out, char** err_out);

/*! Closes the handle and sets *images to 0; a no-op when it is 0. Loaders
 *  keep the dataset alive until they are closed. */
int snd_images_close(uint64_t* images, char** err_out);

/*! Writes prepared packs (one memory-mappable file of resized JPEGs per
 *  split) that later opens read instead of the folders.
 *  @param options_json snd_images_open's options plus {"max_side","quality",
 *                      "threads","splits":["train","test"]}.
 *  @param progress     NULL or called with (split, images done, total).
 *  @param json_out     receives {"packs":{split: path}, "images":{split: n}}. */
int snd_images_prepare(snd_cchar* name, snd_cchar* options_json, snd_progress_fn progress, void* user,
                       char** json_out, char** err_out);

/*! Decodes one encoded image (JPEG or PNG) and applies transforms to it.
 *  @param options_json {"transforms":[...], "seed", "mean", "std", "size":[h,w],
 *                      "channels", "dct_scaling"}.
 *  @param out      receives a malloc'd float32 CHW buffer; free with snd_free.
 *  @param out_len  receives its number of floats.
 *  @param json_out receives {"shape":[c,h,w], "steps":[what random transforms drew]}. */
int snd_images_apply(snd_cu8* data, int64_t len, snd_cchar* options_json, float** out, int64_t* out_len,
                     char** json_out, char** err_out);
