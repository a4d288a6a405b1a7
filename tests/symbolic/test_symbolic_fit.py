"""Tests for kanlab.symbolic.affine_fit (affine fits) and kanlab.symbolic.rank (suggest)."""
import math
import warnings

import numpy as np
import pytest
import sympy
import torch

from kanlab.symbolic import AffineFit, Suggestion, fit_affine, get, register, suggest
from kanlab.symbolic.affine_fit import fit_affine_batch
from kanlab.core.primitives import BUILTIN_NAMES, default_library, unregister
from kanlab.symbolic.rank import FLOOR, accuracy_term, ranking_score

X = torch.linspace(-1, 1, 1000, dtype=torch.float64)

# y = c f(a x + b) + d on x in [-1, 1], with a x + b inside the domain of f
KNOWN = {
    "x": (2.0, 1.0, 1.5, -0.5),
    "x^2": (1.5, 0.3, 2.0, 1.0),
    "x^3": (2.0, -0.5, 0.7, 0.2),
    "x^4": (1.2, 0.4, -1.0, 0.5),
    "x^5": (1.1, -0.2, 1.0, 0.0),
    "1/x": (1.0, 2.0, 1.0, 0.0),
    "1/x^2": (1.5, 3.0, 2.0, -1.0),
    "sqrt": (2.0, 3.0, 1.0, 1.0),
    "1/sqrt": (-1.5, 2.0, 1.0, 0.0),
    "exp": (1.7, -0.3, 0.5, 1.0),
    "log": (2.0, 2.5, 1.0, 0.3),
    "sin": (3.0, 1.0, 2.0, -1.0),
    "cos": (-4.3, 0.5, 1.0, 0.0),
    "tan": (1.2, 0.1, 0.5, 0.0),
    "tanh": (3.0, -1.0, 1.0, 0.0),
    "cosh": (1.5, 0.5, 1.0, 0.0),
    "sinh": (1.8, -0.4, 0.8, 0.3),
    "arctan": (4.0, 1.0, 1.0, 0.2),
    "arcsin": (0.8, 0.1, 1.0, 0.0),
    "arctanh": (0.7, -0.2, 1.0, 0.0),
    "abs": (2.0, 0.5, 1.0, 0.0),
    "sgn": (3.0, -0.9, 1.0, 0.5),
    "gaussian": (2.0, -0.5, 1.5, 0.0),
    "0": (1.0, 0.0, 0.0, 0.7),
}


def target(name, a, b, c, d, x=X):
    return c * get(name).torch_fn(a * x + b) + d


def test_known_covers_library():
    assert set(KNOWN) == set(BUILTIN_NAMES)


@pytest.mark.parametrize("name", list(KNOWN))
def test_recovers_known_affine_params(name):
    a, b, c, d = KNOWN[name]
    y = target(name, a, b, c, d)
    (fit,) = fit_affine(X, y, [name])
    assert isinstance(fit, AffineFit) and fit.name == name
    assert fit.r2 > 0.9999
    # parameters are not always identifiable (x: a and c trade off) -> compare values
    scale = max(float(y.std()), 1.0)
    assert float((fit.predict(X) - y).abs().max()) < 1e-3 * scale
    if name in ("sin", "tanh", "arctan", "arcsin", "arctanh", "gaussian"):
        # identifiable up to the symmetries of f; these grids recover them directly
        assert abs(abs(fit.a) - abs(a)) < 1e-4


@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_random_params(seed):
    rng = np.random.default_rng(seed)
    dom = {"1/x": (0.2, 4), "1/x^2": (0.2, 4), "sqrt": (0.05, 4), "1/sqrt": (0.1, 4),
           "log": (0.05, 4), "arcsin": (-0.95, 0.95), "arctanh": (-0.95, 0.95), "tan": (-1.4, 1.4)}
    x = torch.tensor(rng.uniform(-1, 1, 300), dtype=torch.float64)
    for name in default_library():
        if name == "0":
            continue
        lo, hi = dom.get(name, (-3.0, 3.0))
        while True:  # random affine map of [-1, 1] into the domain
            a, b = rng.uniform(-5, 5, 2)
            if abs(a) > 0.3 and lo <= b - abs(a) and b + abs(a) <= hi:
                break
        c, d = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 3.0), rng.uniform(-1, 1)
        y = target(name, a, b, c, d, x)
        (fit,) = fit_affine(x, y, [name])
        assert fit.r2 > 0.9999, (name, a, b, c, d, fit)


def test_all_names_in_one_call_order_and_work_size(monkeypatch):
    """All 23 functions in one call, in order; the work is bounded by the grid sizes and the
    sample caps (the coarse grid's arguments are built once and shared by every function). The
    wall-clock time of this call is in benchmarks/speed_guards.py."""
    from kanlab.symbolic import affine_fit as af

    grids, evaluated = [], []
    real_grid_args, real_apply = af._grid_args, af._apply

    def grid_args(a, b, x):
        grids.append((a.numel(), x.numel()))
        return real_grid_args(a, b, x)

    def apply(fn, u):
        evaluated.append(u.numel())
        return real_apply(fn, u)

    monkeypatch.setattr(af, "_grid_args", grid_args)
    monkeypatch.setattr(af, "_apply", apply)
    y = torch.sin(3 * X + 1)
    lib = default_library()
    fits = fit_affine(X, y, lib)  # grid_number=101, iteration=3, zoom_number=11, 128 / 4096 samples
    assert [f.name for f in fits] == lib and len(lib) == 23
    assert all(isinstance(f.r2, float) and not math.isnan(f.r2) for f in fits)
    assert max(fits, key=lambda f: f.r2).name in ("sin", "cos")
    n = X.numel()
    assert grids[0] == (101 * 101, 128)  # coarse grid on the 128-point rank subsample ...
    assert grids.count((101 * 101, 128)) == 1  # ... built once for all functions
    zooms = grids[1:]
    assert set(zooms) == {(11 * 11, n)} and len(zooms) <= 3 * (len(lib) - 1)
    # per function: coarse grid + 3 zoom grids + at most two line fits on all samples
    assert sum(evaluated) <= len(lib) * (101 * 101 * 128 + 3 * 11 * 11 * n + 2 * n)


def test_domain_violations_give_minus_inf_never_nan():
    # y = log(x + 3.5) on x in [-3, 3]: log(a x + b) is invalid on most of the grid
    x = torch.linspace(-3, 3, 400, dtype=torch.float64)
    y = torch.log(x + 3.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fits = fit_affine(x, y, ["log", "sqrt", "arcsin", "arctanh", "1/x", "tan"])
    by = {f.name: f for f in fits}
    assert by["log"].r2 > 0.9999
    for f in fits:
        assert not math.isnan(f.r2)
        assert all(math.isfinite(v) for v in (f.a, f.b, f.c, f.d))
        if math.isfinite(f.r2):  # a finite R^2 means the fit is valid on every sample
            assert torch.isfinite(f.predict(x)).all()


def _t_nan(x):
    return x * float("nan")


def _s_nan(s):
    return sympy.nan * s


def test_function_invalid_everywhere():
    register("nan_test", _t_nan, _s_nan)
    try:
        (fit,) = fit_affine(X, X**2, ["nan_test"])
        assert fit.r2 == -math.inf
        assert suggest(X, X**2, ["nan_test", "x^2"])[0].name == "x^2"
        assert [s.name for s in suggest(X, X**2, ["nan_test"])] == []
    finally:
        unregister("nan_test")


def test_constant_y_and_zero_function():
    fits = fit_affine(X, torch.full_like(X, 2.5), ["0", "log", "sin", "1/x", "x"])
    for f in fits:
        assert f.r2 == 1.0 and f.c == 0.0 and f.d == pytest.approx(2.5)
        assert torch.allclose(f.predict(X), torch.full_like(X, 2.5))
    (z,) = fit_affine(X, torch.sin(X), ["0"])
    assert z.r2 == pytest.approx(0.0, abs=1e-12) and z.c == 0.0
    assert z.d == pytest.approx(float(torch.sin(X).mean()))
    # the simplest exact description of a constant is "0"
    assert suggest(X, torch.full_like(X, -1.0))[0].name == "0"


def test_inputs_are_flexible_and_nonfinite_samples_dropped():
    y = 2 * torch.sin(X).float()
    y[5] = float("nan")
    xs = X.float().clone().requires_grad_(True)
    (f1,) = fit_affine(xs, y, "sin")  # float32, grad-requiring tensor, NaN sample
    assert f1.r2 > 0.9999
    (f2,) = fit_affine(np.linspace(-1, 1, 200), list(np.exp(np.linspace(-1, 1, 200))), ("exp",))
    assert f2.r2 > 0.9999
    with pytest.raises(ValueError):
        fit_affine(X, X[:10], ["x"])
    with pytest.raises(ValueError):
        fit_affine([float("nan")], [1.0], ["x"])
    with pytest.raises(KeyError):
        fit_affine(X, X, ["no_such_function"])
    # tiny inputs do not crash
    assert fit_affine([0.5], [2.0], ["x", "log"])[0].r2 == 1.0
    assert fit_affine([0.0, 1.0], [1.0, 3.0], ["x"])[0].r2 == pytest.approx(1.0)


def test_polish_improves_off_grid_fit():
    a, b, c, d = 2.3456, -0.6789, 1.234, 0.1
    y = target("tanh", a, b, c, d)
    (rough,) = fit_affine(X, y, ["tanh"], grid_number=21, iteration=0, polish=False)
    (fine,) = fit_affine(X, y, ["tanh"], grid_number=21, iteration=0, polish=True)
    assert fine.r2 >= rough.r2 and fine.r2 > 1 - 1e-10
    assert (fine.a, fine.b, fine.c, fine.d) == pytest.approx((a, b, c, d), rel=1e-5, abs=1e-6)


def test_noisy_fit_r2_matches_noise_level():
    g = torch.Generator().manual_seed(0)
    y = torch.sin(2.5 * X + 0.3) + 0.05 * torch.randn(X.shape, generator=g, dtype=torch.float64)
    (fit,) = fit_affine(X, y, ["sin"])
    expected = 1 - 0.05**2 / float(y.var())
    assert abs(fit.r2 - expected) < 0.01
    assert fit.a == pytest.approx(2.5, abs=0.05)


def test_affine_fit_expr_matches_predict():
    y = target("arctan", 4.0, 1.0, 1.0, 0.2)
    (fit,) = fit_affine(X, y, ["arctan"])
    s = sympy.Symbol("x")
    f = sympy.lambdify(s, fit.expr(s), "numpy")
    np.testing.assert_allclose(f(X.numpy()), fit.predict(X).numpy(), rtol=1e-10, atol=1e-12)
    assert fit.params == (fit.a, fit.b, fit.c, fit.d)


def test_fit_affine_batch():
    Y = torch.stack([X**2, torch.sin(X), torch.exp(X)], 1)
    out = fit_affine_batch(X, Y, ["x^2", "sin", "exp"])
    assert len(out) == 3 and all(len(r) == 3 for r in out)
    for e, best in enumerate(["x^2", "sin", "exp"]):
        assert {f.name: f.r2 for f in out[e]}[best] > 0.9999
    with pytest.raises(ValueError):
        fit_affine_batch(X, X, ["x"])


# ------------------------------------------------------------------------------------
# ranking
# ------------------------------------------------------------------------------------


def test_ranking_rule_properties():
    near_perfect = [0.9999, 0.99999, 0.9999999, 1.0]
    for c1 in range(0, 5):
        for c2 in range(c1 + 1, 5):
            for r_simple in near_perfect:
                for r_complex in near_perfect:
                    assert ranking_score(r_simple, c1) < ranking_score(r_complex, c2)
    for r_simple in [0.99, 0.98, 0.9, 0.5, 0.0]:
        for r_good in near_perfect:
            for c_simple in range(0, 5):
                for c_complex in range(c_simple, min(c_simple + 4, 4) + 1):
                    assert ranking_score(r_good, c_complex) < ranking_score(r_simple, c_simple)
    assert accuracy_term(1.0) == pytest.approx(10 * math.log10(FLOOR))
    assert accuracy_term(0.99) == pytest.approx(10 * math.log10(0.01 + FLOOR))
    assert accuracy_term(-math.inf) == math.inf and ranking_score(float("nan"), 1) == math.inf
    assert ranking_score(0.9, 2, weight_simple=0.8) == pytest.approx(
        0.8 * 2 + 0.2 * 10 * math.log10(0.1 + FLOOR))


def test_suggest_prefers_simple_when_both_fit():
    x = torch.linspace(-0.5, 0.5, 400, dtype=torch.float64)
    y = torch.sin(x)
    cands = ["arctan", "tanh", "sin"]
    res = suggest(x, y, cands, topk=None)
    assert all(s.r2 > 0.9999 for s in res)  # all three describe the data
    assert res[0].name == "sin"
    assert [s.score for s in res] == sorted(s.score for s in res)


def test_suggest_prefers_accurate_when_simple_fails():
    y = torch.tanh(5 * X)
    res = suggest(X, y, ["x", "x^2", "sin", "tanh", "arctanh"], topk=None)
    by = {s.name: s for s in res}
    assert by["x"].r2 < 0.99 and by["sin"].r2 < 0.99
    assert res[0].name == "tanh" and res[0].r2 > 0.9999
    # complexity 4 beats complexity 1 even at R^2(x) ~ 0.991: ~19 dB more accurate
    y = torch.arcsin(0.99 * X)
    res = suggest(X, y, ["x", "sin", "arcsin"], topk=None)
    assert res[0].name == "arcsin" and res[-1].r2 < 0.995


def test_suggest_default_library_finds_sin():
    y = 1.5 * torch.sin(2.0 * X + 0.5) - 0.3
    res = suggest(X, y)
    assert len(res) == 5 and all(isinstance(s, Suggestion) for s in res)
    assert res[0].name == "sin"
    s = res[0]
    assert s.complexity == get("sin").complexity and s.fit.name == "sin" and s.r2 == s.fit.r2
    assert s.score == pytest.approx(ranking_score(s.r2, s.complexity))


def test_suggest_options():
    y = torch.exp(1.3 * X)
    cands = ["0", "x", "x^2", "sin", "exp", "tanh"]
    every = suggest(X, y, cands, topk=None)
    assert [s.name for s in suggest(X, y, cands, topk=2)] == [s.name for s in every[:2]]
    assert len(every) == len(cands)
    high = suggest(X, y, cands, topk=None, r2_threshold=0.999)
    assert high and all(s.r2 >= 0.999 for s in high) and len(high) < len(every)
    # weight_simple = 0: accuracy only; weight_simple = 1: complexity only ("0" first)
    assert suggest(X, y, cands, weight_simple=0.0)[0].name == "exp"
    assert suggest(X, y, cands, weight_simple=1.0)[0].name == "0"
    with pytest.raises(ValueError):
        suggest(X, y, cands, weight_simple=1.5)
    with pytest.raises(ValueError):
        suggest(X, y, cands, topk=0)
    assert suggest(X, y, "exp")[0].name == "exp"
