#!/usr/bin/env python3
"""Benchmark: our JPEG image-folder pipeline against NVIDIA DALI on CPU, torchvision (stock Pillow and
pillow-simd) and decode-only floors, same folder, same threads, same work.

A folder of photo-like JPEGs (about 500x375, quality 90, 4:2:0: crops of a real photograph from matplotlib's
sample data, re-coloured, rescaled and with grain, so they decode like photos, not like flat colour) is read by:

* ours: ``register_image_folder`` + ``create_dataset(threads=2)``; train = random_resized_crop 224 + flip +
  normalize, val = resize 256 + center_crop 224 + normalize; with DCT-domain scaling (default) and without
  (``dct_scaling=False``: torchvision-identical output, see tests);
* NVIDIA DALI, CPU-only pipeline (``device_id=None``, ``num_threads=2``): ``readers.file`` +
  ``decoders.image_random_crop`` + ``resize`` + ``crop_mirror_normalize`` (val: ``decoders.image`` +
  ``resize(resize_shorter=256)`` + ``crop_mirror_normalize(crop=224)``);
* torchvision ``ImageFolder`` + ``DataLoader(num_workers=2, persistent_workers=True, pin_memory=True)``, once
  with stock Pillow and once with pillow-simd (its own venv, since it replaces Pillow);
* decode-only floors: a C program on 2 threads decoding with libjpeg-turbo exactly the region ours decodes
  (the random-resized-crop window, at the DCT scale ours picks, or at full scale), the full image with
  TurboJPEG, and simplejpeg / PyTurboJPEG full decodes from Python on 2 threads.

Every arm runs in its own process, one warm-up epoch, then the best of EPOCHS epochs; CPU seconds are measured
(process CPU time of the arm's process, plus its DataLoader workers'), not extrapolated. Files are read once
before timing, so every arm reads from the page cache.

Usage: PYTHONPATH=python python3 bench/bench_images.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import ratio_words, run_header, target, version, write_section  # noqa: E402

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLASSES = 10
BATCH = 64
THREADS = 2
EPOCHS = 3  # best of EPOCHS after one warm-up epoch, for every arm
SIMD_PYTHON = HERE / ".venv-simd" / "bin" / "python"
FFCV_PYTHON = HERE / ".venv-ffcv" / "bin" / "python"

# Decodes, on N threads, the region "x y w h" of each listed file at DCT scale num/8 with libjpeg-turbo's
# libjpeg API, as core/imagefolder/jpeg.c does: jpeg_crop_scanline + jpeg_skip_scanlines, then only the rows
# needed. "0 0 0 0 8" means the whole image at full scale.
DECODE_C = r"""
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <math.h>
#include <jpeglib.h>

typedef struct { char path[4096]; int x, y, w, h, num; } item;
static item *items; static int n, next_i; static long pixels;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *work(void *arg) {
  unsigned char *buf = NULL, *out = NULL; size_t cap = 0, ocap = 0; long px = 0;
  struct jpeg_decompress_struct d; struct jpeg_error_mgr e;
  d.err = jpeg_std_error(&e); jpeg_create_decompress(&d);
  for (;;) {
    pthread_mutex_lock(&mu); int i = next_i++; pthread_mutex_unlock(&mu);
    if (i >= n) break;
    item *it = &items[i];
    FILE *f = fopen(it->path, "rb"); fseek(f, 0, SEEK_END); long len = ftell(f); fseek(f, 0, SEEK_SET);
    if ((size_t)len > cap) { cap = len; buf = realloc(buf, cap); }
    if (fread(buf, 1, len, f) != (size_t)len) { fprintf(stderr, "short read\n"); exit(1); }
    fclose(f);
    jpeg_mem_src(&d, buf, len); jpeg_read_header(&d, TRUE);
    d.out_color_space = JCS_RGB; d.scale_num = it->num; d.scale_denom = 8;
    jpeg_start_decompress(&d);
    int W = d.output_width, H = d.output_height;
    int x0 = 0, y0 = 0, x1 = W, y1 = H;
    if (it->w > 0) {
      double s = it->num / 8.0;
      x0 = (int)floor(it->x * s); y0 = (int)floor(it->y * s);
      x1 = (int)ceil((it->x + it->w) * s); y1 = (int)ceil((it->y + it->h) * s);
      if (x1 > W) x1 = W; if (y1 > H) y1 = H;
    }
    JDIMENSION cx = x0, cw = x1 - x0;
    if (cx > 0 || (int)cw < W) jpeg_crop_scanline(&d, &cx, &cw);
    size_t stride = (size_t)cw * 3;
    if (stride > ocap) { ocap = stride; out = realloc(out, ocap); }
    if (y0 > 0) jpeg_skip_scanlines(&d, y0);
    for (int y = y0; y < y1; y++) { JSAMPROW row = out; jpeg_read_scanlines(&d, &row, 1); }
    px += (long)cw * (y1 - y0);
    if (y1 == H) jpeg_finish_decompress(&d); else jpeg_abort_decompress(&d);
  }
  jpeg_destroy_decompress(&d);
  pthread_mutex_lock(&mu); pixels += px; pthread_mutex_unlock(&mu);
  free(buf); free(out); return NULL;
}

int main(int argc, char **argv) {
  int threads = atoi(argv[1]); FILE *l = fopen(argv[2], "r");
  items = calloc(200000, sizeof(item));
  while (n < 200000 && fscanf(l, "%4095s %d %d %d %d %d", items[n].path, &items[n].x, &items[n].y,
                              &items[n].w, &items[n].h, &items[n].num) == 6) n++;
  fclose(l);
  pthread_t th[64]; struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, work, NULL);
  for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
  printf("{\"images\": %d, \"seconds\": %.6f, \"megapixels\": %.3f}\n", n, s, pixels / 1e6);
  return 0;
}
"""


def make_images(root: Path, n: int) -> list[Path]:
    """n photo-like JPEGs of about 500x375 in CLASSES class folders (reused when already there)."""
    from PIL import Image, ImageEnhance

    files = sorted(root.glob("*/*.jpg"))
    if len(files) == n:
        return files
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        photo = Image.open(f).convert("RGB")
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        scale = rng.uniform(1.0, 2.2)
        big = photo.resize((int(photo.width * scale), int(photo.height * scale)), Image.BILINEAR)
        w, h = (500, 375) if rng.random() < 0.7 else (375, 500)
        w, h = min(w, big.width), min(h, big.height)
        x, y = int(rng.integers(0, big.width - w + 1)), int(rng.integers(0, big.height - h + 1))
        img = big.crop((x, y, x + w, y + h))
        if rng.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        img = ImageEnhance.Color(img).enhance(rng.uniform(0.3, 1.7))
        arr = np.asarray(img, dtype=np.int16) + rng.normal(0, 9, (h, w, 3)).astype(np.int16)
        arr += rng.integers(-30, 30, 3, dtype=np.int16)
        path = root / f"class_{i % CLASSES:02d}" / f"img_{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=90)
        out.append(path)
    return sorted(out)


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def best(runs: list[tuple[float, float]], n: int) -> dict[str, float]:
    """The fastest epoch of several (wall seconds, CPU seconds), as images/s and images per CPU-second."""
    wall, cpu = min(runs)
    return {"rate": n / wall, "cpu_s": cpu, "per_cpu": n / cpu}


# ---- decode-only floors ---------------------------------------------------------------------------------


def dct_num(bw: float, bh: float, out: int = 224) -> int:
    """The DCT scale ours picks (core/transform/image.go): the smallest of 1/8, 1/4, 1/2 that keeps the region
    at least as large as the output, else full scale."""
    for n in (1, 2, 4):
        if bw * n / 8 >= out and bh * n / 8 >= out:
            return n
    return 8


def rrc_window(w: int, h: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """torchvision RandomResizedCrop.get_params (scale 0.08-1, ratio 3/4-4/3)."""
    area = w * h
    for _ in range(10):
        target_area = area * rng.uniform(0.08, 1.0)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = round(math.sqrt(target_area * ratio)), round(math.sqrt(target_area / ratio))
        if 0 < cw <= w and 0 < ch <= h:
            return int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1)), cw, ch
    side = min(w, h)
    return (w - side) // 2, (h - side) // 2, side, side


def decode_lists(files: list[Path], sizes: list[tuple[int, int]], work: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    lists: dict[str, list[str]] = {k: [] for k in ("full", "train_dct", "train", "val_dct", "val")}
    for f, (w, h) in zip(files, sizes, strict=True):
        lists["full"].append(f"{f} 0 0 0 0 8")
        x, y, cw, ch = rrc_window(w, h, rng)
        lists["train_dct"].append(f"{f} {x} {y} {cw} {ch} {dct_num(cw, ch)}")
        lists["train"].append(f"{f} {x} {y} {cw} {ch} 8")
        side = round(224 * min(w, h) / 256)
        vx, vy = (w - side) // 2, (h - side) // 2
        lists["val_dct"].append(f"{f} {vx} {vy} {side} {side} {dct_num(side, side)}")
        lists["val"].append(f"{f} {vx} {vy} {side} {side} 8")
    out = {}
    for k, v in lists.items():
        out[k] = work / f"{k}.txt"
        out[k].write_text("\n".join(v) + "\n")
    return out


def decode_floors(files: list[Path], work: Path) -> dict[str, dict[str, float]]:
    from PIL import Image

    sizes = []
    for f in files:
        with Image.open(f) as im:
            sizes.append(im.size)
    src, exe = work / "decode.c", work / "decode"
    src.write_text(DECODE_C)
    subprocess.run(["cc", "-O2", "-o", str(exe), str(src), "-ljpeg", "-lpthread", "-lm"], check=True)
    out = {}
    for name, listing in decode_lists(files, sizes, work).items():
        subprocess.run([str(exe), str(THREADS), str(listing)], check=True, capture_output=True)  # warm-up
        runs = []
        for _ in range(EPOCHS):
            cpu = children_cpu()
            run = subprocess.run([str(exe), str(THREADS), str(listing)], check=True, capture_output=True, text=True)
            r = json.loads(run.stdout)
            runs.append((r["seconds"], children_cpu() - cpu))
        out[name] = best(runs, len(files))
    out.update(python_decoders(files))
    return out


def python_decoders(files: list[Path]) -> dict[str, dict[str, float]]:
    """Full-size decodes to RGB from Python, THREADS threads (both libraries release the GIL while decoding)."""
    import simplejpeg
    import turbojpeg

    tj = turbojpeg.TurboJPEG()
    data = [f.read_bytes() for f in files]
    decoders = {
        "simplejpeg": lambda b: simplejpeg.decode_jpeg(b, colorspace="RGB"),
        "pyturbojpeg": lambda b: tj.decode(b, pixel_format=turbojpeg.TJPF_RGB),
    }
    out = {}
    with ThreadPoolExecutor(THREADS) as pool:
        for name, fn in decoders.items():
            list(pool.map(fn, data))
            runs = []
            for _ in range(EPOCHS):
                cpu, t = time.process_time(), time.perf_counter()
                list(pool.map(fn, data))
                runs.append((time.perf_counter() - t, time.process_time() - cpu))
            out[name] = best(runs, len(files))
    return out


# ---- loaders: an epoch, measured the same way for every arm -------------------------------------------------


def epoch(loader, n_expected: int, cpu) -> tuple[float, float]:
    """Wall and CPU seconds (cpu() counts the arm's process and its workers) over one epoch."""
    n, check = 0, 0.0
    c, t = cpu(), time.perf_counter()
    for images, labels in loader:
        n += len(labels)
        check += float(images[0, 0, 0, 0])
    wall, used = time.perf_counter() - t, cpu() - c
    assert n == n_expected, (n, n_expected)
    return wall, used


def measure(loader, n: int, cpu=time.process_time) -> dict[str, float]:
    epoch(loader, n, cpu)
    return best([epoch(loader, n, cpu) for _ in range(EPOCHS)], n)


def ours(root: Path, n: int) -> dict[str, dict[str, float]]:
    from structure_net_data import create_dataset
    from structure_net_data.images import register_image_folder, set_image_options

    register_image_folder("bench_images", root, input_shape=(3, 224, 224), mean=MEAN, std=STD, replace=True)
    out = {}
    for dct in (True, False):
        set_image_options("bench_images", dct_scaling=dct)
        train = create_dataset("bench_images", batch_size=BATCH, threads=THREADS, seed=0)["train_loader"]
        val_specs = ["resize", "center_crop", "normalize"]
        val = create_dataset(
            "bench_images", batch_size=BATCH, threads=THREADS, seed=0, shuffle=False, train_transform=val_specs
        )["train_loader"]
        suffix = "_dct" if dct else ""
        out["train" + suffix] = measure(train, n)
        out["val" + suffix] = measure(val, n)
        train.close()
        val.close()
    return out


def torchvision_child(root: str, n: int) -> dict:
    import PIL
    import psutil
    import torch
    import torchvision.transforms as T
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder

    torch.set_num_threads(1)
    norm = [T.ToTensor(), T.Normalize(MEAN, STD)]
    out: dict = {"pillow": PIL.__version__}
    for name, tf, shuffle in (
        ("train", T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), *norm]), True),
        ("val", T.Compose([T.Resize(256), T.CenterCrop(224), *norm]), False),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pin_memory without an accelerator: torch warns and skips pinning
            loader = DataLoader(
                ImageFolder(root, transform=tf),
                batch_size=BATCH,
                shuffle=shuffle,
                num_workers=THREADS,
                persistent_workers=True,
                pin_memory=True,
            )
            it = iter(loader)
            workers = [psutil.Process(w.pid) for w in it._workers]
            del it
            out[name] = measure(
                loader, n, lambda ws=workers: time.process_time() + sum(sum(p.cpu_times()[:2]) for p in ws)
            )
        del loader
    return out


def dali_child(root: str, n: int) -> dict:
    import torch
    from nvidia.dali import fn, pipeline_def, types
    from nvidia.dali.plugin.pytorch import DALIGenericIterator, LastBatchPolicy

    mean = [255 * m for m in MEAN]
    std = [255 * s for s in STD]

    @pipeline_def(batch_size=BATCH, num_threads=THREADS, device_id=None, seed=0)
    def train():
        jpegs, labels = fn.readers.file(file_root=root, random_shuffle=True, name="Reader")
        images = fn.decoders.image_random_crop(
            jpegs, device="cpu", output_type=types.RGB, random_area=[0.08, 1.0], random_aspect_ratio=[0.75, 4 / 3]
        )
        images = fn.resize(images, resize_x=224, resize_y=224)
        images = fn.crop_mirror_normalize(
            images, dtype=types.FLOAT, output_layout="CHW", mean=mean, std=std, mirror=fn.random.coin_flip()
        )
        return images, labels

    @pipeline_def(batch_size=BATCH, num_threads=THREADS, device_id=None, seed=0)
    def val():
        jpegs, labels = fn.readers.file(file_root=root, random_shuffle=False, name="Reader")
        images = fn.decoders.image(jpegs, device="cpu", output_type=types.RGB)
        images = fn.resize(images, resize_shorter=256)
        images = fn.crop_mirror_normalize(
            images, dtype=types.FLOAT, output_layout="CHW", crop=(224, 224), mean=mean, std=std
        )
        return images, labels

    out: dict = {
        "cuda_visible": torch.cuda.is_available(),
        "dev_nvidia": sorted(map(str, Path("/dev").glob("nvidia*"))),
    }
    for name, pipe_fn in (("train", train), ("val", val)):
        pipe = pipe_fn()
        pipe.build()
        it = DALIGenericIterator(
            pipe, ["images", "labels"], reader_name="Reader", last_batch_policy=LastBatchPolicy.PARTIAL, auto_reset=True
        )

        batches = DaliBatches(it)
        out[name] = measure(batches, n)
        out[name + "_output"] = batches.seen
        del it, pipe
    return out


def ffcv_child(root: str, n: int) -> dict:
    """FFCV's documented ImageNet pipeline without the GPU steps: a .beton written from the same folder
    (RGBImageField, JPEG re-encoded at quality 90: not timed), then Loader(num_workers=2, os_cache=True)."""
    from ffcv.fields import IntField, RGBImageField
    from ffcv.fields.decoders import CenterCropRGBImageDecoder, IntDecoder, RandomResizedCropRGBImageDecoder
    from ffcv.loader import Loader, OrderOption
    from ffcv.transforms import NormalizeImage, RandomHorizontalFlip, Squeeze, ToTensor, ToTorchImage
    from ffcv.writer import DatasetWriter
    from torchvision.datasets import ImageFolder

    beton = Path(tempfile.mkdtemp()) / "images.beton"
    t = time.perf_counter()
    DatasetWriter(
        str(beton),
        {"image": RGBImageField(write_mode="jpg", jpeg_quality=90), "label": IntField()},
        num_workers=THREADS,
    ).from_indexed_dataset(ImageFolder(root))
    out: dict = {"version": version("ffcv"), "write_s": time.perf_counter() - t, "size": beton.stat().st_size}
    mean, std = np.array(MEAN) * 255, np.array(STD) * 255
    tail = [NormalizeImage(mean, std, np.float32), ToTensor(), ToTorchImage(channels_last=False)]
    label = [IntDecoder(), ToTensor(), Squeeze()]
    for name, image, order in (
        ("train", [RandomResizedCropRGBImageDecoder((224, 224)), RandomHorizontalFlip(), *tail], OrderOption.RANDOM),
        ("val", [CenterCropRGBImageDecoder((224, 224), ratio=224 / 256), *tail], OrderOption.SEQUENTIAL),
    ):
        loader = Loader(
            str(beton),
            batch_size=BATCH,
            num_workers=THREADS,
            order=order,
            os_cache=True,
            drop_last=False,
            pipelines={"image": image, "label": label},
        )
        out[name] = measure(loader, n)
        images, _ = next(iter(loader))
        out[name + "_output"] = [str(images.device), str(images.dtype), list(images.shape[1:]), images.is_contiguous()]
    beton.unlink()
    return out


class DaliBatches:
    """A DALI iterator as (images, labels) batches; remembers the device, dtype and shape it yielded."""

    def __init__(self, it) -> None:
        self.it, self.seen = it, None

    def __iter__(self):
        for batch in self.it:
            images = batch[0]["images"]
            self.seen = [str(images.device), str(images.dtype), list(images.shape[1:])]
            yield images, batch[0]["labels"].view(-1)


def child(kind: str, root: Path, n: int, python: Path | str = sys.executable) -> dict:
    run = subprocess.run(
        [str(python), __file__, "--child", kind, str(root), str(n)], check=True, capture_output=True, text=True
    )
    return json.loads(run.stdout.strip().splitlines()[-1])


def ffcv_failure() -> str:
    """Why FFCV is not measured, from bench/.ffcv-build.log (empty when it is)."""
    if FFCV_PYTHON.exists() and subprocess.run([str(FFCV_PYTHON), "-c", "import ffcv.loader"]).returncode == 0:
        return ""
    log = HERE / ".ffcv-build.log"
    if not log.exists():
        return "FFCV: not attempted (bench/setup_env.sh writes bench/.ffcv-build.log)."
    reasons = [line.strip() for line in log.read_text().splitlines() if "Error" in line or "error:" in line]
    reason = next((r for r in reasons if "RuntimeError" in r or "fatal" in r), reasons[0] if reasons else "see log")
    return (
        f"FFCV: `pip install ffcv` does not build here: `{reason}` (bench/.ffcv-build.log; its setup.py needs "
        "OpenCV and libturbojpeg found by pkg-config: Debian's libopencv-dev and libturbojpeg0-dev)."
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", nargs=3, metavar=("KIND", "ROOT", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, root, n = args.child
        result = {"torchvision": torchvision_child, "dali": dali_child, "ffcv": ffcv_child}[kind](root, int(n))
        print(json.dumps(result))
        return
    n = 600 if args.quick else 3000
    root = Path(tempfile.gettempdir()) / f"snd-bench-images-{n}"
    t = time.perf_counter()
    files = make_images(root, n)
    made = time.perf_counter() - t
    sizes = [f.stat().st_size for f in files]
    for f in files:  # into the page cache for every arm
        f.read_bytes()
    with tempfile.TemporaryDirectory() as work:
        floors = decode_floors(files, Path(work))
    print("floors", floors, file=sys.stderr, flush=True)
    tv = child("torchvision", root, n)
    print("torchvision", tv, file=sys.stderr, flush=True)
    simd = child("torchvision", root, n, SIMD_PYTHON) if SIMD_PYTHON.exists() else None
    print("pillow-simd", simd, file=sys.stderr, flush=True)
    dali = child("dali", root, n)
    print("dali", dali, file=sys.stderr, flush=True)
    ffcv_missing = ffcv_failure()
    ffcv = None if ffcv_missing else child("ffcv", root, n, FFCV_PYTHON)
    print("ffcv", ffcv or ffcv_missing, file=sys.stderr, flush=True)
    us = ours(root, n)
    print("ours", us, file=sys.stderr, flush=True)
    report(n, sizes, made, floors, tv, simd, dali, ffcv, ffcv_missing, us)


def report(n, sizes, made, floors, tv, simd, dali, ffcv, ffcv_missing, us) -> None:
    cpu_only = not dali["cuda_visible"] and not dali["dev_nvidia"]
    lines = run_header(
        "Image folders: JPEG decode + augment (`bench/bench_images.py`)",
        f"{THREADS} for every arm: ours `create_dataset(threads={THREADS})`; DALI `num_threads={THREADS}`; "
        f"torchvision `DataLoader(num_workers={THREADS}, persistent_workers=True, pin_memory=True)` (1 torch thread "
        f"per worker; no accelerator here, so pinning is skipped); decode floors {THREADS} threads",
        ["nvidia-dali-cuda120", "torch", "torchvision", "pillow", "simplejpeg", "PyTurboJPEG", "numpy"],
        extra=f"pillow-simd arm: Pillow {simd['pillow'] if simd else 'not installed'} in bench/.venv-simd "
        f"(built from source with -mavx2); libjpeg-turbo from Debian (libjpeg62-turbo). DALI ran CPU-only: "
        f"{'yes' if cpu_only else 'NO'} (pipelines built with `device_id=None`; torch.cuda.is_available() = "
        f"{dali['cuda_visible']}; /dev/nvidia*: {dali['dev_nvidia'] or 'none'}; output tensors "
        f"{dali['train_output'][0]} {dali['train_output'][1]} {dali['train_output'][2]}).",
    )
    lines += [
        f"{n} photo-like JPEGs (~500x375, q90, 4:2:0, mean {np.mean(sizes) / 1024:.0f} KiB) in {CLASSES} class "
        f"folders, page cache warm; batch {BATCH}, float32 NCHW normalised output. Every arm in its own process: one "
        f"warm-up epoch, then the **best of {EPOCHS} epochs**. *CPU s* is measured process CPU time over that epoch "
        "(ours, DALI, Python decoders: the whole process; torchvision: main process plus its 2 workers; C floors: "
        f"the child process). (Generating the images took {made:.0f} s, not timed.)",
        "",
    ]

    def row(label: str, r: dict, base: dict, note: str = "") -> str:
        return (
            f"| {label} | {r['rate']:,.0f} | {r['cpu_s']:.2f} | {r['per_cpu']:,.0f} | "
            f"{ratio_words(r['rate'], base['rate'])} | {note} |"
        )

    tvs = simd or tv
    lines += [
        "### Train: RandomResizedCrop 224 + flip + normalise",
        "",
        "| pipeline | images/s (wall) | CPU s per epoch | images per CPU-second | vs DALI (wall) | note |",
        "|---|---|---|---|---|---|",
        row("**ours**, `dct_scaling=False`", us["train"], dali["train"], "torchvision-identical output"),
        row("**ours**, DCT scaling (default)", us["train_dct"], dali["train"], "decodes the crop at 1/2-1/8 scale"),
        row("NVIDIA DALI, CPU", dali["train"], dali["train"], "`image_random_crop` decodes only the window"),
        row(f"FFCV {ffcv['version']}", ffcv["train"], dali["train"], "from its .beton (see below)") if ffcv else None,
        row("torchvision + pillow-simd", simd["train"], dali["train"])
        if simd
        else "| torchvision + pillow-simd | not installed | | | | |",
        row("torchvision + Pillow", tv["train"], dali["train"]),
        "",
        "Decode-only floors for the same files (no resize, no normalise, no batching):",
        "",
        "| floor | images/s (wall) | CPU s | images per CPU-second | ours as % of it (wall) |",
        "|---|---|---|---|---|",
    ]

    def floor_row(label: str, f: dict, o: dict) -> str:
        return f"| {label} | {f['rate']:,.0f} | {f['cpu_s']:.2f} | {f['per_cpu']:,.0f} | {o['rate'] / f['rate']:.0%} |"

    lines += [
        floor_row(
            "crop window at full scale, libjpeg-turbo (C): like-for-like for `dct_scaling=False`",
            floors["train"],
            us["train"],
        ),
        floor_row(
            "crop window at ours' DCT scale, libjpeg-turbo (C): like-for-like for DCT scaling",
            floors["train_dct"],
            us["train_dct"],
        ),
        floor_row("full image, libjpeg-turbo (C)", floors["full"], us["train"]),
        floor_row(
            f"full image, simplejpeg {version('simplejpeg')} (Python, {THREADS} threads)",
            floors["simplejpeg"],
            us["train"],
        ),
        floor_row(
            f"full image, PyTurboJPEG {version('PyTurboJPEG')} (Python, {THREADS} threads)",
            floors["pyturbojpeg"],
            us["train"],
        ),
        "",
        "(The last three rows compare ours, `dct_scaling=False`, with decoding every full image.)",
        "",
        "### Val: resize 256 + center crop 224 + normalise",
        "",
        "| pipeline | images/s (wall) | CPU s per epoch | images per CPU-second | vs DALI (wall) | note |",
        "|---|---|---|---|---|---|",
        row("**ours**, `dct_scaling=False`", us["val"], dali["val"]),
        row("**ours**, DCT scaling (default)", us["val_dct"], dali["val"]),
        row("NVIDIA DALI, CPU", dali["val"], dali["val"], "full decode, `resize_shorter=256`, crop"),
        row(f"FFCV {ffcv['version']}", ffcv["val"], dali["val"], "`CenterCropRGBImageDecoder`, ratio 224/256")
        if ffcv
        else None,
        row("torchvision + pillow-simd", simd["val"], dali["val"]) if simd else "",
        row("torchvision + Pillow", tv["val"], dali["val"]),
        "",
        f"Val decode floors: center window at full scale {floors['val']['rate']:,.0f} images/s (ours "
        f"`dct_scaling=False` {us['val']['rate'] / floors['val']['rate']:.0%} of it); at ours' DCT scale "
        f"{floors['val_dct']['rate']:,.0f} images/s "
        f"(ours with DCT scaling {us['val_dct']['rate'] / floors['val_dct']['rate']:.0%}).",
        "",
        "### Targets (issue 13), computed from the train table",
        "",
        target(
            "ours (`dct_scaling=False`, torchvision-identical output) vs DALI on CPU, same threads, same folder",
            us["train"]["rate"] / dali["train"]["rate"],
            ">=",
            2,
            "x",
        ),
        target(
            "ours (`dct_scaling=False`) vs torchvision + pillow-simd"
            + ("" if simd else " (pillow-simd missing: vs stock Pillow)"),
            us["train"]["rate"] / tvs["train"]["rate"],
            ">=",
            3,
            "x",
        ),
        f"- Per CPU-second (measured, independent of what else the shared machine ran): ours "
        f"{us['train']['per_cpu']:,.0f}, DALI {dali['train']['per_cpu']:,.0f} "
        f"({ratio_words(us['train']['per_cpu'], dali['train']['per_cpu'])}), torchvision + "
        f"{'pillow-simd' if simd else 'Pillow'} {tvs['train']['per_cpu']:,.0f} "
        f"({ratio_words(us['train']['per_cpu'], tvs['train']['per_cpu'])}).",
        f"- Where the time goes: ours (`dct_scaling=False`) spends {us['train']['cpu_s']:.2f} CPU s per epoch, of "
        f"which decoding the same crop windows takes {floors['train']['cpu_s']:.2f} CPU s in C "
        f"({floors['train']['cpu_s'] / us['train']['cpu_s']:.0%}); the rest is resampling, flip, normalise, "
        f"batching and handoff. With DCT scaling the decode takes {floors['train_dct']['cpu_s']:.2f} of "
        f"{us['train_dct']['cpu_s']:.2f} CPU s ({floors['train_dct']['cpu_s'] / us['train_dct']['cpu_s']:.0%}).",
        "",
        ffcv_missing
        or (
            f"FFCV ({FFCV_PYTHON.parent.parent.name}, pip `ffcv` {ffcv['version']} built against Debian's OpenCV): "
            "its documented ImageNet pipeline without the GPU steps: `RandomResizedCropRGBImageDecoder((224, 224))` + "
            "`RandomHorizontalFlip` + `NormalizeImage(float32)` + `ToTensor` + `ToTorchImage(channels_last=False)`, "
            f"`Loader(num_workers={THREADS}, os_cache=True)`, output {ffcv['train_output'][:3]}. Its .beton is "
            f"written from the same folder first (JPEG re-encoded at quality 90 by FFCV's writer: "
            f"{ffcv['size'] / n / 1024:.0f} KiB per image vs {np.mean(sizes) / 1024:.0f} KiB originals; "
            f"{ffcv['write_s']:.0f} s, not timed)."
        ),
    ]
    write_section("images", "\n".join(line for line in lines if line is not None))


if __name__ == "__main__":
    main()
