"""Image folders: ImageNet layout, custom trees, torchvision parity, resume, bad images, packs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image
from structure_net_data import create_dataset, errors
from structure_net_data.config import get_dataset_config, unregister_dataset
from structure_net_data.images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    apply_transforms,
    open_image_folder,
    prepare_dataset,
    register_image_folder,
    set_image_options,
)
from structure_net_data.loader import BatchLoader

WNIDS = ["n01440764", "n01443537", "n01484850", "n01491361", "n01494475"]
NAMES = ["tench, Tinca tinca", "goldfish, Carassius auratus", "great white shark", "tiger shark", "hammerhead"]


def textured(w: int, h: int, seed: int) -> Image.Image:
    """A photo-like RGB image: sums of oriented waves plus noise (not flat colour)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.full((h, w, 3), 128, np.float32)
    for c in range(3):
        for _ in range(5):
            fx, fy = rng.uniform(0.01, 0.2, 2)
            img[..., c] += np.sin(x * fx + y * fy + rng.uniform(0, 6.28)) * rng.uniform(10, 35)
    img += rng.normal(0, 10, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def save(img: Image.Image, path: Path, kind: str) -> None:
    """Writes one image in a given flavour: rgb, gray, cmyk, progressive, png, png_as_jpeg."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "gray":
        img.convert("L").save(path, "JPEG", quality=90)
    elif kind == "cmyk":
        img.convert("CMYK").save(path, "JPEG", quality=90)
    elif kind == "progressive":
        img.save(path, "JPEG", quality=88, progressive=True)
    elif kind in ("png", "png_as_jpeg"):
        img.save(path, "PNG")
    else:
        img.save(path, "JPEG", quality=90)


KINDS = ["rgb", "gray", "cmyk", "progressive", "rgb", "png_as_jpeg"]
SIZES = [(320, 240), (200, 300), (257, 257), (300, 181), (240, 320), (150, 100)]


def make_tree(root: Path, classes: list[str], per_class: int, seed: int = 0) -> list[tuple[Path, str]]:
    """root/<class>/<i>.JPEG in varied modes and sizes; returns (path, class) in file order."""
    out = []
    for ci, cls in enumerate(classes):
        for i in range(per_class):
            k = (ci * per_class + i) % len(KINDS)
            w, h = SIZES[(ci + 2 * i) % len(SIZES)]
            path = root / cls / f"img_{i:03d}.JPEG"
            save(textured(w, h, seed * 1000 + ci * 100 + i), path, KINDS[k])
            out.append((path, cls))
    return out


@pytest.fixture
def imagenet(tmp_path: Path) -> dict:
    """An ImageNet-style tree: 3 of the 5 mapped classes, train and val in class folders."""
    data = tmp_path / "data"
    root = data / "imagenet"
    classes = [WNIDS[0], WNIDS[2], WNIDS[4]]
    train = make_tree(root / "train", classes, 6, seed=1)
    val = make_tree(root / "val", classes, 2, seed=2)
    (root / "LOC_synset_mapping.txt").write_text("".join(f"{w} {n}\n" for w, n in zip(WNIDS, NAMES, strict=True)))
    (root / "train" / WNIDS[0] / "notes.txt").write_text("not an image")
    return {"data_dir": data, "root": root, "train": train, "val": val}


def torchvision_batch(paths: list[Path], tf) -> torch.Tensor:
    return torch.stack([tf(Image.open(p).convert("RGB")) for p in paths])


def epoch(loader) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x.clone(), y.clone()) for x, y in loader]


# ---- ImageNet through create_dataset ------------------------------------------


def test_imagenet_create_dataset_subset(imagenet: dict) -> None:
    ds = create_dataset("imagenet", subset_size=8, batch_size=4, data_dir=imagenet["data_dir"], seed=3)
    images, labels = next(iter(ds["train_loader"]))
    assert images.shape == (4, 3, 224, 224) and images.dtype == torch.float32
    assert len(ds["train_loader"]) == 2 and len(ds["train_loader"].dataset) == 8
    # Labels are indices into the sorted wnids of LOC_synset_mapping.txt: 0, 2 and 4 here.
    assert set(labels.tolist()) <= {0, 2, 4}
    assert ds["num_classes"] == 1000
    dataset = ds["train_loader"]._dataset
    assert dataset.classes == WNIDS and dataset.class_names == NAMES
    assert dataset.train_samples == 18 and dataset.test_samples == 6


def test_guide_call_with_data_dir_from_the_environment(imagenet: dict) -> None:
    """The guide's call, verbatim, in a fresh process with DATA_DIR pointing at the tree."""
    code = (
        "from data_factory import create_dataset\n"
        "ds = create_dataset('imagenet', subset_size=8, batch_size=4)\n"
        "x, y = next(iter(ds['train_loader']))\n"
        "print(tuple(x.shape), len(ds['train_loader']), ds['num_classes'])\n"
    )
    env = dict(os.environ, DATA_DIR=str(imagenet["data_dir"]))
    package = str(Path(__file__).resolve().parents[2] / "python")
    env["PYTHONPATH"] = os.pathsep.join([package, env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "(4, 3, 224, 224) 2 1000"


def test_imagenet_val_matches_torchvision_exactly(imagenet: dict) -> None:
    ds = create_dataset("imagenet", batch_size=6, data_dir=imagenet["data_dir"], seed=0)
    got = torch.cat([x for x, _ in ds["test_loader"]])
    labels = torch.cat([y for _, y in ds["test_loader"]])
    tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    want = torchvision_batch([p for p, _ in imagenet["val"]], tf)
    assert torch.equal(got, want), f"max diff {(got - want).abs().max()}"
    assert labels.tolist() == [WNIDS.index(c) for _, c in imagenet["val"]]


def test_missing_imagenet_names_the_places_looked(tmp_path: Path) -> None:
    with pytest.raises(errors.NotFoundError, match="imagenet"):
        create_dataset("imagenet", data_dir=tmp_path)


def test_flat_val_with_kaggle_solution_file(imagenet: dict) -> None:
    val = imagenet["root"] / "val"
    rows = ["ImageId,PredictionString"]
    for i, (path, cls) in enumerate(imagenet["val"]):
        target = val / f"ILSVRC2012_val_{i:08d}.JPEG"
        path.rename(target)
        rows.append(f"{target.stem},{cls} 1 2 3 4")
    for cls in {c for _, c in imagenet["val"]}:
        (val / cls).rmdir()
    (imagenet["root"] / "LOC_val_solution.csv").write_text("\n".join(rows) + "\n")
    d = open_image_folder("imagenet", data_dir=imagenet["data_dir"])
    try:
        assert d.test_samples == 6
        loader = BatchLoader(d, "test", batch_size=6, shuffle=False, seed=0)
        _, labels = next(iter(loader))
        assert labels.tolist() == [WNIDS.index(c) for _, c in imagenet["val"]]
        loader.close()
    finally:
        d.close()


# ---- transforms against torchvision ------------------------------------------------


@pytest.mark.parametrize("kind", ["rgb", "gray", "cmyk", "progressive", "png"])
def test_random_resized_crop_and_flip_match_torchvision(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "img"
    save(textured(333, 251, 7), path, kind)
    specs = ["random_resized_crop", {"name": "random_horizontal_flip", "p": 0.5}, "normalize"]
    flips = set()
    for seed in range(6):
        got, steps = apply_transforms(path, specs, seed=seed)
        rrc, flip = steps[0], steps[1].get("flip", False)
        flips.add(flip)
        img = F.resized_crop(
            Image.open(path).convert("RGB"), rrc["top"], rrc["left"], rrc["height"], rrc["width"], [224, 224]
        )
        if flip:
            img = F.hflip(img)
        want = F.normalize(F.to_tensor(img), IMAGENET_MEAN, IMAGENET_STD)
        assert torch.equal(got, want), f"seed {seed}: max diff {(got - want).abs().max()}"
    assert flips == {True, False}


def test_large_crops_are_within_one_grey_level_of_pillow_13(tmp_path: Path) -> None:
    """Shrinking both axes, Pillow 13 sometimes runs its vertical pass first (its own cost
    rule); we always go horizontal first there, as Pillow <= 12 did. The uint8 between the
    passes then rounds differently on some pixels, by one grey level at most."""
    path = tmp_path / "img.jpg"
    save(textured(500, 375, 3), path, "rgb")
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    exact = 0
    for seed in range(40):
        got, steps = apply_transforms(path, ["random_resized_crop", "normalize"], seed=seed)
        r = steps[0]
        img = F.resized_crop(Image.open(path).convert("RGB"), r["top"], r["left"], r["height"], r["width"], [224, 224])
        want = F.normalize(F.to_tensor(img), IMAGENET_MEAN, IMAGENET_STD)
        assert ((got - want) * std * 255).abs().max().item() < 1.01
        exact += torch.equal(got, want)
    assert exact >= 30


@pytest.mark.parametrize(
    ("specs", "tv"),
    [
        ([{"name": "resize", "size": [100, 77]}], T.Resize((100, 77))),
        (
            [{"name": "resize", "size": 64, "max_size": 80}, {"name": "center_crop", "size": 60}],
            T.Compose([T.Resize(64, max_size=80), T.CenterCrop(60)]),
        ),
        ([{"name": "center_crop", "size": [400, 50]}], T.CenterCrop((400, 50))),  # taller than the image: zero padding
        (
            [{"name": "resize", "size": 500}, {"name": "center_crop", "size": 450}],
            T.Compose([T.Resize(500), T.CenterCrop(450)]),
        ),
    ],
)
def test_deterministic_transforms_match_torchvision(tmp_path: Path, specs: list, tv) -> None:
    path = tmp_path / "img.jpg"
    save(textured(331, 247, 11), path, "rgb")
    got, _ = apply_transforms(path, [*specs, "normalize"])
    want = F.normalize(F.to_tensor(tv(Image.open(path).convert("RGB"))), IMAGENET_MEAN, IMAGENET_STD)
    assert got.shape == want.shape
    assert torch.equal(got, want), f"max diff {(got - want).abs().max()}"


def test_random_crop_with_padding_matches_torchvision(tmp_path: Path) -> None:
    path = tmp_path / "img.png"
    save(textured(40, 36, 5), path, "png")
    seen = set()
    for seed in range(8):
        got, steps = apply_transforms(path, [{"name": "random_crop", "size": 32, "padding": 6}, "normalize"], seed=seed)
        top, left = steps[0].get("top", 0), steps[0].get("left", 0)
        seen.add((top, left))
        padded = F.pad(Image.open(path).convert("RGB"), 6)
        want = F.normalize(F.to_tensor(F.crop(padded, top + 6, left + 6, 32, 32)), IMAGENET_MEAN, IMAGENET_STD)
        assert torch.equal(got, want)
    assert len(seen) > 1 and any(t < 0 or left < 0 for t, left in seen)  # some crops reach into the padding


def test_dct_scaling_is_close_to_torchvision_on_large_images(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    save(textured(1600, 1200, 3), path, "rgb")
    specs = ["resize", "center_crop", "normalize"]
    exact, _ = apply_transforms(path, specs, dct_scaling=False)
    fast, _ = apply_transforms(path, specs, dct_scaling=True)
    tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    want = tf(Image.open(path).convert("RGB"))
    assert torch.equal(exact, want)
    # 1/4-scale DCT decode then resize: not bit-exact, but within a few grey levels on average.
    assert not torch.equal(fast, want)
    assert (fast - want).abs().mean().item() * 0.226 * 255 < 3


def test_bad_transform_parameters_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "img.jpg"
    save(textured(64, 64, 1), path, "rgb")
    with pytest.raises(errors.InvalidArgumentError, match="unknown parameter"):
        apply_transforms(path, [{"name": "center_crop", "sise": 3}])
    with pytest.raises(errors.InvalidArgumentError, match="unknown transform"):
        apply_transforms(path, ["rotate"])
    with pytest.raises(errors.InvalidArgumentError, match="fixed size"):
        apply_transforms(path, ["resize"], size=(0, 0))


# ---- custom folders, per-call transforms, torchvision lists ------------------------------


@pytest.fixture
def pets(tmp_path: Path):
    root = tmp_path / "pets"
    make_tree(root, ["cat", "dog"], 5, seed=4)
    (root / "cat" / "nested").mkdir()
    save(textured(90, 70, 99), root / "cat" / "nested" / "deep.jpg", "rgb")
    (root / "empty_class").mkdir()
    (root / ".hidden").mkdir()
    (root / "dog" / "loop").symlink_to(root / "dog")  # a symlink loop must not hang the scan
    (root / "dog" / "readme.md").write_text("x")
    yield root
    for name in ("pets", "pets_skip"):
        try:
            unregister_dataset(name)
        except errors.NotFoundError:
            pass


def test_register_image_folder_matches_torchvision_image_folder(pets: Path) -> None:
    from torchvision.datasets import ImageFolder

    cfg = register_image_folder("pets", pets, input_shape=(3, 64, 64))
    assert cfg.num_classes == 3 and cfg.num_train_samples == 11 and cfg.num_test_samples == 0
    assert get_dataset_config("pets").metadata["classes"] == ["cat", "dog", "empty_class"]
    ds = create_dataset("pets", batch_size=11, shuffle=False, seed=0, test_transform=None)
    images, labels = next(iter(ds["train_loader"]))
    assert ds["test_loader"] is None
    # torchvision's ImageFolder lists the same files in the same order (it would refuse the
    # empty class and follow the loop forever, so compare against its make_dataset on the
    # two real classes).
    ref = ImageFolder.make_dataset(str(pets), {"cat": 0, "dog": 1}, extensions=(".jpeg", ".jpg", ".png"))
    ref = [r for r in ref if "/loop/" not in r[0]]
    assert labels.tolist() == [t for _, t in ref]
    assert images.shape == (11, 3, 64, 64)


def test_per_call_transforms_and_torchvision_lists(pets: Path) -> None:
    register_image_folder("pets", pets, input_shape=(3, 64, 64))
    ds = create_dataset(
        "pets",
        batch_size=4,
        seed=1,
        train_transform=[
            {"name": "random_resized_crop", "size": 48, "scale": [0.5, 1.0]},
            "random_horizontal_flip",
            "normalize",
        ],
    )
    images, _ = next(iter(ds["train_loader"]))
    assert images.shape == (4, 3, 48, 48)
    assert ds["train_loader"].transforms[0].startswith("random_resized_crop")
    custom = T.Compose(
        [T.RandomRotation(15), T.ColorJitter(brightness=0.2), T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)]
    )
    ds = create_dataset("pets", batch_size=4, seed=1, train_transform=custom)
    images, _ = next(iter(ds["train_loader"]))
    assert images.shape == (4, 3, 64, 64)  # fitted to input_shape, then the torchvision steps
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.std() > 0.05


# ---- determinism and resume -------------------------------------------------------------


def test_batches_do_not_depend_on_thread_count_and_resume_exactly(imagenet: dict) -> None:
    d = open_image_folder("imagenet", data_dir=imagenet["data_dir"])
    try:

        def loader(threads: int) -> BatchLoader:
            return BatchLoader(d, "train", batch_size=4, shuffle=True, seed=42, threads=threads)

        one, two = epoch(loader(1)), epoch(loader(2))
        assert len(one) == 5
        for (a, la), (b, lb) in zip(one, two, strict=True):
            assert torch.equal(a, b) and torch.equal(la, lb)
        other = epoch(BatchLoader(d, "train", batch_size=4, shuffle=True, seed=43, threads=2))
        assert not torch.equal(one[0][0], other[0][0])

        first = loader(2)
        it = iter(first)
        for _ in range(2):
            next(it)
        state = first.state_dict()
        resumed = loader(2)
        resumed.load_state_dict(state)
        rest = epoch(resumed)
        assert len(rest) == 3
        for (a, la), (b, lb) in zip(rest, one[2:], strict=True):
            assert torch.equal(a, b) and torch.equal(la, lb)
    finally:
        d.close()


# ---- bad images ---------------------------------------------------------------------------


@pytest.fixture
def broken(pets: Path) -> dict:
    good = sorted((pets / "cat").glob("*.JPEG"))
    zero = pets / "cat" / "img_000.JPEG"
    zero.write_bytes(b"")
    truncated = pets / "dog" / "img_001.JPEG"
    truncated.write_bytes(truncated.read_bytes()[:1500])
    garbage = pets / "dog" / "img_003.JPEG"
    garbage.write_bytes(b"this is not an image at all")
    return {"bad": {str(zero), str(truncated), str(garbage)}, "good": good}


def test_bad_image_raises_naming_the_file(pets: Path, broken: dict) -> None:
    register_image_folder("pets", pets, input_shape=(3, 32, 32))
    ds = create_dataset("pets", batch_size=11, shuffle=False, seed=0)
    with pytest.raises(errors.CorruptDataError) as e:
        next(iter(ds["train_loader"]))
    assert str(e.value).split(":")[0] in broken["bad"]


def test_on_error_skip_replaces_bad_images_and_counts_them(pets: Path, broken: dict) -> None:
    register_image_folder("pets_skip", pets, input_shape=(3, 32, 32), on_error="skip")
    d = open_image_folder("pets_skip")
    try:
        batches = [epoch(BatchLoader(d, "train", batch_size=4, shuffle=True, seed=s)) for s in (5, 5)]
        sizes = [len(y) for _, y in batches[0]]
        assert sizes == [4, 4, 3]  # batch composition is kept: a bad image is replaced, not dropped
        for (a, la), (b, lb) in zip(*batches, strict=True):
            assert torch.equal(a, b) and torch.equal(la, lb)  # and the replacement is deterministic
        assert set(d.skipped_files()) == broken["bad"]
        assert d.info()["skipped_files"] == 3
    finally:
        d.close()
    # The same dataset with the default policy refuses; set_image_options switches it.
    set_image_options("pets_skip", on_error="raise")
    with pytest.raises(errors.CorruptDataError):
        epoch(create_dataset("pets_skip", batch_size=4, seed=0)["train_loader"])


# ---- prepared packs -----------------------------------------------------------------------


def test_prepare_dataset_writes_a_pack_the_loader_uses(imagenet: dict, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    packs = prepare_dataset("imagenet", max_side=128, data_dir=imagenet["data_dir"], cache_dir=cache, progress=False)
    assert set(packs) == {"train", "test"} and all(os.path.getsize(p) > 0 for p in packs.values())
    d = open_image_folder("imagenet", data_dir=imagenet["data_dir"], cache_dir=cache)
    try:
        assert d.from_cache and d.info()["train_pack"]["max_side"] == 128
        loader = BatchLoader(
            d, "test", batch_size=6, shuffle=False, seed=0, transforms=["resize", "center_crop", "normalize"]
        )
        got, labels = next(iter(loader))
        assert labels.tolist() == [WNIDS.index(c) for _, c in imagenet["val"]]

        # The pack holds the images shrunk to a longer side of 128 (Pillow bilinear), re-encoded at q90.
        def shrink(img: Image.Image) -> Image.Image:
            w, h = img.size
            s = 128 / max(w, h)
            return img.resize((round(w * s), round(h * s)), Image.BILINEAR) if s < 1 else img

        tf = T.Compose(
            [shrink, T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
        )
        want = torchvision_batch([p for p, _ in imagenet["val"]], tf)
        assert (got - want).abs().mean().item() * 0.226 * 255 < 4  # JPEG re-encoding only
        loader.close()
    finally:
        d.close()
    # A changed folder makes the pack stale: the folder is scanned again.
    save(textured(100, 100, 1), imagenet["root"] / "train" / WNIDS[0] / "new.JPEG", "rgb")
    d = open_image_folder("imagenet", data_dir=imagenet["data_dir"], cache_dir=cache)
    try:
        assert d.train_samples == 19 and "train_pack" not in d.info()
    finally:
        d.close()


# ---- ImageNet as people really have it: Kaggle's download, torchvision's devkit route ----------


def _layouts():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import imagenet_layouts

    return imagenet_layouts


def _labels_in_order(d, split: str) -> list[int]:
    loader = BatchLoader(d, split, batch_size=64, shuffle=False, seed=0, transforms=["resize", "center_crop"])
    try:
        return [int(y) for _, labels in loader for y in labels]
    finally:
        loader.close()


@pytest.mark.parametrize("level", ["top", "ILSVRC", "CLS-LOC"])
def test_kaggle_download_opens_with_data_dir_at_any_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, level: str
) -> None:
    top = tmp_path / "imagenet-object-localization-challenge"
    want = _layouts().kaggle(top)
    data_dir = {"top": top, "ILSVRC": top / "ILSVRC", "CLS-LOC": top / "ILSVRC" / "Data" / "CLS-LOC"}[level]
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    ds = create_dataset("imagenet", batch_size=5, shuffle=False, seed=0)
    dataset = ds["test_loader"]._dataset
    assert dataset.root == str(top / "ILSVRC" / "Data" / "CLS-LOC")
    assert dataset.classes == want["classes"] and dataset.class_names == want["class_names"]
    assert [int(y) for _, labels in ds["test_loader"] for y in labels] == want["val_labels"]
    assert [int(y) for _, labels in ds["train_loader"] for y in labels] == want["train_labels"]
    info = dataset.info()
    assert info["test_dir"].endswith("CLS-LOC/val")  # never the unlabelled test/ folder
    assert info["test_labels"] == str(top / "LOC_val_solution.csv")


def test_devkit_route_labels_match_torchvision_imagenet(tmp_path: Path) -> None:
    """A flat val/ labelled by the devkit (folder, then tarball) or meta.bin gives
    every image the label torchvision.datasets.ImageNet gives it."""
    import shutil
    import tarfile

    import torchvision.datasets.imagenet as tv_imagenet

    layouts = _layouts()
    root = tmp_path / "data" / "imagenet"
    want = layouts.devkit(root)

    # torchvision's view: its own val-archive parsing (it moves each image into
    # its wnid folder) on a copy, then its ImageNet dataset.
    tv_root = tmp_path / "torchvision"
    shutil.copytree(root, tv_root)
    with tarfile.open(tv_root / "ILSVRC2012_img_val.tar", "w") as tar:
        for f in sorted((tv_root / "val").iterdir()):
            tar.add(f, arcname=f.name)
    shutil.rmtree(tv_root / "val")
    verify = tv_imagenet._verify_archive
    tv_imagenet._verify_archive = lambda *args, **kwargs: None
    try:
        tv = tv_imagenet.ImageNet(str(tv_root), split="val")
    finally:
        tv_imagenet._verify_archive = verify
    theirs = {Path(p).name: label for p, label in tv.samples}
    assert len(theirs) == len(want["val_files"])

    stash = tmp_path / "stash"
    stash.mkdir()
    (root / "meta.bin").rename(stash / "meta.bin")
    for source in ("ILSVRC2012_devkit_t12", "ILSVRC2012_devkit_t12.tar.gz", "meta.bin"):
        if source == "ILSVRC2012_devkit_t12.tar.gz":
            (root / "ILSVRC2012_devkit_t12").rename(stash / "ILSVRC2012_devkit_t12")
        if source == "meta.bin":
            (root / "ILSVRC2012_devkit_t12.tar.gz").rename(stash / "ILSVRC2012_devkit_t12.tar.gz")
            (stash / "meta.bin").rename(root / "meta.bin")
        d = open_image_folder("imagenet", data_dir=tmp_path / "data")
        try:
            assert d.info()["test_labels"] == str(root / source)
            ours = dict(zip(want["val_files"], _labels_in_order(d, "test"), strict=True))
            assert ours == theirs, source
            assert d.classes == tv.wnids
            assert d.class_names == [", ".join(names) for names in tv.classes]
        finally:
            d.close()


# ---- per-call options are part of what is cached ------------------------------------------------


@pytest.fixture
def large_imagenet(tmp_path: Path) -> dict:
    """Val images large enough for DCT scaling (shorter side > 2 x 256), one of them corrupt."""
    data = tmp_path / "data"
    root = data / "imagenet"
    make_tree(root / "train", WNIDS[:2], 2, seed=5)
    val = []
    for ci, cls in enumerate(WNIDS[:2]):
        for i in range(2):
            path = root / "val" / cls / f"ILSVRC2012_val_{ci * 2 + i + 1:08d}.JPEG"
            save(textured(700 + 40 * i, 560 + 30 * ci, 77 + ci * 10 + i), path, "rgb")
            val.append(path)
    bad = root / "val" / WNIDS[1] / "ILSVRC2012_val_00000009.JPEG"
    bad.write_bytes(val[0].read_bytes()[:2000])  # truncated
    return {"data_dir": data, "val": val, "bad": bad}


def _expected_val(paths: list[Path], dct: bool) -> torch.Tensor:
    specs = ["resize", "center_crop", "normalize"]
    return torch.stack([apply_transforms(p, specs, dct_scaling=dct)[0] for p in paths])


def test_per_call_options_are_never_served_from_a_cache_opened_with_others(large_imagenet: dict) -> None:
    from structure_net_data import factory

    kwargs = {"data_dir": large_imagenet["data_dir"], "batch_size": 5, "shuffle": False, "seed": 0}
    first = create_dataset("imagenet", **kwargs)
    with pytest.raises(errors.CorruptDataError):  # the default: on_error='raise'
        epoch(first["test_loader"])

    # The call: different options in the same process must give what they ask for.
    second = create_dataset("imagenet", dct_scaling=False, on_error="skip", **kwargs)
    assert second["test_loader"]._dataset is not first["test_loader"]._dataset
    images = torch.cat([x for x, _ in second["test_loader"]])
    assert images.shape[0] == 5  # the truncated image was replaced, not raised
    exact = _expected_val(large_imagenet["val"], dct=False)
    assert torch.equal(images[:4], exact)  # dct_scaling=False: torchvision's exact pixels
    dct = _expected_val(large_imagenet["val"], dct=True)
    assert not torch.equal(exact, dct)  # the images are large enough for DCT scaling to matter

    # The defaults again: the first dataset, still DCT-scaled and still raising.
    third = create_dataset("imagenet", **kwargs)
    assert third["test_loader"]._dataset is first["test_loader"]._dataset
    loader = BatchLoader(third["test_loader"]._dataset, "test", batch_size=4, shuffle=False, seed=0)
    got, _ = next(iter(loader))
    loader.close()
    assert torch.equal(got, dct)
    # Equal requests share one dataset; explicit defaults are the defaults.
    again = create_dataset("imagenet", dct_scaling=False, on_error="skip", **kwargs)
    assert again["test_loader"]._dataset is second["test_loader"]._dataset
    explicit = create_dataset("imagenet", dct_scaling=True, on_error="raise", **kwargs)
    assert explicit["test_loader"]._dataset is first["test_loader"]._dataset
    assert len(factory.DATASET_CACHE) == 2
    # A bad value is checked, not ignored because a dataset is cached.
    with pytest.raises(errors.InvalidArgumentError):
        create_dataset("imagenet", on_error="ignore", **kwargs)


def test_reregistered_folder_is_reopened_not_served_stale(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    make_tree(a, ["cat", "dog"], 2, seed=1)
    make_tree(b, ["ant", "bee", "cow"], 1, seed=2)
    register_image_folder("moving", a, input_shape=(3, 32, 32))
    first = create_dataset("moving", batch_size=4)
    assert first["train_loader"]._dataset.classes == ["cat", "dog"]
    register_image_folder("moving", b, input_shape=(3, 32, 32), replace=True)
    second = create_dataset("moving", batch_size=4)
    assert second["train_loader"]._dataset.classes == ["ant", "bee", "cow"]
    assert len(second["train_loader"].dataset) == 3
