"""The dispatcher: every backend runs where it can (and says so in the history), agrees with the
reference path, and is refused with a reason where it cannot; the automatic choice and its
fall-back report; KANLAB_NUMBA=0; the shared interval search, Horner step and base-function table."""
import functools
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from kanlab import KAN
from kanlab.core import spline
from kanlab.kernels import (base_functions, dispatch, fused_mse, large_grid, numba_basis, numba_large_grid,
                            numba_layer, numba_support, torch_basis)
from kanlab.validate import KanlabError

NUMBA = numba_support.AVAILABLE
# which kernels each backend must run (and no others) during the fit's evaluations
EXPECTED = {
    "fused-numba": {"numba-layer"},
    "fused-matmul": {"fused-torch-ops", "numba-basis"},
    "fused-torch": {"fused-torch-ops", "eager-basis"},
    "autograd-numba": {"numba-basis"},
    "autograd-torch": {"eager-basis"},
    "autograd-compile": {"compiled-basis"},
    "large-grid-numba": {"numba-large-grid"},
    "large-grid-torch": {"csr-large-grid"},
}
NUMBA_ONLY = {"fused-numba", "fused-matmul", "autograd-numba", "large-grid-numba"}


def _data(dtype, n=48):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 2, generator=g, dtype=torch.float64) * 1.8 - 0.9
    return {"train_input": x.to(dtype), "train_label": (torch.sin(2 * x[:, :1]) * x[:, 1:]).to(dtype)}


def _fit(backend, dtype, k, grid, **kw):
    """Two optimiser steps of a tiny KAN; float32 with Adam (its L-BFGS line searches branch on
    rounding differences within two steps), float64 with L-BFGS."""
    m = KAN([2, 2, 1], grid=grid, k=k, seed=0, dtype=dtype)
    opt = {"opt": "Adam", "lr": 0.01} if dtype == torch.float32 else {}
    hist = m.fit(_data(dtype), steps=2, update_grid=False, progress=False, backend=backend, **opt, **kw)
    return hist, torch.cat([p.detach().reshape(-1) for p in m.parameters()]).double()


@functools.lru_cache(maxsize=None)
def _reference(dtype, k, grid):
    return _fit("autograd-torch", dtype, k, grid)


@pytest.fixture
def ran(monkeypatch):
    """The set of kernels that ran inside a ``dispatch.using`` block (the fit's evaluations)."""
    tags = set()
    torch_basis._torch_compiled_kernels()  # built from the real eager kernels, before they are wrapped

    def spy(tag, fn):
        def wrapper(*args, **kwargs):
            if dispatch.active() is not None:
                tags.add(tag)
            return fn(*args, **kwargs)
        return wrapper

    if NUMBA:
        monkeypatch.setattr(numba_layer, "layer_forward", spy("numba-layer", numba_layer.layer_forward))
        monkeypatch.setattr(numba_basis, "features", spy("numba-basis", numba_basis.features))
        monkeypatch.setattr(numba_large_grid, "large_grid_forward", spy("numba-large-grid", numba_large_grid.large_grid_forward))
    monkeypatch.setattr(fused_mse, "_mse_and_grad", spy("fused-torch-ops", fused_mse._mse_and_grad))
    monkeypatch.setitem(torch_basis._EAGER, "features", spy("eager-basis", torch_basis._EAGER["features"]))
    monkeypatch.setattr(torch_basis, "_torch_compiled_kernels", spy("compiled-basis", torch_basis._torch_compiled_kernels))
    monkeypatch.setattr(large_grid._LargeGridCSR, "apply", spy("csr-large-grid", large_grid._LargeGridCSR.apply))
    return tags


def _cells():
    for name in dispatch.FIT_BACKENDS:
        for dtype in (torch.float32, torch.float64):
            for k in (1, 3):
                for large in (False, True):
                    # torch.compile costs ~5-10 s per (dtype, k): one family in the fast tests
                    slow = name == "autograd-compile" and (dtype, k) != (torch.float64, 3)
                    marks = [pytest.mark.slow] if slow else []
                    yield pytest.param(name, dtype, k, large, marks=marks,
                                       id=f"{name}-{str(dtype)[6:]}-k{k}-{'large' if large else 'small'}")


@pytest.mark.parametrize("name,dtype,k,large", list(_cells()))
def test_backend_matrix(name, dtype, k, large, ran):
    grid = dispatch.LARGE_GRID_MIN_BASIS - k if large else 5  # G + k at the large-grid threshold
    if name in NUMBA_ONLY and not NUMBA:
        with pytest.raises(KanlabError, match=numba_support.UNAVAILABLE_REASON):
            _fit(name, dtype, k, grid)
        return
    hist, params = _fit(name, dtype, k, grid)
    assert hist["backend"] == name and hist["backend_reason"]
    assert ran == EXPECTED[name]
    ref, ref_params = _reference(dtype, k, grid)
    tol = 1e-5 if dtype == torch.float32 else 1e-8
    assert hist["train_loss"] == pytest.approx(ref["train_loss"], rel=tol)
    assert float((params - ref_params).abs().max()) <= tol * float(ref_params.abs().max())


# ----------------------------------------------------------------------------- the automatic choice
def _choose(model, x=None, y=None, **kw):
    x = torch.rand(32, model.width[0], dtype=torch.float64) if x is None else x
    y = torch.rand(x.shape[0], model.width[-1], dtype=x.dtype) if y is None else y
    params = kw.pop("params", [p for p in model.parameters() if p.requires_grad])
    kw = {"custom_loss": False, "penalty": False, **kw}
    return dispatch.choose_fit_backend(model, x, y, params=params, **kw)


def _kernel():
    return "numba" if NUMBA else "torch"


def test_auto_plain_mse_takes_a_fused_path():
    m = KAN([2, 3, 1], grid=5, seed=0, dtype=torch.float64)
    b = _choose(m)
    assert b.name == ("fused-numba" if NUMBA else "fused-torch") and not b.fallback
    if NUMBA:  # more work than the per-layer kernels win at, or mixed dtypes: matrix products
        assert _choose(m, x=torch.rand(40_000, 2, dtype=torch.float64)).name == "fused-matmul"
        assert _choose(m, y=torch.rand(32, 1)).name == "fused-matmul"


def test_auto_penalty_falls_back_to_autograd_and_says_so_once(monkeypatch, caplog):
    monkeypatch.setattr(dispatch, "_REPORTED", set())
    m = KAN([2, 3, 1], grid=5, seed=0, dtype=torch.float64)
    with caplog.at_level(logging.WARNING, logger="kanlab"):
        hists = [m.fit(_data(torch.float64), steps=1, lamb=0.01, progress=False) for _ in range(2)]
    assert all(h["backend"] == f"autograd-{_kernel()}" for h in hists)
    assert "lamb>0" in hists[0]["backend_reason"] and "penalty" in hists[0]["backend_reason"]
    records = [r for r in caplog.records if r.name == "kanlab" and "lamb>0" in r.getMessage()]
    assert len(records) == 1 and f"instead of fused-{_kernel()}" in records[0].getMessage()


def test_fallbacks_that_differ_only_in_numbers_are_reported_once(monkeypatch, caplog):
    monkeypatch.setattr(dispatch, "_REPORTED", set())
    with caplog.at_level(logging.WARNING, logger="kanlab"):
        dispatch.report_fallback("kanlab fit: layer 0 has 3 symbolic edge(s), using autograd")
        dispatch.report_fallback("kanlab fit: layer 0 has 4 symbolic edge(s), using autograd")
        dispatch.report_fallback("kanlab fit: lamb>0: the sparsity penalty needs autograd")
    messages = [r.getMessage() for r in caplog.records if r.name == "kanlab"]
    assert messages == ["kanlab fit: layer 0 has 3 symbolic edge(s), using autograd",
                        "kanlab fit: lamb>0: the sparsity penalty needs autograd"]


def test_auto_custom_loss_symbolic_edge_frozen_parameters_and_large_grid():
    m = KAN([2, 2, 1], grid=5, seed=0, dtype=torch.float64)
    b = _choose(m, custom_loss=True)
    assert b.name == f"autograd-{_kernel()}" and "custom loss" in b.reason and b.fallback
    assert "not every parameter is trained" in _choose(m, params=list(m.parameters())[1:]).reason
    m.fix_symbolic(0, 0, 0, "x", fit_params=False, params=(1.0, 0.0, 1.0, 0.0))
    b = _choose(m)
    assert b.name == f"autograd-{_kernel()}" and "symbolic" in b.reason
    big = KAN([2, 2, 1], grid=70, seed=0, dtype=torch.float64)
    b = _choose(big)
    assert b.name == f"large-grid-{_kernel()}" and "G + k = 73" in b.reason and not b.fallback
    big.layers[0].large_grid = big.layers[1].large_grid = False  # the layers' own choice: dense, so fused
    assert _choose(big).name.startswith("fused")


def test_impossible_and_unknown_requests_are_clear_errors():
    m = KAN([2, 2, 1], grid=5, seed=0, dtype=torch.float64)
    with pytest.raises(KanlabError, match="lamb>0.*Possible here: autograd"):
        _choose(m, penalty=True, requested="fused-torch")
    with pytest.raises(KanlabError, match="custom loss"):
        _choose(m, custom_loss=True, requested="fused-numba")
    with pytest.raises(KanlabError, match="unknown backend 'fast'"):
        _choose(m, requested="fast")
    half = torch.rand(8, 2).half()
    with pytest.raises(KanlabError, match="float16" if NUMBA else numba_support.UNAVAILABLE_REASON):
        _choose(m, x=half, y=torch.rand(8, 1).half(), requested="autograd-numba")
    m.layers[0].large_grid = True
    with pytest.raises(KanlabError, match="large_grid=True"):
        _choose(m, requested="autograd-torch")
    assert _choose(m, requested="large-grid-torch").name == "large-grid-torch"


def test_layer_rules_follow_the_active_backend():
    layer = KAN([2, 2, 1], grid=5, seed=0).layers[0]
    assert not layer.uses_large_grid()
    with dispatch.using("large-grid-torch"):
        assert layer.uses_large_grid()
        assert dispatch.basis_kernel(torch.rand(3, 2)) == "torch"
        assert dispatch.large_grid_kernel(torch.rand(3, 2)) == "torch"
        assert not dispatch.lbfgs_uses_numba(torch.rand(3))
        layer.large_grid = False  # the layer's own setting wins
        assert not layer.uses_large_grid()
    assert dispatch.active() is None
    with dispatch.using("autograd-compile"):
        assert dispatch.basis_kernel(torch.rand(3, 2)) == "compile"
    assert dispatch.basis_kernel(torch.rand(3, 2)) == _kernel()


# ----------------------------------------------------------------------------- KANLAB_NUMBA=0
_NO_NUMBA = """
import sys, torch, kanlab
from kanlab import KAN
from kanlab.kernels import dispatch
from kanlab.training import lbfgs_history
x = torch.rand(30, 2, dtype=torch.float64)
ds = {"train_input": x, "train_label": x[:, :1] * x[:, 1:]}
runs = [(KAN([2, 2, 1], grid=5, seed=0, dtype=torch.float64), kw) for kw in
        ({}, {"lamb": 0.01}, {"loss_fn": lambda p, y: ((p - y) ** 2).mean()})]
runs.append((KAN([2, 2, 1], grid=70, seed=0, dtype=torch.float64), {}))
names = [m.fit(ds, steps=2, progress=False, **kw)["backend"] for m, kw in runs]
assert names == ["fused-torch", "autograd-torch", "autograd-torch", "large-grid-torch"], names
assert not dispatch.lbfgs_uses_numba(torch.zeros(3)) and not hasattr(lbfgs_history.two_loop, "py_func")
try:
    runs[0][0].fit(ds, steps=1, progress=False, backend="fused-numba")
    raise SystemExit("fused-numba was accepted")
except kanlab.validate.KanlabError as e:
    assert "KANLAB_NUMBA=0" in str(e), e
assert "numba" not in sys.modules, "numba was imported"
print("ok")
"""


def test_kanlab_numba_0_reaches_every_choice():
    env = dict(os.environ, KANLAB_NUMBA="0")
    out = subprocess.run([sys.executable, "-c", _NO_NUMBA], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


# ----------------------------------------------------------------------------- shared kernels
def _knot_sets():
    g = torch.Generator().manual_seed(0)
    uneven = torch.cat([torch.zeros(1, 1, dtype=torch.float64), (torch.rand(1, 150, generator=g, dtype=torch.float64)
                                                                 + 0.05).cumsum(1)], 1)
    return {"short": spline.uniform_knots(1, 5, 3, dtype=torch.float64),  # 12 knots: counted
            "row-count": spline.uniform_knots(1, 50, 3, dtype=torch.float64),  # 57: counted per row
            "long-uniform": spline.uniform_knots(1, 200, 3, dtype=torch.float64),  # guessed
            "long-uneven": uneven / uneven[:, -1:] * 2 - 1}  # guess misses: searched


@pytest.mark.skipif(not NUMBA, reason="numba is not installed")
@pytest.mark.parametrize("which", ["short", "row-count", "long-uniform", "long-uneven"])
def test_numba_interval_search_equals_searchsorted(which):
    from kanlab.kernels import numba_spline

    knots = _knot_sets()[which]
    g = torch.Generator().manual_seed(1)
    x = torch.cat([torch.rand(300, generator=g, dtype=torch.float64) * 2.6 - 1.3, knots[0, ::7],
                   torch.tensor([-np.inf, np.inf], dtype=torch.float64)])
    ref = torch.searchsorted(knots[0].contiguous(), x, right=True).numpy()
    t = knots.numpy()
    assert [numba_spline.interval(float(v), t, 0) for v in x] == list(ref)
    out = np.empty((1, x.numel()), dtype=np.int64)
    numba_spline.intervals(x.numpy()[None, :].copy(), t, 0, out)
    assert list(out[0]) == list(ref)
    assert numba_spline.interval(float("nan"), t, 0) == 0


def test_torch_interval_search_by_count_equals_searchsorted():
    knots = _knot_sets()["long-uneven"]
    x = torch.rand(200, 1, dtype=torch.float64) * 2.6 - 1.3
    ref = torch.searchsorted(knots[0].contiguous(), x[:, 0], right=True)[:, None]
    assert torch.equal(torch_basis.knot_interval(x, knots), ref)
    assert torch.equal(torch_basis.knot_interval(x, knots, by_count=True), ref)


@pytest.mark.skipif(not NUMBA, reason="numba is not installed")
@pytest.mark.parametrize("k", [1, 3])
def test_numba_horner_equals_cox_de_boor_values_and_derivatives(k):
    from kanlab.kernels import numba_spline

    knots = _knot_sets()["long-uneven"][:, :20].contiguous()
    n_basis = knots.shape[1] - 1 - k
    _, E, th, _ = torch_basis.horner_tables(spline.basis_table(knots, k), k, n_basis)
    x = (torch.rand(50, 1, dtype=torch.float64) * (knots[0, -1] - knots[0, 0]) + knots[0, 0]).requires_grad_()
    ref = spline.cox_de_boor(x, knots, k)[:, 0]  # (50, n_basis)
    dref = torch.stack([torch.autograd.grad(ref[:, m].sum(), x, retain_graph=True)[0][:, 0] for m in range(n_basis)], 1)
    t, E, th = knots.numpy(), E.numpy(), th.numpy()
    for a, v in enumerate(x.detach()[:, 0].tolist()):
        j = numba_spline.interval(v, t, 0)
        row = j  # input 0: rows 0..n_knots
        s = (v - th[row, 0]) * th[row, 1]
        for r in range(k + 1):
            c = j - k - 1 + r
            if 0 <= c < n_basis:
                assert abs(numba_spline.horner(E, row, s, k, r) - float(ref[a, c])) < 1e-12
                assert abs(numba_spline.horner(E, row, s, k, k + 1 + r) * th[row, 1] - float(dref[a, c])) < 1e-9


@pytest.mark.parametrize("name", sorted(base_functions.BASE_FUNCTIONS))
def test_base_function_table_rows_agree_with_every_user(name):
    from kanlab.core.layer import BASE_FUNCTIONS as LAYER_BASE
    from kanlab.export import exportable

    b = base_functions.BASE_FUNCTIONS[name]
    assert sorted(f.code for f in base_functions.BASE_FUNCTIONS.values()) == [0, 1, 2, 3]
    x = torch.linspace(-3, 3, 41, dtype=torch.float64, requires_grad=True)
    g = torch.rand(41, dtype=torch.float64)
    y = b.forward(x)
    (dx,) = torch.autograd.grad(y, x, g) if y.requires_grad else (torch.zeros_like(x),)
    torch.testing.assert_close(b.backward(g, x.detach()), dx)
    assert LAYER_BASE[name] is b.forward
    if NUMBA:  # the numba kernels' base from the precursor, by code
        xd = x.detach()
        pre = b.precursor(xd) if b.precursor is not None else xd
        for a in range(0, 41, 5):
            val, der = numba_layer._base(float(xd[a]), float(pre[a]), b.code)
            assert abs(val - float(y[a])) < 1e-12 and abs(der * float(g[a]) - float(dx[a])) < 1e-12
    m = KAN([2, 2, 1], grid=4, seed=0, base_fun=name, dtype=torch.float64)  # the exported model, by code
    z = torch.rand(9, 2, dtype=torch.float64) * 2 - 1
    torch.testing.assert_close(exportable(m)(z), m(z), atol=1e-12, rtol=0)
