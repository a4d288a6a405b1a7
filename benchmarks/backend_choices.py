"""Which compute path a fit takes, and why: a few typical fits and one impossible request.

    python benchmarks/backend_choices.py

Prints ``history["backend"]`` and ``history["backend_reason"]`` of 3-step fits (plain MSE, the
sparsity penalty, a large grid, an explicit request) and the error of a request that cannot run.
"""
from __future__ import annotations

import math
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from kanlab import KAN, create_dataset
from kanlab.validate import KanlabError


def main() -> None:
    ds = create_dataset(lambda x: torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2), n_var=2,
                        train_num=1000, test_num=200, seed=0)
    cases = [("plain MSE", {}, {}), ("lamb=0.01", {"lamb": 0.01}, {}), ("grid 100", {}, {"grid": 100}),
             ("explicit fused-torch", {"backend": "fused-torch"}, {})]
    for label, fit_kw, model_kw in cases:
        h = KAN([2, 5, 1], seed=0, **model_kw).fit(ds, steps=3, progress=False, **fit_kw)
        print(f"{label:22s} -> {h['backend']}: {h['backend_reason']}")
    try:
        KAN([2, 5, 1], seed=0).fit(ds, steps=1, progress=False, lamb=0.01, backend="fused-numba")
    except KanlabError as e:
        print(f"{'fused-numba, lamb>0':22s} -> error: {e}")


if __name__ == "__main__":
    main()
