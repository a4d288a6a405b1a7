"""Tables larger than memory: CSV and Parquet files as a re-iterable stream of (x, y) batches.

``stream_table(path, target, batch_size)`` reads the file in chunks (pandas for CSV, pyarrow for
Parquet) and yields float tensors ``x`` (B, n_features) and ``y`` (B, 1); only one chunk is in
memory at a time. The checks are those of :func:`kanlab.datasets.tabular.read_csv`: a missing
file or column, a value that is not a number (with its line for CSV) and NaN/inf are
KanlabErrors naming the problem. Options:

- ``holdout`` / ``part``: a seeded row-level split (each row goes to "test" with probability
  ``holdout``, decided by its chunk's seeded generator: the same on every pass);
- ``rank`` / ``world_size``: this process yields only every ``world_size``-th batch, starting at
  ``rank`` (data-parallel training: each rank its own shard; every rank parses the whole file,
  which costs little next to training).
"""
from __future__ import annotations

import os

import numpy as np
import torch

from ..validate import KanlabError
from .tabular import _names

__all__ = ["stream_table", "TableStream"]

PARQUET_HINT = "reading Parquet files needs pyarrow: pip install 'kanlab[parquet]' (or pip install pyarrow)"


def stream_table(path, target: str, batch_size: int, features=None, holdout: float = 0.0, part: str = "train",
                 seed: int = 0, rank: int = 0, world_size: int = 1, chunk_rows: int = 65_536,
                 dtype=torch.float32) -> "TableStream":
    """A re-iterable stream of (x, y) batches of ``batch_size`` rows from a CSV or Parquet file."""
    return TableStream(path, target, batch_size, features, holdout, part, seed, rank, world_size, chunk_rows, dtype)


class TableStream:
    """See :func:`stream_table`. ``features`` holds the feature column names after construction."""

    def __init__(self, path, target, batch_size, features, holdout, part, seed, rank, world_size, chunk_rows, dtype):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise KanlabError(f"no such file: {self.path}")
        for name, v, lo in (("batch_size", batch_size, 1), ("world_size", world_size, 1), ("chunk_rows", chunk_rows, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise KanlabError(f"{name} must be a positive integer, got {v!r}")
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
            raise KanlabError(f"rank must be an integer in [0, world_size={world_size}), got {rank!r}")
        if not 0.0 <= holdout < 1.0 or part not in ("train", "test") or (part == "test" and holdout == 0):
            raise KanlabError(f"holdout must be in [0, 1) and part 'train' or 'test' (test needs holdout > 0); "
                              f"got holdout={holdout!r}, part={part!r}")
        self.kind = "parquet" if self.path.lower().endswith((".parquet", ".pq")) else "csv"
        self.target, self.batch_size, self.holdout, self.part, self.seed = target, batch_size, holdout, part, seed
        self.rank, self.world_size, self.chunk_rows, self.dtype = rank, world_size, -(-chunk_rows // batch_size) * batch_size, dtype
        header = self._header()
        if target not in header:
            raise KanlabError(f"column {target!r} not in {self.path}; columns are: {_names(header)}")
        if isinstance(features, str):
            features = [f.strip() for f in features.split(",")]
        self.features = list(features) if features else [h for h in header if h != target]
        missing = [f for f in self.features if f not in header]
        if missing:
            raise KanlabError(f"feature column(s) {_names(missing)} not in {self.path}; columns are: {_names(header)}")
        if not self.features:
            raise KanlabError(f"{self.path} has no feature column besides {target!r}")

    def _header(self) -> list[str]:
        if self.kind == "parquet":
            return [str(n) for n in _parquet().ParquetFile(self.path).schema_arrow.names]
        pd = _pandas()
        try:
            return [str(h).strip() for h in pd.read_csv(self.path, nrows=0).columns]
        except pd.errors.EmptyDataError:
            raise KanlabError(f"{self.path} needs a header row and at least one data row") from None

    def _chunks(self):
        """(chunk index, first data line, DataFrame) of every chunk of the file."""
        cols = self.features + [self.target]
        if self.kind == "parquet":
            pf = _parquet().ParquetFile(self.path)
            line = 0
            for i, rb in enumerate(pf.iter_batches(batch_size=self.chunk_rows, columns=cols)):
                df = rb.to_pandas()
                yield i, line, df
                line += len(df)
            return
        pd = _pandas()
        reader = pd.read_csv(self.path, usecols=lambda c: str(c).strip() in cols, chunksize=self.chunk_rows,
                             skipinitialspace=True)
        line = 2  # line numbers as in a text editor: the header is line 1
        for i, df in enumerate(reader):
            df.columns = [str(c).strip() for c in df.columns]
            yield i, line, df
            line += len(df)

    def _arrays(self, index: int, line: int, df):
        cols = self.features + [self.target]
        data = np.empty((len(df), len(cols)))
        for c, name in enumerate(cols):
            col = df[name]
            if col.dtype.kind not in "fiub":
                num = _pandas().to_numeric(col, errors="coerce")
                bad = int(np.flatnonzero(num.isna() & col.notna())[0]) if (num.isna() & col.notna()).any() else None
                if bad is not None:
                    where = f"line {line + bad}" if self.kind == "csv" else f"row {line + bad}"
                    raise KanlabError(f"{self.path} {where}, column {name!r}: {col.iloc[bad]!r} is not a number")
                col = num
            data[:, c] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = [name for c, name in enumerate(cols) if not np.isfinite(data[:, c]).all()]
        if bad:
            raise KanlabError(f"{self.path} has NaN/inf or missing values in column(s) {_names(bad)} (in the chunk "
                              f"starting at data row {line}); drop or impute them")
        if self.holdout > 0:
            test = np.random.default_rng([self.seed, index]).random(len(data)) < self.holdout
            data = data[test if self.part == "test" else ~test]
        return data

    def __iter__(self):
        batch = 0
        for index, line, df in self._chunks():
            data = self._arrays(index, line, df)
            t = torch.as_tensor(data, dtype=self.dtype)
            for s in range(0, len(t), self.batch_size):
                if batch % self.world_size == self.rank:
                    part = t[s: s + self.batch_size]
                    yield part[:, :-1], part[:, -1:]
                batch += 1


def _pandas():
    try:
        import pandas as pd
    except ImportError:
        raise KanlabError("streaming a CSV file needs pandas: pip install pandas (or kanlab[parquet])") from None
    return pd


def _parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise KanlabError(PARQUET_HINT) from None
    return pq
