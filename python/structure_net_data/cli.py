"""``snd``: structure-net-data from a shell.

    snd datasets [NAME]              registered datasets, where their files and caches are
    snd prepare NAME                 download, verify and decode into the cache (image folders: pack)
    snd verify NAME                  check the files against their registered MD5s
    snd cache ls [NAME]              decoded caches and packs, with sizes
    snd cache clear NAME | --yes     remove them (one dataset's, or all with --yes)
    snd search [--where JSON] ...    a filtered query over stored experiments
    snd history KEY                  a training history: summary, last epochs, --csv export
    snd history ls                   stored histories
    snd history repair KEY | --all   make histories a killed writer left open readable again

Also ``python -m structure_net_data`` (and ``python -m data_factory``).
Exit status: 0 ok, 1 error (one line on stderr), 2 usage error.
Folders default to the library's: ``$DATA_DIR``, ``$SND_CACHE_DIR``,
``$SND_CHROMA_DIR``, ``$SND_TIMESERIES_DIR``, else the user cache.

``history`` takes actions (``show``, the default, ``ls`` and ``repair``); a new one is
a function added with :func:`history_action` (see ``_history_ls``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import io
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from .errors import StructureNetDataError

PROG = "snd"

# ---- output helpers ------------------------------------------------------------------------


def human_size(n: int | float) -> str:
    """Bytes in decimal units, as tqdm and ``ls -h --si`` show them."""
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{int(n)} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def _when(ns: int) -> str:
    if not ns:
        return "-"
    return _dt.datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M")


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.6g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def print_table(rows: Sequence[Sequence[Any]], header: Sequence[str], out: TextIO | None = None) -> None:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    out = out or sys.stdout
    cells = [list(header)] + [[_cell(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for r in cells:
        line = "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths[:-1], strict=True))
        out.write((line + "  " + r[-1] if len(r) > 1 else r[-1]).rstrip() + "\n")


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


class CommandError(Exception):
    """An expected failure: printed as one line on stderr, exit status 1."""


# ---- argument parsing -----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _md5_pair(text: str) -> tuple[str, str]:
    name, sep, digest = text.partition("=")
    digest = digest.strip().lower()
    if not sep or not name or len(digest) != 32 or any(c not in "0123456789abcdef" for c in digest):
        raise argparse.ArgumentTypeError(f"{text!r} is not FILE=MD5 (32 hex digits)")
    return name, digest


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object, got {type(value).__name__}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (all) or more, got {value}")
    return value


def _data_options(p: argparse.ArgumentParser, cache: bool = True) -> None:
    g = p.add_argument_group("folders")
    g.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where datasets' files are, in torchvision's layout (default: $DATA_DIR, else the user cache)",
    )
    if cache:
        g.add_argument(
            "--cache-dir",
            metavar="DIR",
            help="decoded caches and packs (default: $SND_CACHE_DIR, else the user cache)",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="structure-net-data from the command line: datasets, caches, experiments and histories.",
        epilog="Exit status: 0 ok, 1 error, 2 usage error. `snd COMMAND --help` describes each command.",
    )
    parser.add_argument("--version", action="store_true", help="print the package and core library versions")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "datasets",
        help="list registered datasets and where their files and caches are",
        description="Lists the registered datasets: format, whether their source files are there, "
        "their decoded caches (or prepared packs) and where they live. Nothing is read or downloaded. "
        "With NAME, every file and cache of that dataset.",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="only these datasets, in detail")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _data_options(p)
    p.set_defaults(run=cmd_datasets, prog=p.prog)

    p = sub.add_parser(
        "prepare",
        help="download, verify and decode a dataset into the cache; pack an image folder",
        description="Makes a dataset ready to load fast. Array datasets (mnist, cifar10, cifar100): files "
        "already there are checked against their registered MD5s, missing ones are downloaded (verified "
        "on arrival), and both splits are decoded into the memory-mappable cache. Image folders "
        "(imagenet, or --folder PATH): every image is decoded once and packed into one file per split "
        "(resized to --max-side), which later loads read instead of the folder.",
    )
    p.add_argument("name", metavar="NAME", help="a registered dataset, or a new name with --folder")
    _data_options(p)
    g = p.add_argument_group("array datasets")
    g.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
    g.add_argument("--mirror", action="append", metavar="URL", help="download from this base URL (repeatable)")
    g.add_argument(
        "--md5",
        action="append",
        type=_md5_pair,
        metavar="FILE=MD5",
        help="expect this MD5 for FILE instead of the registered one (a re-packed mirror; repeatable)",
    )
    g.add_argument("--no-verify", action="store_true", help="do not hash files that are already there")
    g.add_argument("--force", action="store_true", help="decode again even when the cache is up to date")
    g = p.add_argument_group("image folders")
    g.add_argument(
        "--folder",
        metavar="PATH",
        help="register PATH (train/<class>/*.jpg, val/...) as image dataset NAME before packing",
    )
    g.add_argument("--max-side", type=_positive_int, default=256, help="longer side of packed images (256)")
    g.add_argument("--quality", type=_positive_int, default=90, help="JPEG quality of resized images (90)")
    g.add_argument("--threads", type=_positive_int, help="decoding threads (default: all cores)")
    g.add_argument("--skip-bad", action="store_true", help="leave unreadable images out instead of failing")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=cmd_prepare, prog=p.prog)

    p = sub.add_parser(
        "verify",
        help="check a dataset's files against their registered MD5s",
        description="Hashes every source file of an array dataset that is on disk and compares it with "
        "its registered MD5. Prints one line per file: ok, mismatch, missing, unverified (no MD5 is "
        "published for that form: inflated MNIST files, CIFAR binary batches), archived (still in the "
        "archive next to it) or error. Exit status 1 when a file is missing, mismatched or unreadable.",
    )
    p.add_argument("name", metavar="NAME")
    _data_options(p, cache=False)
    p.add_argument("--md5", action="append", type=_md5_pair, metavar="FILE=MD5", help="expected MD5 of FILE")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=cmd_verify, prog=p.prog)

    p = sub.add_parser(
        "cache",
        help="list or clear decoded caches and packs",
        description="The cache folder holds decoded splits (kind decoded), prepared image packs (pack) "
        "and leftovers of interrupted writes (partial). Caches are rebuilt on the next load.",
    )
    cache_sub = p.add_subparsers(dest="cache_command", metavar="ACTION", parser_class=_Parser, required=True)
    q = cache_sub.add_parser("ls", help="list the cache folder", description="Lists the cache folder.")
    q.add_argument("dataset", nargs="?", metavar="NAME", help="only this dataset's files")
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _cache_dir_option(q)
    q.set_defaults(run=cmd_cache_ls, prog=q.prog)
    q = cache_sub.add_parser(
        "clear",
        help="remove caches: one dataset's, or all with --yes",
        description="Removes the decoded caches, packs and leftovers of dataset NAME, or of every dataset "
        "with --yes. --dry-run only lists what would go. Processes that have a removed cache open keep "
        "reading it; the next load decodes again.",
    )
    q.add_argument("dataset", nargs="?", metavar="NAME", help="only this dataset's files")
    q.add_argument("--yes", action="store_true", help="confirm clearing every dataset's caches (no NAME)")
    q.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")
    _cache_dir_option(q)
    q.set_defaults(run=cmd_cache_clear, prog=q.prog)

    p = sub.add_parser(
        "search",
        help="query stored experiments (a filtered table or JSON)",
        description="Lists the stored experiments matching every given condition, sorted by --sort "
        "(accuracy, best first). --where takes Chroma's filter grammar over the searchable metadata "
        '($eq $ne $gt $gte $lt $lte $in $nin $and $or), e.g. \'{"config.optimizer": "adam"}\'.',
    )
    p.add_argument("--where", type=_json_object, metavar="JSON", help="a metadata filter (a JSON object)")
    p.add_argument("--dataset", help="only experiments on this dataset")
    p.add_argument("--min-accuracy", type=float, metavar="X", help="only experiments with accuracy >= X")
    p.add_argument("--max-parameters", type=float, metavar="N", help="only experiments with at most N parameters")
    p.add_argument("--hypothesis", metavar="ID", help="only experiments of this hypothesis")
    p.add_argument("-n", "--limit", type=_count, default=20, metavar="N", help="at most N rows (20; 0 for all)")
    p.add_argument("--sort", default="accuracy", metavar="KEY", help="metadata key to sort by (accuracy)")
    p.add_argument("--ascending", action="store_true", help="smallest first (e.g. --sort loss --ascending)")
    p.add_argument("--json", action="store_true", help="print JSON (id and metadata per experiment)")
    g = p.add_argument_group("store")
    g.add_argument(
        "--persist-dir",
        metavar="DIR",
        help="the embedded store (default: $SND_CHROMA_DIR, else the user cache)",
    )
    g.add_argument("--host", help="a Chroma server instead of the embedded store")
    g.add_argument("--port", type=_positive_int, default=8000, help="the server's port (8000)")
    g.add_argument("--ssl", action="store_true", help="use https")
    g.add_argument("--collection", default="structure_net_experiments", help="collection name")
    p.set_defaults(run=cmd_search, prog=p.prog)

    p = sub.add_parser(
        "history",
        help="a training history: summary, last epochs, CSV export",
        description="`snd history KEY` (the same as `snd history show KEY`) prints a stored history's "
        "summary and its last epochs; `snd history ls` lists the stored histories.",
    )
    history_sub = p.add_subparsers(dest="history_command", metavar="ACTION", parser_class=_Parser, required=True)
    for name, (help_text, configure, run) in _HISTORY_ACTIONS.items():
        q = history_sub.add_parser(name, help=help_text, description=help_text)
        configure(q)
        q.add_argument(
            "--storage-dir",
            metavar="DIR",
            help="the histories folder (default: $SND_TIMESERIES_DIR, else the user cache)",
        )
        q.set_defaults(run=run, prog=q.prog)
    return parser


def _cache_dir_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", metavar="DIR", help="the cache folder (default: $SND_CACHE_DIR, else the user cache)")


# ---- datasets ---------------------------------------------------------------------------------


def _files_report(name: str, args: argparse.Namespace) -> Any:
    from .config import get_dataset_config
    from .errors import UnsupportedError
    from .inventory import DatasetFiles, dataset_files

    try:
        return dataset_files(name, data_dir=args.data_dir, cache_dir=args.cache_dir)
    except UnsupportedError as e:  # a custom loader's dataset: nothing on disk we know of
        return DatasetFiles(name=name, format=get_dataset_config(name).format, location="", problem=str(e))


def cmd_datasets(args: argparse.Namespace) -> int:
    from .config import get_dataset_config, list_available_datasets

    names = args.names or list_available_datasets()
    reports = [_files_report(n, args) for n in names]
    if args.json:
        out = []
        for name, r in zip(names, reports, strict=True):
            cfg = get_dataset_config(name)
            out.append(
                {
                    "name": name,
                    "full_name": cfg.full_name,
                    "format": cfg.format,
                    "input_shape": list(cfg.input_shape),
                    "num_classes": cfg.num_classes,
                    "train_samples": cfg.num_train_samples,
                    "test_samples": cfg.num_test_samples,
                    "location": r.location,
                    "problem": r.problem,
                    "files": [vars(f) for f in r.files],
                    "caches": [vars(c) for c in r.caches],
                }
            )
        _print_json(out)
        return 0
    if args.names:
        for r in reports:
            _print_dataset_detail(r)
        return 0
    rows = []
    for name, r in zip(names, reports, strict=True):
        cfg = get_dataset_config(name)
        usable = sum(not f.problem for f in r.files)
        files = f"{usable}/{len(r.files)}" if r.files else "-"
        built = [c for c in r.caches if c.present]
        cached = f"{len(built)}/{len(r.caches)}" if r.caches else "-"
        if built:
            cached += f" ({human_size(sum(c.size for c in built))})"
        where = _common_folder([f.path for f in r.files if not f.problem]) or r.location or "not found"
        rows.append((name, cfg.format or "custom", files, cached, where))
    print_table(rows, ("NAME", "FORMAT", "FILES", "CACHED", "LOCATION"))
    return 0


def _common_folder(paths: list[str]) -> str:
    dirs = {os.path.dirname(p) for p in paths}
    if not dirs:
        return ""
    return os.path.commonpath(sorted(dirs))


def _print_dataset_detail(r: Any) -> None:
    print(f"{r.name} ({r.format or 'custom'}): {r.location or 'not found'}")
    if r.problem:
        print(f"  {r.problem}")
    if r.files:
        print_table(
            [("  " + f.status, f.name, human_size(f.size) if f.size else "-", f.path) for f in r.files],
            ("  FILE", "NAME", "SIZE", "PATH"),
        )
    if r.caches:
        print_table(
            [
                ("  " + c.kind, c.split, human_size(c.size) if c.present else "not built", _when(c.mtime_ns), c.path)
                for c in r.caches
            ],
            ("  CACHE", "SPLIT", "SIZE", "MODIFIED", "PATH"),
        )


# ---- prepare / verify -------------------------------------------------------------------------------


def _md5s(pairs: Iterable[tuple[str, str]] | None) -> dict[str, str] | None:
    return dict(pairs) if pairs else None


def _problem_line(problems: list[Any]) -> str:
    """The first problem in full, then the other files' names."""
    f = problems[0]
    if f.status == "mismatch":
        first = f"{f.name} has md5 {f.actual_md5}, registered {f.md5}"
    elif f.status == "error":
        first = f.error or f"{f.name} cannot be read"
    else:
        first = f"{f.name} is missing from {os.path.dirname(f.path)}"
    others = ", ".join(f"{o.name} ({o.status})" for o in problems[1:4])
    more = f" (and {len(problems) - 4} more)" if len(problems) > 4 else ""
    return first + (f"; also {others}{more}" if others else "")


def cmd_prepare(args: argparse.Namespace) -> int:
    from .config import get_dataset_config, list_available_datasets

    if args.folder is not None:
        from .images import register_image_folder

        if args.name in list_available_datasets() and get_dataset_config(args.name).format != "imagefolder":
            raise CommandError(f"{args.name} is a built-in {get_dataset_config(args.name).format} dataset; "
                               "give the image folder another name")  # fmt: skip
        folder = Path(args.folder)
        if not folder.is_dir():
            raise CommandError(f"--folder {folder} is not a folder")
        register_image_folder(args.name, folder, replace=True)  # for this process only
    config = get_dataset_config(args.name)
    if config.format == "imagefolder":
        return _prepare_images(args)
    from .datasets import open_dataset
    from .inventory import dataset_files

    md5s = _md5s(args.md5)
    if not args.no_verify:
        report = dataset_files(
            args.name, data_dir=args.data_dir, cache_dir=args.cache_dir, md5_override=md5s,
            verify=True, progress=not args.quiet,
        )  # fmt: skip
        bad = [f for f in report.files if f.status in ("mismatch", "error")]
        if bad:
            raise CommandError(
                f"{args.name}: {_problem_line(bad)}; delete bad files to download them again, "
                "or pass --md5 FILE=MD5 for a re-packed copy"
            )
        for f in report.files:
            if f.status in ("ok", "unverified"):
                print(f"{f.status:10}  {f.name}")
    dataset = open_dataset(
        args.name,
        data_dir=args.data_dir,
        cache_dir=args.cache_dir,
        download=not args.no_download,
        force_reload=args.force,
        mirrors=args.mirror,
        md5_override=md5s,
        progress=not args.quiet,
    )
    try:
        how = "cache up to date" if dataset.from_cache and not args.force else "decoded"
        print(f"{args.name}: {dataset.train_samples} train + {dataset.test_samples} test samples, {how}")
    finally:
        dataset.close()
    report = dataset_files(args.name, data_dir=args.data_dir, cache_dir=args.cache_dir, md5_override=md5s)
    for c in report.caches:
        if c.present:
            print(f"{c.split:5}  {human_size(c.size):>9}  {c.path}")
        else:  # the cache folder was not writable: loads decode every time
            print(f"{c.split:5}  not cached (is {os.path.dirname(os.path.dirname(c.path))} writable?)")
    return 0


def _prepare_images(args: argparse.Namespace) -> int:
    from .images import prepare_dataset

    packs = prepare_dataset(
        args.name,
        max_side=args.max_side,
        quality=args.quality,
        data_dir=args.data_dir,
        cache_dir=args.cache_dir,
        threads=args.threads,
        on_error="skip" if args.skip_bad else None,
        progress=not args.quiet,
    )
    if not packs:
        raise CommandError(f"{args.name}: no split folder to pack")
    for split, path in packs.items():
        print(f"{split:5}  {human_size(os.path.getsize(path)):>9}  {path}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .inventory import verify_dataset

    report = verify_dataset(args.name, data_dir=args.data_dir, md5_override=_md5s(args.md5), progress=not args.quiet)
    if args.json:
        _print_json({"name": report.name, "location": report.location, "ok": report.ok,
                     "files": [vars(f) for f in report.files]})  # fmt: skip
    else:
        rows = []
        for f in report.files:
            detail = ""
            if f.status == "mismatch":
                detail = f"md5 {f.actual_md5}, registered {f.md5}"
            elif f.status == "error":
                detail = f.error
            elif f.status == "archived":
                detail = "extracted from the archive on first load"
            rows.append((f.status, f.name, human_size(f.size) if f.size else "-", detail or f.path))
        print_table(rows, ("STATUS", "FILE", "SIZE", "DETAIL"))
    problems = [f for f in report.files if f.problem]
    if problems:
        raise CommandError(
            f"{args.name}: {len(problems)} of {len(report.files)} files failed: {_problem_line(problems)}"
        )
    return 0


# ---- cache ----------------------------------------------------------------------------------------


def _cache_rows(files: list[Any]) -> list[tuple[Any, ...]]:
    return [(c.dataset, c.split or "-", c.kind, human_size(c.size), _when(c.mtime_ns), c.path) for c in files]


def cmd_cache_ls(args: argparse.Namespace) -> int:
    from .inventory import list_caches

    files = list_caches(args.dataset, cache_dir=args.cache_dir)
    if args.json:
        _print_json([vars(c) for c in files])
        return 0
    if not files:
        print("no caches" + (f" of {args.dataset}" if args.dataset else ""))
        return 0
    print_table(_cache_rows(files), ("DATASET", "SPLIT", "KIND", "SIZE", "MODIFIED", "PATH"))
    print(f"{len(files)} files, {human_size(sum(c.size for c in files))}")
    return 0


def cmd_cache_clear(args: argparse.Namespace) -> int:
    from .inventory import remove_caches

    if args.dataset is None and not args.yes and not args.dry_run:
        raise UsageError("clearing every dataset's caches needs --yes (or name a dataset, or --dry-run to list)")
    files = remove_caches(args.dataset, cache_dir=args.cache_dir, dry_run=args.dry_run)
    for c in files:
        print(f"{'would remove' if args.dry_run else 'removed'}  {human_size(c.size):>9}  {c.path}")
    verb = "would free" if args.dry_run else "freed"
    print(f"{len(files)} files, {verb} {human_size(sum(c.size for c in files))}")
    return 0


class UsageError(Exception):
    """A combination of arguments argparse cannot express: exit status 2."""


# ---- search ----------------------------------------------------------------------------------------

_SEARCH_COLUMNS = ("accuracy", "parameters", "dataset", "architecture", "epochs", "hypothesis_id")


def _store_config(args: argparse.Namespace) -> Any:
    from .search import ChromaConfig

    if args.host:
        return ChromaConfig(host=args.host, port=args.port, ssl=args.ssl, collection_name=args.collection)
    config = ChromaConfig(persist_directory=args.persist_dir, collection_name=args.collection)
    folder = Path(config.resolved_persist_directory())
    if not folder.is_dir():  # searching must not create an empty store
        raise CommandError(f"no experiment store at {folder} (pass --persist-dir, or set $SND_CHROMA_DIR)")
    return config


def _where(args: argparse.Namespace) -> dict[str, Any] | None:
    conds: list[dict[str, Any]] = []
    if args.where:
        conds.append(args.where)
    if args.dataset is not None:
        conds.append({"dataset": args.dataset})
    if args.min_accuracy is not None:
        conds.append({"accuracy": {"$gte": args.min_accuracy}})
    if args.max_parameters is not None:
        conds.append({"parameters": {"$lte": args.max_parameters}})
    if args.hypothesis is not None:
        conds.append({"hypothesis_id": args.hypothesis})
    if not conds:
        return None
    return conds[0] if len(conds) == 1 else {"$and": conds}


def _sort_key(key: str, ascending: bool) -> Callable[[tuple[str, dict[str, Any]]], tuple[Any, ...]]:
    def k(item: tuple[str, dict[str, Any]]) -> tuple[Any, ...]:
        exp_id, meta = item
        v = meta.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and math.isnan(v)):
            # Non-numbers sort as text after every number; missing values last.
            return (1 if v is not None else 2, 0.0, "" if v is None else str(v), exp_id)
        return (0, v if ascending else -v, "", exp_id)

    return k


def cmd_search(args: argparse.Namespace) -> int:
    from .search import get_chroma_client

    for name, value in (("--min-accuracy", args.min_accuracy), ("--max-parameters", args.max_parameters)):
        if value is not None and not math.isfinite(value):
            raise UsageError(f"argument {name}: must be a finite number, got {value}")
    client = get_chroma_client(_store_config(args))
    try:
        got = client.get(where=_where(args), include=["metadatas"])
    finally:
        client.close()
    items = sorted(
        zip(got.get("ids") or [], [m or {} for m in got.get("metadatas") or []], strict=True),
        key=_sort_key(args.sort, args.ascending),
    )
    if args.limit:
        items = items[: args.limit]
    if args.json:
        _print_json([{"id": i, "metadata": m} for i, m in items])
        return 0
    if not items:
        print("no matching experiments")
        return 0
    columns = [c for c in dict.fromkeys((args.sort, *_SEARCH_COLUMNS)) if any(c in m for _, m in items)]
    print_table([(i, *(m.get(c) for c in columns)) for i, m in items], ("ID", *(c.upper() for c in columns)))
    return 0


# ---- history --------------------------------------------------------------------------------------

#: history actions: name -> (help, add the action's arguments, run it). ``show``
#: is what ``snd history KEY`` runs. Add one with :func:`history_action`.
_HISTORY_ACTIONS: dict[
    str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
] = {}


def history_action(
    name: str, help_text: str, configure: Callable[[argparse.ArgumentParser], None]
) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """Registers ``snd history NAME ...``: ``configure`` adds its arguments
    (``--storage-dir`` is added for it), the decorated function runs it."""

    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        _HISTORY_ACTIONS[name] = (help_text, configure, run)
        return run

    return register


def _storage(args: argparse.Namespace) -> Any:
    from .time_series_storage import TimeSeriesConfig, TimeSeriesStorage

    config = TimeSeriesConfig(storage_dir=args.storage_dir)
    folder = config.resolved_storage_dir()
    if not folder.is_dir():  # reading must not create an empty store
        raise CommandError(f"no histories at {folder} (pass --storage-dir, or set $SND_TIMESERIES_DIR)")
    return TimeSeriesStorage(config)


def _show_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("key", metavar="KEY", help="the history's storage key (its experiment id)")
    p.add_argument(
        "--last", type=_count, metavar="N", help="the last N epochs (5 for the table, all for --csv/--json; 0: all)"
    )
    p.add_argument(
        "--csv",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write the epochs as CSV to FILE (or stdout with no FILE or '-') instead of the summary",
    )
    p.add_argument("--json", action="store_true", help="print the summary and epochs as JSON")


@history_action("show", "a history's summary and last epochs, or its epochs as CSV", _show_arguments)
def _history_show(args: argparse.Namespace) -> int:
    if args.csv is not None and args.json:
        raise UsageError("pass --csv or --json, not both")
    with _storage(args) as storage:
        last = args.last if args.last is not None else (5 if args.csv is None and not args.json else 0)
        rows, metadata = storage.retrieve_training_history(args.key, epochs=slice(-last, None) if last else None)
        if args.csv is not None:
            _write_csv(rows, args.csv)
            return 0
        summary = storage.get_summary_statistics(args.key)
    if args.json:
        _print_json({"summary": summary, "metadata": metadata, "epochs": list(rows)})
        return 0
    print(
        f"{args.key}: {summary['num_epochs']} epochs, created {summary['storage_time']}, updated {summary['updated']}"
    )
    print(f"file: {summary['path']}")
    if metadata:
        print("metadata: " + json.dumps(metadata, default=str)[:200])
    best = summary.get("best") or {}
    if best:
        print("best: " + ", ".join(f"{k} {_cell(b['value'])} (epoch {b['index']})" for k, b in best.items()))
    columns = summary["columns"]
    numeric = [(k, c) for k, c in columns.items() if c["kind"] in ("float64", "int64", "bool")]
    if numeric:
        print()
        print_table(
            [(k, c["kind"], c["count"], c["final"], c["min"], c["max"], c["mean"]) for k, c in numeric],
            ("COLUMN", "KIND", "COUNT", "FINAL", "MIN", "MAX", "MEAN"),
        )
    if rows:
        names = list(rows.columns)
        first = rows.total_epochs - len(rows)
        print(f"\nlast {len(rows)} of {rows.total_epochs} epochs:")
        print_table([(first + i, *(r.get(n) for n in names)) for i, r in enumerate(rows)], ("#", *names))
    return 0


def _write_csv(rows: Any, target: str) -> None:
    names = list(rows.columns)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    for r in rows:
        w.writerow([_csv_value(r.get(n)) for n in names])
    if target == "-":
        sys.stdout.write(buf.getvalue())
        return
    try:
        Path(target).write_text(buf.getvalue(), encoding="utf-8")
    except OSError as e:
        raise CommandError(f"cannot write {target}: {e.strerror or e}") from None
    print(f"wrote {len(rows)} epochs to {target}", file=sys.stderr)


def _csv_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    if isinstance(v, (list, dict)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def _history_ls_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print a JSON list")


@history_action("ls", "list the stored histories (their keys)", _history_ls_arguments)
def _history_ls(args: argparse.Namespace) -> int:
    with _storage(args) as storage:
        keys = storage.list_histories()
    if args.json:
        _print_json(keys)
    else:
        for k in keys:
            print(k)
    return 0


def _history_repair_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("keys", nargs="*", metavar="KEY", help="the histories to repair")
    p.add_argument("--all", action="store_true", help="every stored history (those a live writer holds are left alone)")
    p.add_argument("--json", action="store_true", help="print the reports as JSON")


@history_action(
    "repair", "make histories a killed writer left open readable again (as h5clear -s)", _history_repair_arguments
)
def _history_repair(args: argparse.Namespace) -> int:
    from .errors import ConflictError

    if bool(args.keys) == bool(args.all):
        raise UsageError("name the histories to repair, or pass --all")
    reports = []
    with _storage(args) as storage:
        for key in storage.list_histories() if args.all else args.keys:
            try:
                reports.append(storage.repair(key))
            except ConflictError as e:
                if not args.all:
                    raise
                reports.append({"id": key, "in_use": _one_line(str(e))})
    if args.json:
        _print_json(reports)
        return 0
    for r in reports:
        if "in_use" in r:
            print(f"{r['id']}: left alone: {r['in_use']}")
        elif r["repaired"]:
            print(f"{r['id']}: repaired ({r['damage']}); {r['rows']} epochs kept in {r['path']}")
        else:
            print(f"{r['id']}: clean, {r['rows']} epochs ({r['path']})")
    return 0


def _route_history(argv: list[str]) -> list[str]:
    """``snd history KEY ...`` means ``snd history show KEY ...``."""
    for i, token in enumerate(argv):
        if token.startswith("-"):
            continue  # top-level flags take no values
        if token == "history" and i + 1 < len(argv):
            nxt = argv[i + 1]
            if nxt not in _HISTORY_ACTIONS and nxt not in ("-h", "--help"):
                return [*argv[: i + 1], "show", *argv[i + 1 :]]
        break
    return argv


# ---- main -------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    args_list = _route_history(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.version:
        from . import __version__, _lib

        print(f"structure-net-data {__version__} (core {_lib.version().get('version', '?')})")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    where = args.prog
    try:
        return args.run(args)
    except UsageError as e:
        print(f"{where}: error: {e} (see {where} --help)", file=sys.stderr)
        return 2
    except (CommandError, StructureNetDataError) as e:
        print(f"{where}: {_one_line(str(e))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `snd cache ls | head`: the reader left; not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _one_line(message: str) -> str:
    return " ".join(message.split()) or "failed"


if __name__ == "__main__":
    raise SystemExit(main())
