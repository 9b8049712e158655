"""The only module that touches ctypes: loads libsnd.so and calls into it.

Every C function returns an int status and takes a trailing ``char **err_out``;
:func:`call` hides that convention and raises the matching exception. Each
feature module declares the symbols it uses with :func:`declare`, so the table
of argtypes lives next to the code that uses it and is checked against
``capi/snd*.h`` by a test.
"""

from __future__ import annotations

import ctypes
import json
import os
import threading
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import ForkError, InternalError, error_for

ABI_VERSION = 1

c_char_pp = ctypes.POINTER(ctypes.c_char_p)

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_loaded_pid: int | None = None
_declared: dict[str, tuple[list[Any], Any]] = {}


def library_path() -> Path:
    """Where libsnd.so is: $SND_LIBRARY, or inside this package."""
    env = os.environ.get("SND_LIBRARY")
    if env:
        return Path(env)
    return Path(__file__).with_name("_native") / "libsnd.so"


def lib() -> ctypes.CDLL:
    """Returns the loaded library, loading it on first use in this process."""
    global _lib, _loaded_pid
    if _lib is not None:
        # Go's runtime does not survive fork(): its threads are gone in the
        # child (golang/go#15538), so a call there would hang. Fail loudly.
        if _loaded_pid != os.getpid():
            raise ForkError(
                "structure_net_data's Go core was loaded before this process was forked; "
                "Go cannot run in a forked child. Use multiprocessing start method 'spawn' "
                "or 'forkserver' (e.g. torch DataLoader(..., multiprocessing_context='spawn')), "
                "or iterate the loader in the parent: it already prefetches on its own threads."
            )
        return _lib
    with _lock:
        if _lib is None:
            path = library_path()
            if not path.exists():
                raise InternalError(
                    f"libsnd.so not found at {path}; build it with `make build` "
                    "or reinstall with `pip install ./python`"
                )
            handle = ctypes.CDLL(str(path))
            handle.snd_abi_version.restype = ctypes.c_int
            handle.snd_abi_version.argtypes = []
            got = handle.snd_abi_version()
            if got != ABI_VERSION:
                raise InternalError(f"{path} has ABI version {got}, this package needs {ABI_VERSION}; rebuild it")
            handle.snd_free.restype = None
            handle.snd_free.argtypes = [ctypes.c_void_p]
            _check_version(handle, path)
            for name, (argtypes, restype) in _declared.items():
                _bind(handle, name, argtypes, restype)
            _lib = handle
            _loaded_pid = os.getpid()
            from . import _logging

            _logging.install()
    return _lib


def _check_version(handle: ctypes.CDLL, path: Path) -> None:
    """Refuses a library built from another version of the package (or
    without the version stamp the build passes)."""
    handle.snd_version.restype = ctypes.c_int
    handle.snd_version.argtypes = [c_char_pp, c_char_pp]
    out, err = ctypes.c_char_p(), ctypes.c_char_p()
    rc = handle.snd_version(ctypes.byref(out), ctypes.byref(err))
    raw = ctypes.cast(out if rc == 0 else err, ctypes.c_void_p).value
    text = ctypes.string_at(raw).decode("utf-8", "replace") if raw else ""
    if raw:
        handle.snd_free(raw)
    if rc != 0:
        raise InternalError(f"{path}: snd_version failed: {text}")
    got = json.loads(text)["version"]
    if got != __version__:
        how = "without the version stamp" if got == "unstamped" else f"as version {got}"
        raise InternalError(
            f"{path} was built {how}, but this package is version {__version__}: rebuild the library "
            "with `make build` (or reinstall with `pip install ./python`), which stamps the version"
        )


def _bind(handle: ctypes.CDLL, name: str, argtypes: list[Any], restype: Any) -> None:
    fn = getattr(handle, name)
    fn.argtypes = [*argtypes, c_char_pp] if restype is ctypes.c_int else argtypes
    fn.restype = restype


def declare(name: str, *argtypes: Any, restype: Any = ctypes.c_int) -> None:
    """Declares a C symbol's parameters (without the trailing ``err_out``)."""
    _declared[name] = (list(argtypes), restype)
    if _lib is not None:
        _bind(_lib, name, list(argtypes), restype)


def declared() -> dict[str, tuple[list[Any], Any]]:
    """The declared symbols, for the header-consistency test."""
    return dict(_declared)


def call(name: str, *args: Any) -> None:
    """Calls ``name(*args, &err)`` and raises the mapped exception on failure."""
    fn = getattr(lib(), name)
    err = ctypes.c_char_p()
    rc = fn(*args, ctypes.byref(err))
    if rc != 0:
        message = take_string(err) or f"{name} failed with status {rc}"
        raise error_for(rc, message)


def take_string(p: ctypes.c_char_p) -> str:
    """Decodes and frees a string the library returned."""
    if not p.value and not p:
        return ""
    raw = ctypes.cast(p, ctypes.c_void_p).value
    if raw is None:
        return ""
    value = ctypes.string_at(raw).decode("utf-8", "replace")
    lib().snd_free(raw)
    return value


def call_string(name: str, *args: Any) -> str:
    """Calls a function whose last out-parameter (before err_out) is ``char **``."""
    out = ctypes.c_char_p()
    call(name, *args, ctypes.byref(out))
    return take_string(out)


def call_json(name: str, *args: Any) -> Any:
    """Like :func:`call_string`, decoding the result as JSON."""
    return json.loads(call_string(name, *args))


def cstr(s: str | None) -> bytes | None:
    """Encodes a Python string for a ``const char *`` parameter."""
    if s is None:
        return None
    if "\x00" in s:
        raise ValueError("strings passed to the core must not contain NUL characters")
    return s.encode("utf-8")


def to_json(obj: Any) -> bytes:
    """JSON-encodes obj for the core, rejecting NaN/inf (Go's decoder does too)."""
    return json.dumps(obj, allow_nan=False).encode("utf-8")


declare("snd_version", c_char_pp)
declare("snd_memory_stats", c_char_pp)
declare("snd_registry_register", ctypes.c_char_p, ctypes.c_int)
declare("snd_registry_get", ctypes.c_char_p, c_char_pp)
declare("snd_registry_list", c_char_pp)
declare("snd_registry_unregister", ctypes.c_char_p)


def memory_stats() -> dict[str, int]:
    """C-memory pool counters: live_bytes (held by batches), pooled_bytes, mallocs, reuses."""
    return call_json("snd_memory_stats")


def version() -> dict[str, Any]:
    """Library build information."""
    return call_json("snd_version")
