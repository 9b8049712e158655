"""Exceptions raised by structure_net_data, one per core status code.

Each class also inherits the builtin a Python user would naturally catch
(``ValueError``, ``KeyError``, ``OSError``...), so ``except ValueError`` keeps
working for bad arguments.
"""

from __future__ import annotations

__all__ = [
    "StructureNetDataError",
    "InvalidArgumentError",
    "NotFoundError",
    "DatasetNotFoundError",
    "CorruptDataError",
    "StorageIOError",
    "ClosedError",
    "UnsupportedError",
    "InternalError",
    "ChecksumError",
    "ConflictError",
    "UnavailableError",
    "InvalidHandleError",
    "OutOfMemoryError",
    "ForkError",
]


class StructureNetDataError(Exception):
    """Base class of every error this package raises."""

    code = -1


class InvalidArgumentError(StructureNetDataError, ValueError):
    code = 1


class NotFoundError(StructureNetDataError, KeyError):
    code = 2

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class DatasetNotFoundError(NotFoundError):
    """An unknown dataset name; the message lists the available ones."""


class CorruptDataError(StructureNetDataError, ValueError):
    code = 3


class StorageIOError(StructureNetDataError, OSError):
    code = 4


class ClosedError(StructureNetDataError, ValueError):
    code = 5


class UnsupportedError(StructureNetDataError, NotImplementedError):
    code = 6


class InternalError(StructureNetDataError, RuntimeError):
    """A bug in the core, including a recovered Go panic."""

    code = 7


class ChecksumError(CorruptDataError):
    code = 8


class ConflictError(StructureNetDataError, FileExistsError):
    code = 9


class UnavailableError(StructureNetDataError, ConnectionError):
    code = 10


class InvalidHandleError(StructureNetDataError, ValueError):
    code = 11


class OutOfMemoryError(StructureNetDataError, MemoryError):
    """The core could not allocate C memory for a result."""

    code = 12


class ForkError(StructureNetDataError, RuntimeError):
    """The Go core was used in a process forked after it was loaded."""


_BY_CODE = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        NotFoundError,
        CorruptDataError,
        StorageIOError,
        ClosedError,
        UnsupportedError,
        InternalError,
        ChecksumError,
        ConflictError,
        UnavailableError,
        InvalidHandleError,
        OutOfMemoryError,
    )
}


def error_for(code: int, message: str) -> StructureNetDataError:
    """Returns the exception for a core status code."""
    return _BY_CODE.get(code, InternalError)(message)
