"""ImageNet laid out as people really have it, small: Kaggle's download and
torchvision's devkit route. Used by the Python tests (import) and the Go
tests (``python3 imagenet_layouts.py devkit|kaggle OUT``).

* ``kaggle(top)``: what Kaggle's "ImageNet Object Localization Challenge"
  archive unpacks to: ``ILSVRC/Data/CLS-LOC/{train,val,test}`` with
  ``LOC_synset_mapping.txt``, ``LOC_val_solution.csv`` (and the train and
  sample-submission CSVs) beside ``ILSVRC/``.
* ``devkit(root)``: the torchvision ImageNet root: ``train/<wnid>/``, a flat
  ``val/``, ``ILSVRC2012_devkit_t12.tar.gz`` (and its unpacked folder) whose
  ``data/meta.mat`` is written with scipy.io.savemat in the devkit's
  structure (synsets in ILSVRC2012_ID order, not wnid order, inner synsets
  with children among them), and ``meta.bin`` written by torchvision's own
  ``parse_devkit_archive``.

Both return (and write as ``expected.json``) what torchvision says the labels
are, so tests compare against torchvision, not against themselves.
"""

from __future__ import annotations

import io
import json
import random
import sys
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

# The first leaf synsets of the real devkit, in ILSVRC2012_ID order (1, 2, ...),
# with their words; sorted by wnid they come in a different order.
LEAVES = [
    ("n02119789", "kit fox, Vulpes macrotis"),
    ("n02100735", "English setter"),
    ("n02110185", "Siberian husky"),
    ("n02096294", "Australian terrier"),
    ("n02102040", "English springer, English springer spaniel"),
    ("n02066245", "grey whale, gray whale, devilfish, Eschrichtius gibbosus, Eschrichtius robustus"),
    ("n02509815", "lesser panda, red panda, panda, bear cat, cat bear, Ailurus fulgens"),
    ("n02124075", "Egyptian cat"),
    ("n02417914", "ibex, Capra ibex"),
    ("n02123394", "Persian cat"),
    ("n01440764", "tench, Tinca tinca"),
    ("n01443537", "goldfish, Carassius auratus"),
]
# Inner nodes of the hierarchy (num_children != 0): never classes.
INNER = [
    ("n02075296", "carnivore", [1, 2, 3, 4, 5, 8, 10]),
    ("n01317541", "domestic animal, domesticated animal", [2, 3, 8, 10]),
    ("n00015388", "animal, animate being, beast, brute, creature, fauna", [1001, 1002, 6, 7, 9, 11, 12]),
]


def _jpeg(path: Path, seed: int, size: tuple[int, int] = (48, 40)) -> None:
    rng = np.random.default_rng(seed)
    h, w = size[1], size[0]
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * (3 + c) + y * (5 - c) + seed * 17) % 256 for c in range(3)], axis=-1).astype(np.float64)
    img += rng.normal(0, 12, img.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=90)


def _val_labels(n_val: int, n_classes: int, seed: int) -> list[int]:
    """The 1-based ILSVRC2012_ID of each validation image, every class used."""
    rng = random.Random(seed)
    ids = [1 + i % n_classes for i in range(n_val)]
    rng.shuffle(ids)
    return ids


def write_meta_mat(path: Path, n_classes: int, compress: bool = True) -> None:
    """meta.mat as in ILSVRC2012_devkit_t12/data: a (N, 1) struct array 'synsets'
    with the devkit's eight fields: the leaves (ILSVRC2012_ID 1..n, not in wnid
    order) and the inner synsets (1001..., num_children != 0), one of them
    placed among the leaves so that array position and id differ."""
    import scipy.io as sio

    fields = [
        "ILSVRC2012_ID",
        "WNID",
        "words",
        "gloss",
        "num_children",
        "children",
        "wordnet_height",
        "num_train_images",
    ]
    rows = []
    for i, (wnid, words) in enumerate(LEAVES[:n_classes]):
        rows.append((i + 1, wnid, words, f"gloss of {words.split(',')[0]}", 0, np.zeros((1, 0)), 0, 1300 - i))
    for j, (wnid, words, children) in enumerate(INNER):
        kids = [c for c in children if c <= n_classes or c > 1000]
        inner = (1001 + j, wnid, words, f"gloss of {words}", len(kids), np.array([kids], dtype=np.float64), 2 + j, 0)
        # The first inner synset sits among the leaves: array position is not the id.
        rows.insert(n_classes // 2, inner) if j == 0 else rows.append(inner)
    synsets = np.zeros((len(rows), 1), dtype=[(f, "O") for f in fields])
    for i, r in enumerate(rows):
        synsets[i, 0] = r
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.savemat(path, {"synsets": synsets}, do_compression=compress)


def devkit(root: Path, n_classes: int = 6, n_val: int = 14, train_per_class: int = 2, seed: int = 0) -> dict:
    """A torchvision ImageNet root with the devkit (folder and tarball) and meta.bin."""
    import torch
    import torchvision.datasets.imagenet as tv_imagenet

    root = Path(root)
    kit = root / "ILSVRC2012_devkit_t12"
    write_meta_mat(kit / "data" / "meta.mat", n_classes)
    ids = _val_labels(n_val, n_classes, seed)
    (kit / "data" / "ILSVRC2012_validation_ground_truth.txt").write_text("".join(f"{i}\n" for i in ids))
    (kit / "readme.txt").write_text("ILSVRC2012 development kit (test copy)\n")
    (kit / "evaluation").mkdir(exist_ok=True)
    (kit / "evaluation" / "demo.val.pred.txt").write_text("1 2 3 4 5\n")
    with tarfile.open(root / "ILSVRC2012_devkit_t12.tar.gz", "w:gz") as tar:
        tar.add(kit, arcname="ILSVRC2012_devkit_t12")
    # torchvision's own parser writes meta.bin (its checksum check is for the
    # real tarball, so it is switched off for this small one).
    verify = tv_imagenet._verify_archive
    tv_imagenet._verify_archive = lambda *args, **kwargs: None
    try:
        tv_imagenet.parse_devkit_archive(str(root))
    finally:
        tv_imagenet._verify_archive = verify
    wnid_to_classes, val_wnids = torch.load(root / "meta.bin", weights_only=True)
    legacy = io.BytesIO()
    torch.save((wnid_to_classes, val_wnids), legacy, _use_new_zipfile_serialization=False)
    (root / "meta-legacy.bin").write_bytes(legacy.getvalue())

    wnids = sorted(wnid_to_classes)
    for ci, wnid in enumerate(wnids):
        for k in range(train_per_class):
            _jpeg(root / "train" / wnid / f"{wnid}_{10026 + k}.JPEG", seed * 1000 + ci * 10 + k)
    for n in range(1, n_val + 1):
        _jpeg(root / "val" / f"ILSVRC2012_val_{n:08d}.JPEG", seed * 1000 + 500 + n)
    expected = {
        "classes": wnids,
        "class_names": [", ".join(wnid_to_classes[w]) for w in wnids],
        "val_files": [f"ILSVRC2012_val_{n:08d}.JPEG" for n in range(1, n_val + 1)],
        "val_labels": [wnids.index(w) for w in val_wnids],
        "train_labels": [ci for ci in range(len(wnids)) for _ in range(train_per_class)],
    }
    (root / "expected.json").write_text(json.dumps(expected))
    return expected


def kaggle(top: Path, n_classes: int = 5, n_val: int = 12, train_per_class: int = 2, seed: int = 0) -> dict:
    """Kaggle's ILSVRC download: data under ILSVRC/Data/CLS-LOC, CSVs beside ILSVRC/."""
    top = Path(top)
    cls_loc = top / "ILSVRC" / "Data" / "CLS-LOC"
    mapping = sorted(LEAVES)  # LOC_synset_mapping.txt lists all classes sorted by wnid
    (top / "LOC_synset_mapping.txt").parent.mkdir(parents=True, exist_ok=True)
    (top / "LOC_synset_mapping.txt").write_text("".join(f"{w} {n}\n" for w, n in mapping))
    wnids = [w for w, _ in mapping]
    used = [w for w, _ in LEAVES[:n_classes]]  # a partial download: some classes only
    rng = random.Random(seed)
    train_rows = ["ImageId,PredictionString"]
    for ci, wnid in enumerate(used):
        for k in range(train_per_class):
            image_id = f"{wnid}_{10026 + 7 * k}"
            _jpeg(cls_loc / "train" / wnid / f"{image_id}.JPEG", seed * 1000 + ci * 10 + k)
            train_rows.append(f"{image_id},{wnid} 12 40 300 260 ")
    val_rows = ["ImageId,PredictionString"]
    val_wnids = []
    for n in range(1, n_val + 1):
        wnid = used[(n * 7 + seed) % len(used)]
        val_wnids.append(wnid)
        _jpeg(cls_loc / "val" / f"ILSVRC2012_val_{n:08d}.JPEG", seed * 1000 + 500 + n)
        boxes = " ".join(
            f"{wnid} {rng.randrange(0, 40)} {rng.randrange(0, 40)} {rng.randrange(60, 400)} {rng.randrange(60, 300)}"
            for _ in range(1 + n % 2)
        )
        val_rows.append(f"ILSVRC2012_val_{n:08d},{boxes} ")
    rows = val_rows[1:]
    rng.shuffle(rows)  # Kaggle's solution file is not in image order
    (top / "LOC_val_solution.csv").write_text("\n".join([val_rows[0], *rows]) + "\n")
    (top / "LOC_train_solution.csv").write_text("\n".join(train_rows) + "\n")
    (top / "LOC_sample_submission.csv").write_text(
        "ImageId,PredictionString\nILSVRC2012_test_00000001,n01440764 0 0 1 1\n"
    )
    for n in range(1, 4):  # the test split: no labels anywhere
        _jpeg(cls_loc / "test" / f"ILSVRC2012_test_{n:08d}.JPEG", seed * 1000 + 900 + n)
    expected = {
        "classes": wnids,
        "class_names": [n for _, n in mapping],
        "val_files": [f"ILSVRC2012_val_{n:08d}.JPEG" for n in range(1, n_val + 1)],
        "val_labels": [wnids.index(w) for w in val_wnids],
        "train_labels": [wnids.index(w) for w in sorted(used) for _ in range(train_per_class)],
    }
    (top / "expected.json").write_text(json.dumps(expected))
    return expected


if __name__ == "__main__":
    kind, out = sys.argv[1], Path(sys.argv[2])
    {"devkit": devkit, "kaggle": kaggle}[kind](out)
