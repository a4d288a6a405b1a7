"""Tests for kanlab.core.primitives: forms agree, safe forms, registry."""
import math
import pickle

import numpy as np
import pytest
import sympy
import torch

import kanlab.symbolic as ks
from kanlab.symbolic import LIBRARY, Primitive, UnknownSymbolicFunction, get, names, register
from kanlab.core.primitives import BUILTIN_NAMES, SAFE_EPS, default_library, unregister

REQUIRED = {
    "x": 1, "x^2": 2, "x^3": 3, "x^4": 3, "1/x": 2, "1/x^2": 2, "sqrt": 2, "1/sqrt": 2,
    "exp": 2, "log": 2, "sin": 2, "cos": 2, "tan": 3, "tanh": 3, "arctan": 3, "arcsin": 4,
    "arctanh": 4, "abs": 3, "sgn": 3, "gaussian": 3, "0": 0,
}

# open domains (lo, hi) used to draw in-domain points; "nonzero" draws +-[lo, hi]
DOMAIN = {
    "1/x": ("nonzero", 0.05, 5.0), "1/x^2": ("nonzero", 0.05, 5.0),
    "sqrt": ("pos", 1e-3, 9.0), "1/sqrt": ("pos", 1e-2, 9.0), "log": ("pos", 1e-3, 9.0),
    "arcsin": ("int", -0.999, 0.999), "arctanh": ("int", -0.999, 0.999),
    "tan": ("int", -1.5, 1.5), "exp": ("int", -20.0, 20.0),
}


def in_domain(name, n=200, seed=0):
    g = np.random.default_rng(seed)
    kind, lo, hi = DOMAIN.get(name, ("int", -4.0, 4.0))
    if kind == "nonzero":
        return g.uniform(lo, hi, n) * g.choice([-1.0, 1.0], n)
    return g.uniform(lo, hi, n)


def test_required_names_and_complexities():
    for name, comp in REQUIRED.items():
        prim = get(name)
        assert isinstance(prim, Primitive) and prim.name == name
        assert prim.complexity == comp
    assert get("x^5").complexity == 4
    assert list(BUILTIN_NAMES) == names()[: len(BUILTIN_NAMES)]
    assert len(LIBRARY) >= 22 and "sin" in LIBRARY and "nope" not in LIBRARY
    assert LIBRARY.get("nope") is None


def test_default_library():
    d = default_library()
    assert "0" in d and "x^5" not in d
    assert set(REQUIRED) <= set(d)
    assert ks.default_library() == d


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_forms_agree(name):
    prim = get(name)
    xs = in_domain(name)
    t = prim.torch_fn(torch.tensor(xs, dtype=torch.float64)).numpy()
    n = prim.numpy_fn(xs)
    sym = sympy.Symbol("x", real=True)
    expr = sympy.sympify(prim.sympy_fn(sym))
    assert isinstance(expr, sympy.Basic)
    s = np.broadcast_to(np.asarray(sympy.lambdify(sym, expr, "numpy")(xs), dtype=float), xs.shape)
    assert t.shape == xs.shape and n.shape == xs.shape
    assert np.all(np.isfinite(t))
    np.testing.assert_allclose(t, n, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(t, s, rtol=1e-10, atol=1e-12)
    # the safe form equals the exact one inside the domain
    safe = prim.safe_torch_fn(torch.tensor(xs, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(safe, t, rtol=1e-10, atol=1e-12)


SWEEP = [0.0, -0.0, 1e-9, -1e-9, 1e-5, -1e-5, 0.5, -0.5, 1.0, -1.0, 1.0 - 1e-9, -1.0 + 1e-9,
         1.5, -1.5, math.pi / 2, -math.pi / 2, 3 * math.pi / 2, 2.0, -2.0, 7.0, -7.0,
         100.0, -100.0, 1000.0, -1000.0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_safe_forms_finite_with_finite_grads(name, dtype):
    x = torch.tensor(SWEEP, dtype=dtype, requires_grad=True)
    y = get(name).safe_torch_fn(x)
    assert y.shape == x.shape and y.dtype == dtype
    assert torch.isfinite(y).all(), (name, y)
    (g,) = torch.autograd.grad(y.sum(), x)
    assert torch.isfinite(g).all(), (name, g)


def test_safe_forms_specifics():
    inv, log, sq = get("1/x").safe_torch_fn, get("log").safe_torch_fn, get("sqrt").safe_torch_fn
    z = torch.tensor([0.0, -1e-9, 1e-9], dtype=torch.float64)
    assert inv(z)[1] < 0 < inv(z)[2]  # sign kept at the pole
    assert torch.all(log(torch.tensor([-3.0, 0.0])) == math.log(SAFE_EPS))
    assert torch.equal(sq(torch.tensor([-4.0, 0.0, 4.0])), torch.tensor([0.0, 0.0, 2.0]))
    t = get("tan").safe_torch_fn(torch.tensor([1.0, 1.0 + math.pi, 2.0], dtype=torch.float64))
    np.testing.assert_allclose(t.numpy(), np.tan([1.0, 1.0 + math.pi, 2.0]), rtol=1e-10)
    a = get("arcsin").safe_torch_fn(torch.tensor([-5.0, 5.0], dtype=torch.float64))
    assert torch.all(a.abs() < math.pi / 2)


def test_primitives_pickle_and_repr():
    for name in BUILTIN_NAMES:
        p = pickle.loads(pickle.dumps(get(name)))
        assert p.name == name and p.complexity == get(name).complexity
        xs = in_domain(name, n=5)
        np.testing.assert_allclose(p.numpy_fn(xs), get(name).numpy_fn(xs))
    assert "sin" in repr(get("sin"))


def test_unknown_name():
    with pytest.raises(UnknownSymbolicFunction) as info:
        get("sinn")
    err = info.value
    assert isinstance(err, KeyError) and isinstance(err, ValueError)
    msg = str(err)
    assert "'sinn'" in msg and "tanh" in msg and "kanlab.symbolic.register" in msg
    assert "did you mean" in msg
    with pytest.raises(KeyError):
        LIBRARY["foo"]
    with pytest.raises(ValueError):
        get("foo")
    with pytest.raises(TypeError):
        get(3)
    with pytest.raises(TypeError):
        LIBRARY["x"] = get("x")  # read-only mapping


# module-level (picklable) user functions
def _t_cube_root(x):
    return torch.sign(x) * torch.abs(x) ** (1.0 / 3.0)


def _s_cube_root(s):
    return sympy.sign(s) * sympy.Abs(s) ** sympy.Rational(1, 3)


def _t_cosh(x):
    return torch.cosh(x)


def _s_cosh(s):
    return sympy.cosh(s)


@pytest.fixture
def cleanup():
    added = []
    yield added
    for name in added:
        if name in LIBRARY:
            try:
                unregister(name)
            except ValueError:
                pass


def test_register_and_unregister(cleanup):
    cleanup.append("cosh_test")
    prim = register("cosh_test", _t_cosh, _s_cosh, complexity=3)
    assert get("cosh_test") is prim and "cosh_test" in names() and "cosh_test" in default_library()
    xs = np.linspace(-2, 2, 11)
    # numpy form defaults to the lambdified sympy form; safe form to the torch form
    np.testing.assert_allclose(prim.numpy_fn(xs), np.cosh(xs), rtol=1e-12)
    assert prim.safe_torch_fn is _t_cosh
    # the default numpy form pickles (models only store the name anyway)
    p2 = pickle.loads(pickle.dumps(prim))
    np.testing.assert_allclose(p2.numpy_fn(xs), np.cosh(xs), rtol=1e-12)

    with pytest.raises(ValueError, match="already registered"):
        register("cosh_test", _t_cosh, _s_cosh)
    register("cosh_test", _t_cube_root, _s_cube_root, complexity=4, overwrite=True)
    assert get("cosh_test").complexity == 4
    unregister("cosh_test")
    assert "cosh_test" not in LIBRARY
    with pytest.raises(UnknownSymbolicFunction):
        get("cosh_test")


def test_register_options_and_validation(cleanup):
    cleanup.extend(["hidden_test", "bad_test"])
    register("hidden_test", _t_cosh, _s_cosh, in_default=False)
    assert "hidden_test" in names() and "hidden_test" not in default_library()
    with pytest.raises(TypeError):
        register("bad_test", _t_cosh, lambda s: object())
    with pytest.raises(TypeError):
        register("bad_test", lambda x: 1.0, _s_cosh)
    with pytest.raises(TypeError):
        register("bad_test", _t_cosh, _s_cosh, complexity=1.5)
    with pytest.raises(ValueError):
        register("bad_test", _t_cosh, _s_cosh, complexity=-1)
    with pytest.raises(ValueError):
        register("", _t_cosh, _s_cosh)
    assert "bad_test" not in LIBRARY


def test_overwrite_builtin_then_restore(cleanup):
    original = get("sin")
    register("sin", _t_cosh, _s_cosh, overwrite=True)
    try:
        assert get("sin").torch_fn is _t_cosh
    finally:
        unregister("sin")  # restores the built-in
    assert get("sin") is original
    with pytest.raises(ValueError):
        unregister("sin")  # a pristine built-in cannot be removed


def test_primitive_defaults_and_sympy_helper():
    p = Primitive("tmp", _t_cosh, _s_cosh)
    assert p.complexity == 2 and p.safe_torch_fn is _t_cosh
    assert p.sympy(sympy.Symbol("z")) == sympy.cosh(sympy.Symbol("z"))
    assert float(p(torch.tensor(0.0))) == 1.0
    assert "tmp" not in LIBRARY  # constructing a Primitive does not register it
