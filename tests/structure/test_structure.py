"""kanlab.structure: separability, symmetries and the structure tree on known functions."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from kanlab import KAN, structure
from kanlab.validate import KanlabError

RNG = np.random.default_rng(0)
X = RNG.uniform(-1, 1, (200, 3))        # a box around 0
XP = RNG.uniform(0.5, 2.0, (200, 3))    # a positive box (prod / ratio symmetries can be tested)


def add_sin(X):
    return X[:, 0] + np.sin(X[:, 1])         # x2 unused


def prod3(X):
    return X[:, 0] * X[:, 1] * np.exp(X[:, 2])


def diff_sq(X):
    return (X[:, 0] - X[:, 1]) ** 2 + X[:, 2]


def tangled(X):
    return np.sin(3 * X[:, 0] * X[:, 1]) + np.cos(3 * X[:, 1] * X[:, 2]) + X[:, 0] * X[:, 2] ** 2


def test_additive_finds_the_groups_and_the_unused_variable():
    r = structure.additive_separability(add_sin, X)
    assert r.separable and r.groups == [[0], [1]] and r.unused == [2]
    assert all(res <= r.tol for _, _, res in r.tests)
    r = structure.additive_separability(diff_sq, X)
    assert r.groups == [[0, 1], [2]]
    assert not structure.additive_separability(prod3, X)


def test_multiplicative_finds_three_factors_and_rejects_a_sum():
    r = structure.multiplicative_separability(prod3, X)
    assert r.separable and r.groups == [[0], [1], [2]]
    assert not structure.multiplicative_separability(diff_sq, X)


def test_given_groups_are_tested_with_their_residuals():
    ok = structure.additive_separability(diff_sq, X, groups=[[0, 1], [2]])
    bad = structure.additive_separability(diff_sq, X, groups=[[0], [1, 2]])
    assert ok.separable and not bad.separable
    assert bad.tests[0][2] > 10 * bad.tol > 10 * ok.tests[0][2]


def test_general_separability_rank_two_split():
    r = structure.general_separability(lambda X: np.sin(X[:, 0] + X[:, 1] * X[:, 2]), X)
    assert r.separable and r.groups == [[0], [1, 2]]          # sin a cos b + cos a sin b
    assert not structure.multiplicative_separability(lambda X: np.sin(X[:, 0] + X[:, 1] * X[:, 2]), X)


def test_non_separable_function_is_rejected_everywhere():
    for test in (structure.additive_separability, structure.multiplicative_separability,
                 structure.general_separability):
        r = test(tangled, X)
        assert not r.separable and r.groups == [[0, 1, 2]]
    assert not structure.symmetries(tangled, XP).found


def test_symmetries_find_the_pair_and_its_combination():
    s = structure.symmetries(diff_sq, X)
    assert [(v.kind, v.i, v.j) for v in s.found] == [("diff", 0, 1)] and s.found[0].combination == "x0 - x1"
    s = structure.symmetries(prod3, XP)
    assert ("prod", 0, 1) in [(v.kind, v.i, v.j) for v in s.found]
    assert not any(v.kind in ("prod", "ratio") for v in structure.symmetries(prod3, X).found)  # untestable off 0
    s = structure.symmetries(lambda X: np.log(X[:, 0] / X[:, 1]) * X[:, 2], XP, pairs=[(0, 1)])
    assert [v.kind for v in s.found] == ["ratio"]


def test_torch_data_calls_f_on_tensors_and_a_model_works():
    Xt = torch.tensor(X)
    r = structure.additive_separability(lambda x: x[:, 0] + torch.sin(x[:, 1]), Xt)
    assert r.groups == [[0], [1]]
    model = KAN(width=[2, 1], grid=5, k=3, seed=0)   # a one-layer KAN is additive by construction
    r = structure.additive_separability(model, torch.rand(100, 2) * 2 - 1)
    assert r.separable and r.groups == [[0], [1]]


@pytest.mark.parametrize("f,data,leaves,label,children", [
    (add_sin, X, 2, "+", ["x0", "x1"]),
    (prod3, X, 3, "×", ["x0", "x1", "x2"]),
    (diff_sq, X, 3, "+", ["x0 − x1(x0, x1)", "x2"]),
    (tangled, X, 3, "f", ["x0", "x1", "x2"]),
])
def test_tree_finds_the_structure_and_draws_every_leaf(f, data, leaves, label, children, tmp_path):
    root = structure.find_tree(f, data)
    assert len(root.leaves()) == leaves
    assert root.label == label and sorted(map(str, root.children)) == children
    fig = structure.tree(f, data, path=tmp_path / "tree.png")
    assert sum(t.get_gid() == "leaf" for t in fig.axes[0].texts) == leaves
    assert (tmp_path / "tree.png").stat().st_size > 0


def test_tree_of_products_is_one_times_node():
    root = structure.find_tree(prod3, X, names=["a", "b", "c"])
    assert root.label == "×" and sorted(c.label for c in root.children) == ["a", "b", "c"]


def test_errors_name_the_fix():
    with pytest.raises(KanlabError, match="exactly one"):
        structure.additive_separability(add_sin)
    with pytest.raises(KanlabError, match="one value per row"):
        structure.additive_separability(lambda X: X[:5, 0], X)
    with pytest.raises(KanlabError, match="not finite"):
        structure.additive_separability(lambda X: np.log(X[:, 0]), X)
    with pytest.raises(KanlabError, match="groups must be"):
        structure.additive_separability(add_sin, X, groups=[[0, 1]])
    with pytest.raises(KanlabError, match="constant"):
        structure.symmetries(lambda X: 0 * X[:, 0], X)
    r = structure.additive_separability(add_sin, bounds=[(-1, 1)] * 3)
    assert r.groups == [[0], [1]]
