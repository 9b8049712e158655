#!/usr/bin/env python3
"""Benchmark: our JPEG image-folder pipeline vs torchvision ImageFolder + PIL + DataLoader.

A folder of photo-like JPEGs (about 500x375, quality 90, 4:2:0: crops of a real
photograph from matplotlib's sample data, re-coloured, rescaled and with
grain, so they decode like photos, not like flat colour) is loaded in one run by:

* ours: ``register_image_folder`` + ``create_dataset`` (core threads = cores),
  train = random_resized_crop 224 + flip + normalize, val = resize 256 +
  center_crop 224 + normalize; with and without DCT-domain scaling;
* torchvision: ``ImageFolder`` (PIL) + ``DataLoader(num_workers=2)`` with the
  same transforms (in a child process, so its forked workers never share a
  process with the Go runtime);
* decode only: a C program decoding every file at full size with
  libjpeg-turbo's TurboJPEG API (``tjDecompress2`` to RGB) on one thread per
  core, reading the files like the loaders do.

Files are read once before timing, so every contender reads from the page cache.

Usage: PYTHONPATH=python python3 bench/bench_images.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_section  # noqa: E402

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLASSES = 10
BATCH = 64

DECODE_C = r"""
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <turbojpeg.h>

static char **paths; static int n, next_i; static long pixels;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *work(void *arg) {
  tjhandle t = tjInitDecompress();
  unsigned char *buf = NULL, *out = NULL; size_t cap = 0, ocap = 0; long px = 0;
  for (;;) {
    pthread_mutex_lock(&mu); int i = next_i++; pthread_mutex_unlock(&mu);
    if (i >= n) break;
    FILE *f = fopen(paths[i], "rb"); fseek(f, 0, SEEK_END); long len = ftell(f); fseek(f, 0, SEEK_SET);
    if ((size_t)len > cap) { cap = len; buf = realloc(buf, cap); }
    if (fread(buf, 1, len, f) != (size_t)len) { fprintf(stderr, "short read\n"); exit(1); }
    fclose(f);
    int w, h, ss, cs;
    if (tjDecompressHeader3(t, buf, len, &w, &h, &ss, &cs)) { fprintf(stderr, "%s\n", tjGetErrorStr()); exit(1); }
    if ((size_t)w * h * 3 > ocap) { ocap = (size_t)w * h * 3; out = realloc(out, ocap); }
    if (tjDecompress2(t, buf, len, out, w, 0, h, TJPF_RGB, 0)) { fprintf(stderr, "%s\n", tjGetErrorStr()); exit(1); }
    px += (long)w * h;
  }
  pthread_mutex_lock(&mu); pixels += px; pthread_mutex_unlock(&mu);
  tjDestroy(t); free(buf); free(out); return NULL;
}

int main(int argc, char **argv) {
  int threads = atoi(argv[1]); n = argc - 2; paths = argv + 2;
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


def best(runs: list[tuple[float, float]]) -> dict[str, float]:
    """The best of several (images/s, images per CPU-second) measurements."""
    return {"rate": max(r for r, _ in runs), "per_cpu": max(c for _, c in runs)}


def decode_only(files: list[Path], threads: int, work: Path) -> dict[str, float]:
    src, exe = work / "decode.c", work / "decode"
    src.write_text(DECODE_C)
    subprocess.run(["cc", "-O2", "-o", str(exe), str(src), "-lturbojpeg", "-lpthread"], check=True)
    runs = []
    for _ in range(2):
        cpu = children_cpu()
        run = subprocess.run([str(exe), str(threads), *map(str, files)], check=True, capture_output=True, text=True)
        cpu = children_cpu() - cpu
        r = json.loads(run.stdout)
        runs.append((r["images"] / r["seconds"], r["images"] / cpu))
    return best(runs)


def epoch_rate(loader, n_expected: int) -> tuple[float, float]:
    """Images/s over one epoch and images per CPU-second of this process and its
    (joined) children: the second does not depend on what else the machine runs."""
    n, check = 0, 0.0
    cpu, kids = time.process_time(), children_cpu()
    t = time.perf_counter()
    it = iter(loader)
    for images, labels in it:
        n += len(labels)
        check += float(images[0, 0, 0, 0])
    del it, images, labels
    gc.collect()  # joins DataLoader workers, so their CPU time is counted
    dt = time.perf_counter() - t
    used = (time.process_time() - cpu) + (children_cpu() - kids)
    assert n == n_expected, (n, n_expected)
    return n / dt, n / used


def ours(root: Path, n: int, threads: int) -> dict[str, dict[str, float]]:
    from structure_net_data import create_dataset
    from structure_net_data.images import register_image_folder, set_image_options

    register_image_folder("bench_images", root, input_shape=(3, 224, 224), mean=MEAN, std=STD, replace=True)
    out = {}
    for dct in (True, False):
        set_image_options("bench_images", dct_scaling=dct)
        ds = create_dataset("bench_images", batch_size=BATCH, threads=threads, seed=0)
        train = ds["train_loader"]
        val_specs = ["resize", "center_crop", "normalize"]
        val = create_dataset("bench_images", batch_size=BATCH, threads=threads, seed=0, train_transform=val_specs)
        val = val["train_loader"]
        suffix = "" if dct else "_nodct"
        out["train" + suffix] = best([epoch_rate(train, n) for _ in range(2)])
        out["val" + suffix] = best([epoch_rate(val, n) for _ in range(2)])
    return out


def torchvision_rates(root: str, n: int, workers: int) -> dict[str, dict[str, float]]:
    import torch
    import torchvision.transforms as T
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder

    torch.set_num_threads(1)
    norm = [T.ToTensor(), T.Normalize(MEAN, STD)]
    out = {}
    for name, tf, shuffle in (
        ("train", T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), *norm]), True),
        ("val", T.Compose([T.Resize(256), T.CenterCrop(224), *norm]), False),
    ):
        loader = DataLoader(ImageFolder(root, transform=tf), batch_size=BATCH, shuffle=shuffle, num_workers=workers)
        out[name] = best([epoch_rate(loader, n) for _ in range(2)])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--torchvision-child", nargs=2, metavar=("ROOT", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    workers = 2
    if args.torchvision_child:
        root, n = args.torchvision_child
        print(json.dumps(torchvision_rates(root, int(n), workers)))
        return
    n = 600 if args.quick else 3000
    threads = os.cpu_count() or 2
    root = Path(tempfile.gettempdir()) / f"snd-bench-images-{n}"
    t = time.perf_counter()
    files = make_images(root, n)
    made = time.perf_counter() - t
    sizes = [f.stat().st_size for f in files]
    for f in files:  # into the page cache for every contender
        f.read_bytes()
    with tempfile.TemporaryDirectory() as work:
        decode = decode_only(files, threads, Path(work))
    child = [sys.executable, __file__, "--torchvision-child", str(root), str(n)]
    tv = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout)
    us = ours(root, n, threads)

    def row(label: str, r: dict[str, float], note: str = "") -> str:
        cores = r["per_cpu"] * threads
        return (
            f"| {label} | {r['rate']:,.0f} | {cores:,.0f} | {cores / (tv['train']['per_cpu'] * threads):.2f}x | "
            f"{r['per_cpu'] / decode['per_cpu']:.0%} | {note} |"
        )

    tr, dec, tvt = us["train"]["per_cpu"], decode["per_cpu"], tv["train"]["per_cpu"]
    md = textwrap.dedent(
        f"""\
        ## Image folders: JPEG decode + augment (`bench/bench_images.py`)

        {n} photo-like JPEGs (~500x375, q90, mean {np.mean(sizes) / 1024:.0f} KiB) in {CLASSES} class folders,
        page cache warm, one epoch (best of two), batch {BATCH}, float32 NCHW output.
        Machine: {machine()}. Ours uses {threads} core threads; torchvision `DataLoader(num_workers={workers})`.

        "images/s (wall)" is wall-clock throughput in this run. The machine is shared, so it also reports
        images per CPU-second (ours: all threads of the process; torchvision: main process plus its
        workers; decode-only: the C program) times {threads} cores, the rate on {threads} dedicated cores.
        Ratios use that column.

        | pipeline | images/s (wall) | images/s, {threads} cores (CPU) | vs torchvision train | vs decode-only | note |
        |---|---|---|---|---|---|
        {row("decode only, libjpeg-turbo `tjDecompress2` full size", decode, f"{threads} threads, C")}
        {row("**ours, train** (random_resized_crop 224 + flip + normalize)", us["train"], "region decode, DCT scaling")}
        {row("ours, train, `dct_scaling=False`", us["train_nodct"], "torchvision semantics (see tests)")}
        {row("torchvision train (ImageFolder + PIL + DataLoader)", tv["train"], "same transforms")}
        {row("**ours, val** (resize 256 + center_crop 224 + normalize)", us["val"], "")}
        {row("ours, val, `dct_scaling=False`", us["val_nodct"], "")}
        {row("torchvision val", tv["val"], "")}

        Ratios (CPU column): train **{tr / tvt:.2f}x** torchvision (target >= 2x) and **{tr / dec:.0%}** of the
        decode-only rate (target >= 70%); val **{us["val"]["per_cpu"] / tv["val"]["per_cpu"]:.2f}x** torchvision.
        Wall clock in this run: train {us["train"]["rate"] / tv["train"]["rate"]:.2f}x torchvision and
        {us["train"]["rate"] / decode["rate"]:.0%} of decode-only.
        Ours crops before decoding (libjpeg-turbo decodes only the rows and iMCU columns the crop needs) and
        resamples with Pillow's fixed-point bilinear filter in C; torchvision decodes every full image in PIL.
        (Generating the images took {made:.0f} s and is not timed.)
        """
    )
    write_section("images", md)


if __name__ == "__main__":
    main()
