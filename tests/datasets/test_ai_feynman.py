"""The AI Feynman database (kanlab.datasets.ai_feynman): parsed rows, formulas, units, SRBench data."""
import csv
import pathlib
import shutil

import numpy as np
import pytest
import sympy

from kanlab.datasets import AI_FEYNMAN, SRBENCH_DROPPED, Law, Variable, srbench_data
from kanlab.datasets.ai_feynman import _shipped_folder, load_laws, parse_formula, range_symbol
from kanlab.validate import KanlabError

REFERENCE = pathlib.Path(__file__).resolve().parents[3] / "shared" / "reference" / "ai_feynman"
ALLOWED_FUNCTIONS = {sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tanh, sympy.asin, sympy.acos}


def test_120_laws_in_file_order_116_in_srbench():
    names = list(AI_FEYNMAN)
    assert len(names) == 120 and names[0] == "I.6.2a" and names[99] == "III.21.20"
    assert names[100:] == [f"test_{k}" for k in range(1, 21)]
    assert [law.bonus for law in AI_FEYNMAN.values()] == [False] * 100 + [True] * 20
    assert all(law.name == name for name, law in AI_FEYNMAN.items())
    dropped = [name for name, law in AI_FEYNMAN.items() if not law.in_srbench]
    assert tuple(dropped) == SRBENCH_DROPPED and sum(law.in_srbench for law in AI_FEYNMAN.values()) == 116
    assert AI_FEYNMAN["test_1"].description == "Rutherford scattering"


def test_every_formula_parses_and_is_finite_on_100_samples_of_its_ranges():
    rng = np.random.default_rng(0)
    for law in AI_FEYNMAN.values():
        expr, symbols = law.sympy_expr()
        assert [s.name for s in symbols] == list(law.var_names)
        assert expr.free_symbols == set(symbols), law.name  # every variable used, nothing else
        # no sympy constant hiding behind a variable's name (I, E), no sympy function for gamma/beta
        assert not expr.has(sympy.I) and not expr.has(sympy.E) and not expr.has(sympy.EulerGamma), law.name
        assert {type(f) for f in expr.atoms(sympy.Function)} <= ALLOWED_FUNCTIONS, law.name
        low = [v.low for v in law.variables]
        high = [v.high for v in law.variables]
        assert all(lo < hi for lo, hi in zip(low, high))
        y = law.evaluate(rng.uniform(low, high, size=(100, len(low))))
        assert y.shape == (100,) and y.dtype == np.float64 and np.isfinite(y).all(), law.name


def test_evaluate_is_the_formula():
    law = AI_FEYNMAN["I.6.2b"]  # exp(-((theta-theta1)/sigma)**2/2)/(sqrt(2*pi)*sigma)
    X = np.array([[1.5, 2.0, 1.0], [2.5, 1.0, 3.0]])  # sigma, theta, theta1
    s, t, t1 = X.T
    assert np.allclose(law.evaluate(X), np.exp(-(((t - t1) / s) ** 2) / 2) / (np.sqrt(2 * np.pi) * s), rtol=1e-14)
    with pytest.raises(KanlabError, match="sigma, theta, theta1"):
        law.evaluate(X[:, :2])


def test_names_that_are_sympy_objects_parse_as_variables():
    e, s, n, i, gamma, beta, lambd = syms = sympy.symbols("E S N I gamma beta lambd")
    expr = parse_formula("E*S + N*I + gamma*beta + exp(lambd) + pi", syms)
    assert expr == e * s + n * i + gamma * beta + sympy.exp(lambd) + sympy.pi
    assert not expr.has(sympy.I) and not expr.has(sympy.E)
    for name in ("I.39.11", "II.13.17", "III.17.37", "test_20"):  # gamma, I, beta, beta
        expr, symbols = AI_FEYNMAN[name].sympy_expr()
        clash = {s for s in symbols if s.name in ("gamma", "I", "beta")}
        assert clash and clash <= expr.free_symbols
    assert AI_FEYNMAN["II.13.17"].sympy_expr()[0].is_real


def test_unknown_names_are_errors_not_new_symbols():
    x = sympy.Symbol("x")
    with pytest.raises(KanlabError, match="unknown name.*z"):
        parse_formula("x + z", (x,))
    with pytest.raises(KanlabError, match="foo"):
        parse_formula("foo(x)", (x,))
    for name in ("E", "I", "S", "N", "gamma(x)", "beta(x, x)", "Q"):  # sympy objects, not variables here
        with pytest.raises(KanlabError, match="unknown name"):
            parse_formula(f"x + {name}", (x,))
    with pytest.raises(KanlabError, match="cannot parse"):
        parse_formula("x +* 2", (x,))


def test_symbols_carry_the_sign_of_their_range():
    assert range_symbol("x", 1.0, 5.0).is_positive
    zero_low = range_symbol("x", 0.0, 5.0)
    assert zero_low.is_nonnegative and zero_low.is_positive is None
    assert range_symbol("x", -5.0, -1.0).is_negative and range_symbol("x", -1.0, 1.0).is_real
    x = dict((s.name, s) for s in AI_FEYNMAN["test_2"].sympy_expr()[1])
    assert x["m"].is_positive and x["theta1"].is_nonnegative and x["theta1"].is_positive is None


def _units_of(expr, units):
    """SI exponents of a product/power/sum of variables (numbers and function values dimensionless)."""
    if expr.is_Symbol:
        return np.array(units[expr.name], dtype=float)
    if expr.is_number:
        return np.zeros(5)
    if expr.is_Mul:
        return sum(_units_of(a, units) for a in expr.args)
    if expr.is_Pow:
        return _units_of(expr.base, units) * float(expr.exp)
    parts = [_units_of(a, units) for a in expr.args]
    if expr.is_Add:
        assert all(np.allclose(p, parts[0]) for p in parts), f"terms of different units in {expr}"
        return parts[0]
    assert all(np.allclose(p, 0) for p in parts), f"a function of a dimensional argument: {expr}"
    return np.zeros(5)


def test_units_present_and_laws_dimensionally_consistent():
    """Every variable and output has 5 integer exponents; each law is homogeneous except I.43.16,
    whose mu_drift has inverted units in units.csv (a known quirk, see the module docstring)."""
    inconsistent = []
    for law in AI_FEYNMAN.values():
        assert law.output_units is not None and len(law.output_units) == 5
        assert all(len(v.units) == 5 and all(isinstance(u, int) for u in v.units) for v in law.variables)
        expr, _ = law.sympy_expr()
        if not np.allclose(_units_of(expr, {v.name: v.units for v in law.variables}), law.output_units):
            inconsistent.append(law.name)
    assert inconsistent == ["I.43.16"]
    assert AI_FEYNMAN["II.13.17"].variables[2] == Variable("I", 1.0, 5.0, (2, -3, 1, 0, -1))  # a current


def test_srbench_data_shapes_split_and_ranges():
    law = AI_FEYNMAN["I.9.18"]  # 9 variables
    d = srbench_data(law)
    assert set(d) == {"X_train", "y_train", "X_test", "y_test"}
    assert d["X_train"].shape == (7500, 9) and d["X_test"].shape == (2500, 9)
    assert d["y_train"].shape == (7500,) and d["y_test"].shape == (2500,)
    X = np.vstack([d["X_train"], d["X_test"]])
    assert len(np.unique(X, axis=0)) == 10_000  # disjoint rows
    low = np.array([v.low for v in law.variables])
    high = np.array([v.high for v in law.variables])
    assert (X >= low).all() and (X <= high).all()
    assert (np.abs(X.mean(axis=0) - (low + high) / 2) < 0.05 * (high - low)).all()  # uniform, not a corner
    assert np.array_equal(d["y_train"], law.evaluate(d["X_train"]))  # noise 0: clean targets
    small = srbench_data("I.6.2a", n=10)
    assert small["X_train"].shape == (7, 1) and small["X_test"].shape == (3, 1)


@pytest.mark.parametrize("noise", [0.01, 0.1])
def test_noise_level_and_noiseless_test_set(noise):
    law = AI_FEYNMAN["II.6.15a"]
    d = srbench_data(law, noise=noise, seed=3)
    clean = law.evaluate(d["X_train"])
    sigma = noise * np.sqrt(np.mean(clean ** 2))
    resid = d["y_train"] - clean
    assert abs(resid.std() / sigma - 1) < 0.05  # 7500 draws: the std's error is ~1%
    assert abs(resid.mean()) < 5 * sigma / np.sqrt(len(resid))
    assert np.array_equal(d["y_test"], law.evaluate(d["X_test"]))  # the test set stays noiseless
    clean_run = srbench_data(law, noise=0.0, seed=3)
    assert np.array_equal(clean_run["X_train"], d["X_train"]) and np.array_equal(clean_run["X_test"], d["X_test"])


def test_data_are_deterministic_and_seeded_by_seed_and_name():
    a, b = srbench_data("I.12.1", seed=1), srbench_data("I.12.1", seed=1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["X_train"], srbench_data("I.12.1", seed=2)["X_train"])
    # I.12.1 and I.12.2..: same ranges [1, 5] but different streams (the name is part of the seed)
    assert not np.array_equal(a["X_train"][:, :2], srbench_data("I.14.4", seed=1)["X_train"][:, :2])
    # pinned: the same in every process and run (a seed from Python's salted hash() would not be)
    first = srbench_data("I.6.2a", n=8, seed=0)["X_train"][:, 0]
    assert np.allclose(first, [1.1824871274556472, 2.627746016560541, 2.6625356404352023, 2.1678928762779845,
                               2.6272375002495, 2.3299226268583655], rtol=0, atol=1e-12), first.tolist()


def test_bad_arguments_and_non_finite_laws_are_clear_errors():
    with pytest.raises(KanlabError, match="unknown AI Feynman law"):
        srbench_data("I.99.99")
    with pytest.raises(KanlabError, match="noise"):
        srbench_data("I.6.2a", noise=-0.1)
    with pytest.raises(KanlabError, match="n must be"):
        srbench_data("I.6.2a", n=3)
    with pytest.raises(KanlabError, match="seed"):
        srbench_data("I.6.2a", seed=-1)
    bad = Law("bad", "y", "sqrt(x - 2)", (Variable("x", 1.0, 3.0, (1, 0, 0, 0, 0)),), False, False, None)
    with pytest.raises(KanlabError, match=r"bad: sqrt\(x - 2\) is not finite at \d+ of 100 rows"):
        srbench_data(bad, n=100)


def _copy_with(tmp_path, file, edit):
    """The shipped files in tmp_path, with row 1 of ``file`` changed by ``edit(row)``."""
    for name in ("FeynmanEquations.csv", "BonusEquations.csv", "units.csv"):
        with _shipped_folder().joinpath(name).open("rb") as src, open(tmp_path / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    with open(tmp_path / file, newline="") as fh:
        rows = list(csv.DictReader(fh))
        fields = list(rows[0])
    edit(rows[0])
    with open(tmp_path / file, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


@pytest.mark.parametrize("edit, message", [
    (lambda r: r.update(v1_low="3"), r"range of theta needs low < high, got \[3.0, 3.0\]"),
    (lambda r: r.update(v1_high="inf"), "not finite"),
    (lambda r: r.update(v1_name="thet a"), "not a valid identifier"),
    (lambda r: r.update(v1_name="zeta"), "'zeta' has no row in units.csv"),
    (lambda r: r.update(**{"# variables": "2"}), "'# variables' says 2 but 1 are listed"),
    (lambda r: r.update(Formula="exp(-theta**2/2)/sqrt(2*pi) + q"), "unknown name.*q"),
    (lambda r: r.update(v2_name="x", v2_low="1", v2_high="2", **{"# variables": "2"}), "x do not appear"),
    (lambda r: r.update(v2_low="1"), "slot v2 is incomplete"),
])
def test_bad_rows_name_the_file_and_line(tmp_path, edit, message):
    folder = _copy_with(tmp_path, "FeynmanEquations.csv", edit)
    with pytest.raises(KanlabError, match=r"FeynmanEquations.csv line 2 \(I.6.2a\)") as info:
        load_laws(folder)
    assert info.match(message)


def test_shipped_files_are_the_reference_copies():
    if not REFERENCE.is_dir():
        pytest.skip("shared/reference/ai_feynman is not in this checkout")
    for name in ("FeynmanEquations.csv", "BonusEquations.csv", "units.csv"):
        assert _shipped_folder().joinpath(name).read_bytes() == (REFERENCE / name).read_bytes()
    assert load_laws(REFERENCE) == AI_FEYNMAN
