import math

import pytest
import torch

from kanlab import KAN, create_dataset


def f2(x):
    return torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2)


@pytest.fixture(scope="module")
def ds():
    return create_dataset(f2, n_var=2, train_num=300, test_num=300, seed=0)


def test_fit_lbfgs_reduces_loss_and_history(ds):
    m = KAN([2, 5, 1], grid=5, seed=0)
    h = m.fit(ds, steps=10, progress=False)
    assert len(h["train_loss"]) == 10 and len(h["test_loss"]) == 10
    assert h["test_loss"][-1] < 0.05 < h["test_loss"][0] * 10
    assert not h["stopped_nan"]


def test_fit_adam_and_batches(ds):
    m = KAN([2, 3, 1], grid=5, seed=0)
    h = m.fit(ds, opt="Adam", steps=30, lr=0.01, batch=64, progress=False)
    assert h["train_loss"][-1] < h["train_loss"][0]


def test_grid_extension_improves(ds):
    m = KAN([2, 5, 1], grid=3, seed=0)
    h1 = m.fit(ds, steps=15, progress=False)
    m = m.refine(10)
    h2 = m.fit(ds, steps=15, progress=False)
    assert h2["test_loss"][-1] < h1["test_loss"][-1]


def test_nan_loss_restores_last_good_parameters(ds):
    m = KAN([2, 3, 1], seed=0)
    m.fit(ds, steps=2, progress=False)
    calls = {"n": 0}

    def bad_loss(pred, label):
        loss = torch.mean((pred - label) ** 2)
        if not pred.requires_grad:  # the per-step test evaluation also uses a custom loss
            return loss
        calls["n"] += 1
        return loss * float("nan") if calls["n"] > 3 else loss

    with pytest.warns(RuntimeWarning, match="non-finite"):
        h = m.fit(ds, steps=5, opt="Adam", lr=1e-3, loss_fn=bad_loss, progress=False, update_grid=False)
    assert h["stopped_nan"]
    assert all(torch.isfinite(p).all() for p in m.parameters())
    assert len(h["train_loss"]) == 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps": -1}, "steps"),
        ({"opt": "SGD"}, "opt"),
        ({"lr": 0.0}, "lr"),
        ({"batch": 0}, "batch"),
        ({"lamb": -1.0}, "lamb"),
    ],
)
def test_bad_arguments(ds, kwargs, match):
    with pytest.raises(ValueError, match=match):
        KAN([2, 3, 1]).fit(ds, progress=False, **kwargs)


def test_bad_datasets(ds):
    m = KAN([2, 3, 1])
    with pytest.raises(ValueError, match="train_input"):
        m.fit({}, progress=False)
    bad = dict(ds)
    bad["train_input"] = ds["train_input"][:, :1]
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        m.fit(bad, progress=False)
    bad = dict(ds)
    bad["train_label"] = ds["train_label"][:10]
    with pytest.raises(ValueError, match="rows"):
        m.fit(bad, progress=False)
    bad = dict(ds)
    x = ds["train_input"].clone()
    x[3, 1] = float("nan")
    bad["train_input"] = x
    with pytest.raises(ValueError, match="NaN"):
        m.fit(bad, progress=False)


def test_out_of_grid_warning_without_grid_update():
    ds = create_dataset(f2, n_var=2, ranges=[-3, 3], train_num=100, test_num=10, seed=0)
    with pytest.warns(UserWarning, match="outside the spline grids"):
        KAN([2, 3, 1]).fit(ds, steps=1, update_grid=False, progress=False)


def test_accuracy_recipe_first_stage():
    """The core recipe's first stage (short form): [2,5,1], G=5, LBFGS."""
    ds = create_dataset(f2, n_var=2, train_num=1000, test_num=1000, seed=0)
    m = KAN([2, 5, 1], grid=5, k=3, seed=0)
    h = m.fit(ds, steps=20, progress=False)
    assert h["test_loss"][-1] < 1e-2


def test_cross_entropy_classification_with_accuracy_metric():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(400, 2, generator=g) * 2 - 1
    y = (x[:, 0] + 0.5 * x[:, 1] > 0.1).double()  # class index 0/1
    ds = {"train_input": x[:300], "train_label": y[:300], "test_input": x[300:], "test_label": y[300:]}
    m = KAN([2, 2, 2], grid=3, seed=0)
    h = m.fit(ds, steps=10, loss_fn="cross_entropy", metrics=["accuracy"], progress=False)
    assert len(h["accuracy"]) == 10 and h["accuracy"][-1] >= 0.95
    assert h["train_loss"][-1] < h["train_loss"][0]  # the cross-entropy itself, not an RMSE


def test_unknown_loss_or_metric_or_bad_class_labels_are_clear_errors(ds):
    from kanlab.validate import KanlabError

    m = KAN([2, 2, 2], grid=3, seed=0)
    with pytest.raises(KanlabError, match="unknown loss_fn"):
        m.fit(ds, steps=1, loss_fn="hinge", progress=False)
    with pytest.raises(KanlabError, match="unknown metric"):
        m.fit(ds, steps=1, loss_fn="cross_entropy", metrics=["f1"], progress=False)
    bad = {"train_input": ds["train_input"], "train_label": torch.full((len(ds["train_input"]),), 5.0)}
    with pytest.raises(KanlabError, match="class labels"):
        m.fit(bad, steps=1, loss_fn="cross_entropy", progress=False)


def test_parameters_own_their_storage_after_fit_even_when_interrupted(ds, tmp_path):
    m = KAN([2, 3, 1], grid=3, seed=0)
    m.fit(ds, steps=2, progress=False)
    ptrs = {p.data_ptr() for p in m.parameters() if p.numel()}
    assert len(ptrs) == len([p for p in m.parameters() if p.numel()])  # no shared flat buffer left behind

    def boom(pred, label):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        m.fit(ds, steps=2, loss_fn=boom, progress=False)
    m.save(str(tmp_path / "m.kan"))  # would fail on tensors sharing memory
    assert torch.equal(KAN.load(str(tmp_path / "m.kan"))(ds["test_input"]), m(ds["test_input"]))
