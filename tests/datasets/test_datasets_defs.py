"""Definitions of the paper's toy, special and Feynman data sets (kanlab.datasets.{toy,special,feynman})."""
import dataclasses
import itertools
import math
import pickle

import mpmath
import numpy as np
import pytest
import scipy.special as sps
import sympy as sp
import torch

from kanlab.datasets.feynman import FEYNMAN, FeynmanEquation, feynman_equation
from kanlab.datasets.special import SPECIAL_FUNCTIONS, SpecialFunction, special_function
from kanlab.datasets.toy import TOY_FUNCTIONS, ToyFunction, toy_function

TOY_NAMES = ["bessel", "exp_sin", "xy", "exp_sin_100d", "exp_sin_4d"]
SPECIAL_NAMES = ["ellipj", "ellipkinc", "ellipeinc", "jv", "yv", "kv", "iv", "lpmv_m0", "lpmv_m1",
                 "lpmv_m2", "sph_harm_m0_n1", "sph_harm_m1_n1", "sph_harm_m0_n2", "sph_harm_m1_n2",
                 "sph_harm_m2_n2"]
FEYNMAN_IDS = ["I.6.2", "I.6.2b", "I.9.18", "I.12.11", "I.13.12", "I.15.3x", "I.16.6", "I.18.4",
               "I.26.2", "I.27.6", "I.29.16", "I.30.3", "I.30.5", "I.37.4", "I.40.1", "I.44.4",
               "I.50.26", "II.2.42", "II.6.15a", "II.11.7", "II.11.27", "II.35.18", "II.36.38",
               "II.38.3", "III.9.52", "III.10.19", "III.17.37"]
ALL = ([("toy", e) for e in TOY_FUNCTIONS.values()] + [("special", e) for e in SPECIAL_FUNCTIONS.values()]
       + [("feynman", e) for e in FEYNMAN.values()])
IDS = [f"{k}:{e.name}" for k, e in ALL]


def uniform(entry, n, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    r = torch.tensor(entry.ranges, dtype=torch.float64)
    x = r[:, 0] + (r[:, 1] - r[:, 0]) * torch.rand(n, entry.n_var, generator=g, dtype=torch.float64)
    return x.to(dtype)


def corners(entry):
    return torch.tensor(list(itertools.product(*entry.ranges)), dtype=torch.float64)


# ---------------------------------------------------------------- registries and lookup

def test_names_and_order():
    assert list(TOY_FUNCTIONS) == TOY_NAMES
    assert list(SPECIAL_FUNCTIONS) == SPECIAL_NAMES
    assert list(FEYNMAN) == FEYNMAN_IDS
    assert all(isinstance(e, ToyFunction) for e in TOY_FUNCTIONS.values())
    assert all(isinstance(e, SpecialFunction) for e in SPECIAL_FUNCTIONS.values())
    assert all(isinstance(e, FeynmanEquation) for e in FEYNMAN.values())


@pytest.mark.parametrize("getter,registry,bad", [(toy_function, TOY_FUNCTIONS, "besel"),
                                                 (special_function, SPECIAL_FUNCTIONS, "sph_harm"),
                                                 (feynman_equation, FEYNMAN, "I.6.20")])
def test_lookup(getter, registry, bad):
    for name, e in registry.items():
        assert getter(name) is e
    with pytest.raises(ValueError) as info:
        getter(bad)
    msg = str(info.value)
    assert repr(bad) in msg and all(name in msg for name in registry)
    with pytest.raises(ValueError):
        getter(None)


@pytest.mark.parametrize("kind,e", ALL, ids=IDS)
def test_entry_fields(kind, e):
    assert e.n_var == len(e.var_names) == len(e.ranges) >= 1
    assert all(isinstance(v, str) and v.isidentifier() for v in e.var_names)
    assert len(set(e.var_names)) == e.n_var
    assert all(float(lo) < float(hi) and math.isfinite(lo) and math.isfinite(hi) for lo, hi in e.ranges)
    assert isinstance(e.paper_shape, list) and e.paper_shape[0] == e.n_var and e.paper_shape[-1] == 1
    assert isinstance(e.paper, dict) and isinstance(e.paper["uncertain"], bool)
    assert isinstance(e.formula, str) and e.formula
    if kind != "toy":
        assert e.notes  # every chosen range is documented
    if e.sympy is not None:
        used = {str(s) for s in e.sympy.free_symbols}
        assert used <= set(e.var_names)
        unused = {"azimuth"} if e.name.startswith("sph_harm_m0") else set()  # Y_n^0: no azimuth
        assert used == set(e.var_names) - unused
    else:
        assert kind == "special" and "scipy" in e.formula
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.name = "other"


# ---------------------------------------------------------------- values: finite, scaled, dtype

@pytest.mark.parametrize("kind,e", ALL, ids=IDS)
def test_finite_and_scaled_on_box(kind, e):
    x = uniform(e, 10_000)
    y = e.f(x)
    assert y.shape == (10_000, 1) and y.dtype == torch.float64
    assert bool(torch.isfinite(y).all())
    assert float(y.std()) > 1e-3
    if e.n_var <= 8:  # the closed box's corners too
        assert bool(torch.isfinite(e.f(corners(e))).all())


@pytest.mark.parametrize("kind,e", ALL, ids=IDS)
def test_float32_and_shape_errors(kind, e):
    x = uniform(e, 64)
    y64 = e(x)
    y32 = e.f(x.float())
    assert y32.dtype == torch.float32 and y32.shape == (64, 1)
    assert torch.allclose(y32.double(), y64, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        e.f(x[:, :1] if e.n_var > 1 else torch.zeros(4, 2, dtype=torch.float64))
    with pytest.raises(ValueError):
        e.f(x[0])


def test_entries_pickle():
    for e in (TOY_FUNCTIONS["bessel"], SPECIAL_FUNCTIONS["jv"], FEYNMAN["I.6.2"]):
        e2 = pickle.loads(pickle.dumps(e))
        x = uniform(e, 8)
        assert e2.name == e.name and torch.equal(e2.f(x), e.f(x))
        assert hash(e2) == hash(e) and len({e, e2}) == 1


# ---------------------------------------------------------------- toy

def test_toy_definitions():
    assert all(r == (-1.0, 1.0) for e in TOY_FUNCTIONS.values() for r in e.ranges)
    assert [TOY_FUNCTIONS[n].n_var for n in TOY_NAMES] == [1, 2, 2, 100, 4]
    assert [TOY_FUNCTIONS[n].paper_shape for n in TOY_NAMES] == [[1, 1], [2, 1, 1], [2, 2, 1], [100, 1, 1],
                                                                 [4, 4, 2, 1]]
    x = uniform(TOY_FUNCTIONS["bessel"], 200)
    assert np.allclose(TOY_FUNCTIONS["bessel"].f(x).numpy()[:, 0], sps.j0(20 * x.numpy()[:, 0]), atol=1e-12)


@pytest.mark.parametrize("name", TOY_NAMES)
def test_toy_sympy_matches_f(name):
    e = TOY_FUNCTIONS[name]
    fn = sp.lambdify(e.symbols, e.sympy, modules=["scipy", "numpy"])
    x = uniform(e, 100, seed=1)
    ref = np.broadcast_to(fn(*x.numpy().T), (100,))
    assert np.allclose(e.f(x).numpy()[:, 0], ref, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- special

def test_special_dense_grid_finite():
    t = torch.linspace(0, 1, 201, dtype=torch.float64)
    u, v = torch.meshgrid(t, t, indexing="ij")
    for e in SPECIAL_FUNCTIONS.values():
        (a0, a1), (b0, b1) = e.ranges
        x = torch.stack([a0 + (a1 - a0) * u.reshape(-1), b0 + (b1 - b0) * v.reshape(-1)], dim=1)
        y = e.f(x)
        assert bool(torch.isfinite(y).all()), e.name
        assert float(y.std()) > 1e-3 and float(y.abs().max()) < 10, e.name


def test_special_against_scipy_calls():
    x = uniform(SPECIAL_FUNCTIONS["ellipj"], 300, seed=2).numpy()
    np.testing.assert_allclose(SPECIAL_FUNCTIONS["ellipj"].f(torch.from_numpy(x)).numpy()[:, 0],
                               sps.ellipj(x[:, 0], x[:, 1])[0])  # sn is the fitted component
    u = torch.linspace(-2, 2, 9, dtype=torch.float64)
    sn0 = SPECIAL_FUNCTIONS["ellipj"].f(torch.stack([u, torch.zeros_like(u)], 1))[:, 0]
    assert torch.allclose(sn0, torch.sin(u))  # sn(u|0) = sin u
    for name, call in [("jv", sps.jv), ("yv", sps.yv), ("kv", sps.kv), ("iv", sps.iv),
                       ("ellipkinc", sps.ellipkinc), ("ellipeinc", sps.ellipeinc)]:
        x = uniform(SPECIAL_FUNCTIONS[name], 100, seed=3).numpy()
        np.testing.assert_allclose(SPECIAL_FUNCTIONS[name].f(torch.from_numpy(x)).numpy()[:, 0],
                                   call(x[:, 0], x[:, 1]))
    for m in (0, 1, 2):
        x = uniform(SPECIAL_FUNCTIONS[f"lpmv_m{m}"], 100, seed=4).numpy()
        np.testing.assert_allclose(SPECIAL_FUNCTIONS[f"lpmv_m{m}"].f(torch.from_numpy(x)).numpy()[:, 0],
                                   sps.lpmv(m, x[:, 0], x[:, 1]))
    for m, n in [(0, 1), (1, 1), (0, 2), (1, 2), (2, 2)]:
        e = SPECIAL_FUNCTIONS[f"sph_harm_m{m}_n{n}"]
        assert e.var_names == ("azimuth", "polar")
        assert e.ranges == ((0.0, 2 * math.pi), (0.0, math.pi))
        x = uniform(e, 100, seed=5).numpy()
        np.testing.assert_allclose(e.f(torch.from_numpy(x)).numpy()[:, 0],
                                   sps.sph_harm_y(n, m, x[:, 1], x[:, 0]).real, atol=1e-14)


def test_sph_harm_m0_independent_of_azimuth():
    polar = torch.linspace(0, math.pi, 7, dtype=torch.float64)
    for name in ("sph_harm_m0_n1", "sph_harm_m0_n2"):
        e = SPECIAL_FUNCTIONS[name]
        ys = [e.f(torch.stack([torch.full_like(polar, az), polar], 1)) for az in (0.0, 1.0, 4.0)]
        assert torch.allclose(ys[0], ys[1], atol=1e-14) and torch.allclose(ys[0], ys[2], atol=1e-14)


_MPMATH = [{"besselj": mpmath.besselj, "bessely": mpmath.bessely, "besselk": mpmath.besselk,
            "besseli": mpmath.besseli, "elliptic_f": mpmath.ellipf, "elliptic_e": mpmath.ellipe,
            "legendre": mpmath.legendre, "assoc_legendre": lambda n, m, x: mpmath.legenp(n, m, x)}, "mpmath"]


@pytest.mark.parametrize("name", [n for n in SPECIAL_NAMES if n != "ellipj"])
def test_special_sympy_matches_f(name):
    e = SPECIAL_FUNCTIONS[name]
    fn = sp.lambdify(e.symbols, e.sympy, modules=_MPMATH)
    x = uniform(e, 12, seed=6)
    ref = np.array([float(mpmath.re(fn(*map(float, row)))) for row in x.numpy()])
    np.testing.assert_allclose(e.f(x).numpy()[:, 0], ref, rtol=1e-9, atol=1e-12)


def test_special_paper_numbers():
    e = SPECIAL_FUNCTIONS["iv"]
    assert e.paper["best_shape"] == e.paper_shape == e.best_shape == [2, 4, 3, 2, 1, 1]
    assert e.paper["best_rmse"] == 9.28e-3 and e.paper["mlp_rmse"] == 1.07e-2
    e = SPECIAL_FUNCTIONS["sph_harm_m0_n2"]
    assert e.min_shape == [2, 1, 1] and e.paper["min_rmse"] == 1.95e-7
    for e in SPECIAL_FUNCTIONS.values():
        p = e.paper
        assert p["best_rmse"] <= p["min_rmse"] < 1e-2 and p["min_shape"][0] == 2
        assert e.n_var == 2 and not p["uncertain"]


# ---------------------------------------------------------------- Feynman

@pytest.mark.parametrize("fid", FEYNMAN_IDS)
def test_feynman_sympy_matches_f(fid):
    e = FEYNMAN[fid]
    fn = sp.lambdify(e.symbols, e.sympy, modules="numpy")  # independent of f's torch lambdify
    x = uniform(e, 500, seed=7)
    ref = np.broadcast_to(fn(*x.numpy().T), (500,))
    np.testing.assert_allclose(e.f(x).numpy()[:, 0], ref, rtol=1e-10, atol=1e-12)


def test_feynman_variables_and_ranges():
    e = FEYNMAN["I.9.18"]
    assert e.var_names == ("a", "b", "c", "d", "e", "f")
    assert FEYNMAN["III.17.37"].var_names == ("alpha", "beta", "theta")
    assert FEYNMAN["I.6.2b"].var_names == ("theta", "theta1", "sigma")
    assert FEYNMAN["II.11.7"].var_names == ("n0", "a", "theta")
    x = uniform(e, 2000)
    den = (x[:, 1] - 1) ** 2 + (x[:, 2] - x[:, 3]) ** 2 + (x[:, 4] - x[:, 5]) ** 2
    assert float(den.min()) >= 3 - 1e-12
    # arcsin arguments strictly inside (-1, 1) on the whole box
    n, th = uniform(FEYNMAN["I.26.2"], 5000).T
    assert float((n * torch.sin(th)).abs().max()) < 0.95
    assert max(abs(a) / n for a in (-1.0, 1.0) for n in FEYNMAN["I.30.5"].ranges[1]) < 0.95
    assert max(abs(b) for b in FEYNMAN["I.15.3x"].ranges[1]) < 1
    lo, hi = FEYNMAN["I.30.3"].ranges[1]
    assert min(abs(math.sin(lo / 2)), abs(math.sin(hi / 2))) > 0.5 and hi < 2 * math.pi


def test_feynman_iii_9_52_finite_at_b_equals_c():
    e = FEYNMAN["III.9.52"]
    a = torch.linspace(0, 1, 11, dtype=torch.float64)
    b = torch.linspace(-math.pi, math.pi, 11, dtype=torch.float64)
    x = torch.stack([a, b, b], 1)
    for dt in (torch.float64, torch.float32):
        y = e.f(x.to(dt))
        assert bool(torch.isfinite(y).all()) and torch.allclose(y[:, 0].double(), a, atol=1e-6)
    near = torch.stack([a, b, b + 1e-9], 1)
    assert torch.allclose(e.f(near)[:, 0], a, atol=1e-12)
    assert e.sympy.limit(sp.Symbol("c"), sp.Symbol("b")) == sp.Symbol("a")


def test_feynman_paper_numbers():
    e = FEYNMAN["I.6.2"]
    assert e.paper_shape == e.human_shape == [2, 2, 1, 1] and e.pruned_shape == [2, 2, 1]
    assert (e.paper["human_rmse"], e.paper["pruned_rmse"], e.paper["unpruned_rmse"], e.paper["mlp_rmse"]) \
        == (7.66e-5, 2.86e-5, 4.60e-5, 1.45e-4)
    e = FEYNMAN["III.9.52"]
    assert e.paper["pruned_shape"] == [3, 3, 2, 1] and e.paper["mlp_rmse"] == 9.07e-4
    unsure = [fid for fid, e in FEYNMAN.items() if e.paper["uncertain"]]
    assert unsure == ["I.26.2"]
    assert set(FEYNMAN["I.26.2"].paper["uncertain_keys"]) == {"human_rmse", "mlp_rmse"}
    for e in FEYNMAN.values():
        p = e.paper
        assert p["human_shape"][0] == p["pruned_shape"][0] == e.n_var
        assert p["human_shape"][-1] == p["pruned_shape"][-1] == 1
        assert all(isinstance(p[k], float) and p[k] > 0 for k in
                   ("human_rmse", "pruned_rmse", "unpruned_rmse", "mlp_rmse"))
    # the paper: "the best KAN beats the MLP on 18 of these 27" -- a check of the transcription
    wins = sum(min(p["human_rmse"], p["pruned_rmse"], p["unpruned_rmse"]) < p["mlp_rmse"]
               for p in (e.paper for e in FEYNMAN.values()))
    assert wins == 18
