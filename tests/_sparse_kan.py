"""A small sparsified KAN shared by the interpretability tests (trained once per session)."""
import copy
import functools
import math

import torch

from kanlab import KAN, create_dataset


def f5(x):
    return torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2)


@functools.lru_cache(maxsize=None)
def _trained():
    ds = create_dataset(f5, n_var=3, train_num=400, test_num=200, seed=0)
    m = KAN([3, 4, 1], seed=0)
    m.fit(ds, steps=40, lamb=1e-2, lamb_entropy=10.0, progress=False)
    return m, ds


def sparse_model():
    """(model, dataset): a fresh copy of a [3, 4, 1] KAN sparsified on f5 (input 3 irrelevant)."""
    m, ds = _trained()
    return copy.deepcopy(m), ds
