"""Streaming fits (a DataLoader or any iterable of batches), the reservoir, stream_table."""
import math

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

from kanlab import KAN
from kanlab.datasets import stream_table
from kanlab.training.streaming import Reservoir
from kanlab.validate import KanlabError


def _data(n=600, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=g, dtype=torch.float64) * 2 - 1
    return x, torch.sin(math.pi * x[:, :1]) + x[:, 1:] ** 2


class _Unsized(IterableDataset):
    """An IterableDataset of unknown length yielding (x, y) batches."""

    def __init__(self, x, y, b):
        self.x, self.y, self.b = x, y, b

    def __iter__(self):
        for s in range(0, len(self.x), self.b):
            yield self.x[s:s + self.b], self.y[s:s + self.b]


def test_adam_on_a_dataloader_learns_and_reports_the_held_out_loss():
    x, y = _data()
    xt, yt = _data(200, seed=1)
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=False)
    m = KAN([2, 3, 1], grid=5, seed=0, dtype=torch.float64)
    h = m.fit(loader, opt="Adam", lr=0.02, steps=120, test_data=DataLoader(TensorDataset(xt, yt), batch_size=50),
              test_every=30, progress=False, stop_grid_update_step=60, grid_update_num=3)
    assert len(h.train_loss) == 120 and len(h.test_loss) == 5  # steps 0, 30, 60, 90 and the last
    assert h.test_loss[-1] < 0.5 * h.test_loss[0]
    full = torch.sqrt(((m(xt) - yt) ** 2).mean()).item()
    assert h.test_loss[-1] == pytest.approx(full, rel=1e-9)  # the RMSE over all test batches


def test_an_iterable_dataset_of_unknown_length_is_cycled_and_gives_the_same_fit_as_a_loader():
    x, y = _data()
    a = KAN([2, 3, 1], grid=5, seed=0, dtype=torch.float64)
    b = KAN([2, 3, 1], grid=5, seed=0, dtype=torch.float64)
    ha = a.fit(_Unsized(x, y, 100), opt="Adam", lr=0.01, steps=15, progress=False, grid_update_num=2,
               stop_grid_update_step=10)
    hb = b.fit(DataLoader(TensorDataset(x, y), batch_size=100), opt="Adam", lr=0.01, steps=15, progress=False,
               grid_update_num=2, stop_grid_update_step=10)
    assert ha.train_loss == hb.train_loss
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_streaming_rejects_lbfgs_batch_and_bad_batches_clearly():
    x, y = _data(50)
    m = KAN([2, 2, 1], grid=3, seed=0, dtype=torch.float64)
    loader = DataLoader(TensorDataset(x, y), batch_size=10)
    with pytest.raises(KanlabError, match="opt='Adam'"):
        m.fit(loader, opt="LBFGS", steps=1, progress=False)
    with pytest.raises(KanlabError, match="batch size in the loader"):
        m.fit(loader, opt="Adam", batch=5, steps=1, progress=False)
    with pytest.raises(KanlabError, match=r"pair \(x, y\)"):
        m.fit([x], opt="Adam", steps=1, progress=False)
    with pytest.raises(KanlabError, match=r"expected \(B, 2\)"):
        m.fit([(x[:, :1], y)], opt="Adam", steps=1, progress=False)
    bad = x.clone()
    bad[3, 0] = float("nan")
    with pytest.raises(KanlabError, match="NaN"):
        m.fit([(bad, y)], opt="Adam", steps=1, progress=False)
    with pytest.raises(KanlabError, match="no batch"):
        m.fit([], opt="Adam", steps=1, progress=False)
    with pytest.raises(KanlabError, match="dataset dict"):
        m.fit({"train_input": x, "train_label": y}, test_data=loader, steps=1, progress=False)


def test_grid_updates_use_the_reservoir_not_just_the_current_batch():
    # sorted data: the last batch covers only x0 in [0.8, 1]; the reservoir covers all of [-1, 1]
    x, y = _data(1000)
    order = torch.argsort(x[:, 0])
    x, y = x[order], y[order]
    m = KAN([2, 2, 1], grid=4, seed=0, dtype=torch.float64)
    m.fit(DataLoader(TensorDataset(x, y), batch_size=100), opt="Adam", lr=1e-3, steps=10, progress=False,
          update_grid=True, grid_update_num=1, start_grid_update_step=9, stop_grid_update_step=10)
    knots = m.layers[0].knots[0]
    k = m.layers[0].k
    assert knots[k] < -0.95 and knots[-k - 1] > 0.95


def test_reservoir_is_bounded_uniform_and_deterministic():
    r1, r2 = Reservoir(500, seed=3), Reservoir(500, seed=3)
    for s in range(0, 20_000, 256):
        rows = torch.arange(s, min(s + 256, 20_000), dtype=torch.float64)[:, None]
        r1.add(rows)
        r2.add(rows)
    assert r1.rows.shape == (500, 1) and r1.seen == 20_000
    assert torch.equal(r1.rows, r2.rows)
    assert len(torch.unique(r1.rows)) == 500
    mean = r1.rows.mean().item()  # uniform over 0..19999: mean 10000, sd of the mean ~ 5773/sqrt(500) = 258
    assert abs(mean - 9999.5) < 5 * 258


def _write_csv(path, n=1000, text_at=None, nan_at=None):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (n, 3))
    y = X[:, 0] * X[:, 1] + X[:, 2]
    lines = ["a,b,c,y"] + [",".join(f"{v:.17g}" for v in row) for row in np.c_[X, y]]
    if text_at is not None:
        lines[text_at] = "1,oops,3,4"
    if nan_at is not None:
        lines[nan_at] = "1,nan,3,4"
    path.write_text("\n".join(lines) + "\n")
    return X, y


def test_stream_table_reads_the_csv_in_batches_splits_and_shards(tmp_path):
    p = tmp_path / "t.csv"
    X, y = _write_csv(p)
    s = stream_table(p, "y", 128, chunk_rows=300, dtype=torch.float64)
    xs = torch.cat([b[0] for b in s])
    assert s.features == ["a", "b", "c"] and torch.equal(xs, torch.as_tensor(X))
    assert max(len(b[0]) for b in s) == 128
    tr = sum(len(b[0]) for b in stream_table(p, "y", 64, holdout=0.25))
    te = sum(len(b[0]) for b in stream_table(p, "y", 64, holdout=0.25, part="test"))
    assert tr + te == 1000 and 150 < te < 350
    shards = [torch.cat([b[0] for b in stream_table(p, "y", 100, rank=r, world_size=2, chunk_rows=200,
                                                    dtype=torch.float64)]) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 500
    assert torch.equal(torch.sort(torch.cat(shards)[:, 0]).values, torch.sort(torch.as_tensor(X[:, 0])).values)


def test_stream_table_errors_name_the_problem(tmp_path):
    p = tmp_path / "t.csv"
    _write_csv(p, text_at=7)
    with pytest.raises(KanlabError, match=r"line 8, column 'b': 'oops' is not a number"):
        list(stream_table(p, "y", 100))
    _write_csv(p, nan_at=5)
    with pytest.raises(KanlabError, match=r"NaN/inf or missing values in column\(s\) b"):
        list(stream_table(p, "y", 100))
    with pytest.raises(KanlabError, match="column 'z' not in"):
        stream_table(p, "z", 100)
    with pytest.raises(KanlabError, match="no such file"):
        stream_table(tmp_path / "none.csv", "y", 100)
    with pytest.raises(KanlabError, match="batch_size"):
        stream_table(p, "y", 0)


def test_parquet_streams_or_names_the_extra_to_install(tmp_path):
    p = tmp_path / "t.parquet"
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        p.write_bytes(b"PAR1")
        with pytest.raises(KanlabError, match=r"kanlab\[parquet\]"):
            stream_table(p, "y", 10)
        return
    import pandas as pd

    X = np.random.default_rng(0).uniform(size=(300, 2))
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": X.sum(1)}).to_parquet(p)
    xs = torch.cat([b[0] for b in stream_table(p, "y", 64, dtype=torch.float64)])
    assert torch.equal(xs, torch.as_tensor(X))
