import copy
import pickle

import pytest
import torch

from kanlab import KAN


def test_width_forward_and_leading_dims():
    m = KAN(width=[2, 5, 1], grid=5, k=3, seed=0)
    assert m.width == [2, 5, 1]
    x = torch.rand(3, 4, 2)
    assert m(x).shape == (3, 4, 1)


def test_seed_is_local_and_reproducible():
    state = torch.random.get_rng_state()
    a, b, c = KAN([2, 3, 1], seed=1), KAN([2, 3, 1], seed=1), KAN([2, 3, 1], seed=2)
    assert torch.equal(torch.random.get_rng_state(), state)
    x = torch.rand(10, 2)
    assert torch.equal(a(x), b(x)) and not torch.equal(a(x), c(x))


@pytest.mark.parametrize("width", [[2], [2, 0, 1], "2,1", [2, 1.5, 1], None])
def test_bad_width(width):
    with pytest.raises(ValueError, match="width"):
        KAN(width)


def test_update_grid_and_refine_return_new_model_same_function():
    m = KAN([2, 3, 1], seed=0, dtype=torch.float64)
    x = torch.rand(500, 2, dtype=torch.float64) * 2 - 1
    m.update_grid(x)
    fine = m.refine(10)
    assert isinstance(fine, KAN) and fine is not m and fine.grid == 10 and m.grid == 5
    assert (fine(x) - m(x)).abs().max() < 1e-6


def test_deepcopy_pickle_network():
    m = KAN([2, 3, 1], seed=0)
    x = torch.rand(10, 2)
    assert torch.equal(copy.deepcopy(m)(x), m(x))
    assert torch.equal(pickle.loads(pickle.dumps(m))(x), m(x))


def test_wrong_input_columns_raise():
    m = KAN([2, 3, 1])
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        m(torch.rand(4, 3))


def test_float64_model():
    m = KAN([2, 3, 1], dtype=torch.float64)
    assert m(torch.rand(4, 2, dtype=torch.float64)).dtype == torch.float64
