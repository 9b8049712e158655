"""Routes the Go core's zerolog records into Python's ``logging``.

Records go to the ``data_factory.core`` logger (so the guide's
``logging.getLogger('data_factory').setLevel(logging.DEBUG)`` shows the core's
debug output), or to ``structure_net_data.core`` when only that one is
enabled for the level. Fields other than the message arrive as ``record.core``.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import logging

from . import _lib

_LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
_lib.declare("snd_set_log_callback", _LOG_FN, ctypes.c_int, ctypes.c_void_p)

# zerolog levels: -1 trace, 0 debug, 1 info, 2 warn, 3 error, 4 fatal, 5 panic.
_LEVELS = {-1: logging.DEBUG, 0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR}
_LOGGERS = (logging.getLogger("data_factory.core"), logging.getLogger("structure_net_data.core"))


def _on_record(level: int, raw: bytes, _user: object) -> None:
    try:
        py_level = _LEVELS.get(level, logging.CRITICAL)
        logger = next((lg for lg in _LOGGERS if lg.isEnabledFor(py_level)), None)
        if logger is None:
            return
        fields = json.loads(raw)
        message = fields.pop("message", "")
        for key in ("level", "time", "lib"):
            fields.pop(key, None)
        details = " ".join(f"{k}={v}" for k, v in fields.items())
        logger.log(py_level, f"{message} {details}".strip(), extra={"core": fields})
    except Exception:  # a log record must never break the core's caller
        pass


_callback = _LOG_FN(_on_record)
_installed = False


def install() -> None:
    """Installs the bridge (idempotent). Called on first library use."""
    global _installed
    if not _installed:
        _lib.call("snd_set_log_callback", _callback, ctypes.c_int(0), None)
        _installed = True
        atexit.register(_uninstall)


def _uninstall() -> None:
    # Go threads must not call into an interpreter that is shutting down.
    global _installed
    if _installed:
        try:
            _lib.call("snd_set_log_callback", _LOG_FN(), ctypes.c_int(2), None)
        except Exception:
            pass
        _installed = False
