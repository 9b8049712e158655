"""The one base class of every Python object that owns a core handle."""

from __future__ import annotations

import ctypes

from . import _lib
from .errors import ClosedError


class Handle:
    """Owns one opaque core handle.

    ``close()`` is idempotent, the object is a context manager, ``__del__``
    closes a forgotten handle, and any use after close raises
    :class:`~structure_net_data.errors.ClosedError`. Subclasses set
    ``_close_function`` (the ``snd_*_close`` symbol) and call ``_adopt``.
    """

    _close_function: str = ""
    _handle: ctypes.c_uint64 | None = None

    def _adopt(self, handle: ctypes.c_uint64) -> None:
        self._handle = handle

    @property
    def handle(self) -> int:
        """The raw handle id; raises ClosedError once closed."""
        if self._handle is None or not self._handle.value:
            raise ClosedError(f"{type(self).__name__} is closed")
        return self._handle.value

    @property
    def closed(self) -> bool:
        return self._handle is None or not self._handle.value

    def close(self) -> None:
        """Releases the handle. Safe to call twice."""
        if not self.closed:
            _lib.call(self._close_function, ctypes.byref(self._handle))

    def __enter__(self):  # noqa: ANN204 - returns the subclass
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # never raise from a finalizer, e.g. at interpreter exit
            pass
