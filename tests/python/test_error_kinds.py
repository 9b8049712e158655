"""Wrapped errors reach Python as the outermost kind's exception class: the
core reports what went wrong for the caller (a damaged file is corrupt data),
not a detail of how it was found out."""

from __future__ import annotations

import json

import pytest
from structure_net_data import errors
from structure_net_data.time_series_storage import TimeSeriesConfig, TimeSeriesStorage


def test_a_damaged_history_is_corrupt_data_not_a_bad_argument(tmp_path) -> None:
    # A row batch whose column is shorter than the batch fails the table's own
    # check (an invalid-argument error inside the core); read from a file,
    # that is corrupt data, and the caller's arguments were fine.
    storage = TimeSeriesStorage(TimeSeriesConfig(storage_dir=str(tmp_path), use_hdf5=False))
    key = storage.store_training_history("exp-1", [{"epoch": i, "loss": 1.0 / (i + 1)} for i in range(3)])
    path = storage.history_path(key)
    lines = path.read_text().splitlines()
    rows = next(i for i, line in enumerate(lines) if line.startswith('{"rows"'))
    batch = json.loads(lines[rows])
    batch["rows"]["columns"][0]["int64"].pop()
    lines[rows] = json.dumps(batch, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")
    storage.close()

    storage = TimeSeriesStorage(TimeSeriesConfig(storage_dir=str(tmp_path), use_hdf5=False))
    with pytest.raises(errors.CorruptDataError, match="has 2 values for 3 rows") as info:
        storage.retrieve_training_history(key)
    assert type(info.value) is errors.CorruptDataError
    assert str(path) in str(info.value)
    storage.close()
