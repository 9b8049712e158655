"""The C API contract: capi/snd*.h, the ctypes declarations and the built
library agree, and misuse through the C boundary gives clean errors."""

from __future__ import annotations

import ctypes
import importlib
import pkgutil
import re
from pathlib import Path

import numpy as np
import pytest
import structure_net_data
from structure_net_data import _lib, errors
from structure_net_data._arrow import ArrowArray, ArrowSchema

CAPI = Path(__file__).resolve().parents[2] / "capi"
# Bound by _lib.lib() itself before anything else is declared.
BOUND_BY_LOADER = {"snd_abi_version", "snd_free"}
# Headers whose every function must have a Python declaration (others' areas may still be in progress).
FULLY_DECLARED_HEADERS = (
    "snd.h",
    "snd_dataset.h",
    "snd_images.h",
    "snd_search.h",
    "snd_metadata.h",
    "snd_timeseries.h",
    "snd_inventory.h",
)


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*", "", re.sub(r"/\*.*?\*/", "", text, flags=re.S))


def parse_header(path: Path) -> dict[str, tuple[str, list[str]]]:
    """Function declarations of a header: name -> (return type, parameter types)."""
    out = {}
    text = _strip_comments(path.read_text())
    for ret, name, params in re.findall(r"\b(int|void)\s+(snd_\w+)\s*\(([^()]*)\)\s*;", text):
        types = []
        for p in (p.strip() for p in params.split(",")):
            if not p or p == "void":
                continue
            # Drop the parameter name: the last identifier not part of the type.
            m = re.match(r"(.*?[\s*])(\w+)$", p)
            types.append(" ".join((m.group(1) if m else p).split()))
        out[name] = (ret, types)
    return out


def all_headers() -> dict[str, dict[str, tuple[str, list[str]]]]:
    return {p.name: parse_header(p) for p in sorted(CAPI.glob("snd*.h"))}


def header_functions() -> dict[str, tuple[str, list[str]]]:
    merged: dict[str, tuple[str, list[str]]] = {}
    for funcs in all_headers().values():
        merged.update(funcs)
    return merged


def _import_all_modules() -> None:
    """Imports every submodule, so every module's declare() calls have run."""
    for mod in pkgutil.walk_packages(structure_net_data.__path__, "structure_net_data."):
        importlib.import_module(mod.name)


def c_kind(ctype: str) -> str:
    """ABI class of a C parameter type: pointer, or the integer/float width."""
    if "*" in ctype or ctype.endswith("_fn"):
        return "ptr"
    base = ctype.replace("const ", "")
    kinds = {"int": "i32", "int64_t": "i64", "uint64_t": "u64", "int32_t": "i32", "float": "f32", "double": "f64"}
    return kinds[base]


def ctypes_kind(t) -> str:
    if t in (ctypes.c_char_p, ctypes.c_void_p, ctypes.c_wchar_p):
        return "ptr"
    if isinstance(t, type) and issubclass(t, (ctypes._Pointer, ctypes._CFuncPtr)):
        return "ptr"
    sized = {
        ctypes.c_int: "i32",
        ctypes.c_int32: "i32",
        ctypes.c_int64: "i64",
        ctypes.c_uint64: "u64",
        ctypes.c_float: "f32",
        ctypes.c_double: "f64",
    }
    return sized[t]


_import_all_modules()
DECLARED = _lib.declared()
HEADERS = header_functions()


def test_headers_parse() -> None:
    assert {"snd_abi_version", "snd_free", "snd_version", "snd_dataset_open", "snd_loader_next"} <= set(HEADERS)
    assert HEADERS["snd_loader_next"] == ("int", ["uint64_t", "struct ArrowArray*", "int*", "char**"])
    assert HEADERS["snd_free"] == ("void", ["void*"])


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_declared_symbol_matches_header_and_library(name: str) -> None:
    assert name in HEADERS, f"{name} is declared in Python but in no capi/snd*.h"
    ret, params = HEADERS[name]
    argtypes, restype = DECLARED[name]
    if ret == "int":
        assert restype is ctypes.c_int
        assert params[-1] == "char**", f"{name}: the last parameter must be char **err_out"
        params = params[:-1]
    assert [ctypes_kind(t) for t in argtypes] == [c_kind(p) for p in params], f"{name}: {argtypes} vs {params}"
    assert hasattr(_lib.lib(), name), f"{name} is not exported by {_lib.library_path()}"


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_header_function_is_exported(name: str) -> None:
    assert hasattr(_lib.lib(), name), f"{name} is in a header but not exported by the library"


@pytest.mark.parametrize(
    "name", sorted(n for h in FULLY_DECLARED_HEADERS for n in all_headers()[h] if n not in BOUND_BY_LOADER)
)
def test_header_function_is_declared_in_python(name: str) -> None:
    assert name in DECLARED, f"{name} has no _lib.declare() in the Python package"


def test_every_status_code_has_its_exception() -> None:
    text = (CAPI / "snd.h").read_text()
    codes = {name: int(v) for name, v in re.findall(r"#define SND_ERR_(\w+)\s+(\d+)", text)}
    by_name = {
        "INVALID": errors.InvalidArgumentError,
        "NOT_FOUND": errors.NotFoundError,
        "CORRUPT": errors.CorruptDataError,
        "IO": errors.StorageIOError,
        "CLOSED": errors.ClosedError,
        "UNSUPPORTED": errors.UnsupportedError,
        "INTERNAL": errors.InternalError,
        "CHECKSUM": errors.ChecksumError,
        "CONFLICT": errors.ConflictError,
        "UNAVAILABLE": errors.UnavailableError,
        "INVALID_HANDLE": errors.InvalidHandleError,
        "OUT_OF_MEMORY": errors.OutOfMemoryError,
    }
    assert set(codes) == set(by_name)
    for name, code in codes.items():
        assert by_name[name].code == code
        assert type(errors.error_for(code, "x")) is by_name[name]
    assert re.search(r"#define SND_OK 0\b", text)


def test_abi_version() -> None:
    header = int(re.search(r"#define SND_ABI_VERSION (\d+)", (CAPI / "snd.h").read_text()).group(1))
    assert _lib.lib().snd_abi_version() == header == _lib.ABI_VERSION
    info = _lib.version()
    assert info["abi"] == header and info["version"] and info["go"].startswith("go")


def test_arrow_struct_layouts() -> None:
    # The Arrow C Data Interface ABI on 64-bit platforms.
    assert ctypes.sizeof(ArrowSchema) == 72 and ctypes.sizeof(ArrowArray) == 80
    assert ArrowArray.release.offset == 64 and ArrowSchema.release.offset == 56


# ---- misuse at the boundary ------------------------------------------------------------------


def _raw(name: str):
    return getattr(_lib.lib(), name)


def _rc(name: str, *args) -> tuple[int, str]:
    """Calls a C function directly, returning its status and error message."""
    err = ctypes.c_char_p()
    rc = _raw(name)(*args, ctypes.byref(err))
    return rc, _lib.take_string(err)


def _toy_dataset():
    from structure_net_data.config import DatasetConfig
    from structure_net_data.datasets import arrays_dataset

    config = DatasetConfig("contract_toy", input_shape=(1, 2, 2), num_classes=2)
    images = np.arange(4 * 4, dtype=np.uint8).reshape(4, 1, 2, 2)
    return arrays_dataset(config, (images, np.array([0, 1, 0, 1])))


def test_null_name_is_a_clean_error() -> None:
    with pytest.raises(errors.NotFoundError, match="available"):
        _lib.call_json("snd_registry_get", None)
    with pytest.raises(errors.InvalidArgumentError):
        _lib.call("snd_registry_register", None, ctypes.c_int(0))
    with pytest.raises(errors.NotFoundError):
        _lib.call("snd_registry_unregister", None)


@pytest.mark.parametrize("handle", [0, 12345, 2**64 - 1])
def test_invalid_handles_raise_invalid_handle_error(handle: int) -> None:
    h = ctypes.c_uint64(handle)
    for name in ("snd_loader_info", "snd_dataset_info", "snd_loader_state"):
        with pytest.raises(errors.InvalidHandleError):
            _lib.call_string(name, h)
    with pytest.raises(errors.InvalidHandleError):
        _lib.call("snd_loader_set_epoch", h, ctypes.c_int64(1))
    array = ArrowArray()
    with pytest.raises(errors.InvalidHandleError):
        _lib.call("snd_loader_next", h, ctypes.byref(array), ctypes.byref(ctypes.c_int()))
    assert not array.release


def test_wrong_type_and_stale_handles() -> None:
    dataset = _toy_dataset()
    loader_handle = ctypes.c_uint64()
    _lib.call(
        "snd_loader_open", ctypes.c_uint64(dataset.handle), b"train", b'{"batch_size": 2}', ctypes.byref(loader_handle)
    )
    stale = loader_handle.value
    # A dataset handle is not a loader handle and vice versa.
    with pytest.raises(errors.InvalidHandleError):
        _lib.call_string("snd_loader_info", ctypes.c_uint64(dataset.handle))
    with pytest.raises(errors.InvalidHandleError):
        _lib.call_string("snd_dataset_info", ctypes.c_uint64(stale))
    info = _lib.call_json("snd_loader_info", ctypes.c_uint64(stale))
    assert info["num_batches"] == 2

    _lib.call("snd_loader_close", ctypes.byref(loader_handle))
    assert loader_handle.value == 0
    _lib.call("snd_loader_close", ctypes.byref(loader_handle))  # closing 0 is a no-op
    with pytest.raises(errors.InvalidHandleError):
        _lib.call("snd_loader_close", ctypes.byref(ctypes.c_uint64(stale)))  # a stale copy: double close
    with pytest.raises(errors.InvalidHandleError):
        _lib.call_string("snd_loader_info", ctypes.c_uint64(stale))
    dataset.close()


def test_null_out_parameters_are_rejected() -> None:
    rc, msg = _rc("snd_registry_get", b"mnist", None)
    assert rc == errors.InvalidArgumentError.code and "NULL" in msg
    rc, msg = _rc("snd_dataset_open", b"mnist", None, _raw("snd_dataset_open").argtypes[2](), None, None)
    assert rc == errors.InvalidArgumentError.code and "NULL" in msg

    dataset = _toy_dataset()
    handle = ctypes.c_uint64()
    _lib.call("snd_loader_open", ctypes.c_uint64(dataset.handle), b"train", b'{"batch_size": 2}', ctypes.byref(handle))
    try:
        rc, msg = _rc("snd_loader_next", handle, ctypes.byref(ArrowArray()), None)
        assert rc == errors.InvalidArgumentError.code and "done" in msg
        rc, msg = _rc("snd_loader_next", handle, None, ctypes.byref(ctypes.c_int()))
        assert rc == errors.InvalidArgumentError.code
        dirty = ArrowArray()
        dirty.release = 1  # not zero-initialised: must not be overwritten (that would leak or double free)
        rc, msg = _rc("snd_loader_next", handle, ctypes.byref(dirty), ctypes.byref(ctypes.c_int()))
        assert rc == errors.InvalidArgumentError.code and "zero" in msg
    finally:
        _lib.call("snd_loader_close", ctypes.byref(handle))
        dataset.close()


def test_null_err_out_still_returns_the_status() -> None:
    out = ctypes.c_char_p()
    assert _raw("snd_loader_info")(ctypes.c_uint64(0), ctypes.byref(out), None) == errors.InvalidHandleError.code
    assert _raw("snd_registry_get")(b"no_such", ctypes.byref(out), None) == errors.NotFoundError.code
    assert not out.value


@pytest.mark.parametrize(
    "options, match",
    [(b"{not json", "dataset options"), (b'{"dat_dir": "/x"}', "dat_dir"), (b'{"download": "yes"}', "download")],
)
def test_bad_option_json_is_invalid_argument(options: bytes, match: str) -> None:
    handle = ctypes.c_uint64()
    progress = _raw("snd_dataset_open").argtypes[2]()
    with pytest.raises(errors.InvalidArgumentError, match=match):
        _lib.call("snd_dataset_open", b"mnist", options, progress, None, ctypes.byref(handle))
    assert handle.value == 0


def test_bad_loader_options() -> None:
    dataset = _toy_dataset()
    handle = ctypes.c_uint64()
    for options, match in (
        (b'{"batch_size": 0}', "batch_size"),
        (b'{"batch_size": 2, "indices": [7]}', "out of range"),
        (b'{"batch_size": 2, "threads": -1}', "negative"),
        (b'{"batch_size": 2, "bogus": 1}', "bogus"),
    ):
        with pytest.raises(errors.InvalidArgumentError, match=match):
            _lib.call("snd_loader_open", ctypes.c_uint64(dataset.handle), b"train", options, ctypes.byref(handle))
    with pytest.raises(errors.InvalidArgumentError, match="split"):
        _lib.call(
            "snd_loader_open", ctypes.c_uint64(dataset.handle), b"validate", b'{"batch_size": 2}', ctypes.byref(handle)
        )
    assert handle.value == 0
    dataset.close()
