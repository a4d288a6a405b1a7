"""Anderson localisation data (exact diagonalisation) and the quick reproduction."""
import numpy as np
import pytest

from kanlab.datasets.anderson import MODELS, fibonacci_size, fractal_dimension, generate, golden_approximant, hamiltonian, theory_score
from kanlab.experiments import get_experiment, run_experiment


def test_fibonacci_sizes():
    assert fibonacci_size(50) == (34, 55)
    assert fibonacci_size(100, even=True) == (89, 144)
    assert golden_approximant(55) == pytest.approx(34 / 55)
    with pytest.raises(ValueError):
        golden_approximant(60)


@pytest.mark.parametrize("model,params", [("gaam", {"lam": 0.8, "alpha": 0.3}), ("maam", {"lam": 2.0, "p": 1.0}),
                                          ("mosaic", {"lam": 1.0})])
def test_hamiltonian_hermitian_spectrum(model, params):
    n = 144 if model == "mosaic" else 55
    h = hamiltonian(model, n, params, phi=0.3)
    assert np.allclose(h, h.T)
    e, v = np.linalg.eigh(h)
    assert np.all(np.isfinite(e))
    assert np.allclose(np.linalg.norm(v, axis=0), 1.0)
    d = fractal_dimension(v)
    assert np.all((d >= 0) & (d <= 1 + 1e-12))


def test_fractal_dimension_limits():
    n = 55
    assert fractal_dimension(np.eye(n)[:, :1])[0] == pytest.approx(0.0)
    assert fractal_dimension(np.ones((n, 1)))[0] == pytest.approx(1.0)


@pytest.mark.parametrize("model", MODELS)
def test_generate_deterministic_and_shapes(model):
    n = 144 if model == "mosaic" else 55
    X1, y1, m1, _ = generate(model, n_sites=n, n_hamiltonians=3, states_per_h=10, seed=7)
    X2, y2, m2, _ = generate(model, n_sites=n, n_hamiltonians=3, states_per_h=10, seed=7)
    _, _, m3, _ = generate(model, n_sites=n, n_hamiltonians=3, states_per_h=10, seed=8)
    assert X1.shape == (30, 3 if model != "mosaic" else 2) and y1.shape == (30,)
    assert set(np.unique(y1)) <= {0, 1}
    assert m1["sha256"] == m2["sha256"] != m3["sha256"]
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert m1["threshold"] == 0.5 and m1["n_sites"] == n


@pytest.mark.parametrize("model,ranges,n", [
    ("gaam", {"lam": (0.2, 0.3), "alpha": (-0.2, 0.2)}, 89),   # far inside the extended phase
    ("gaam", {"lam": (1.8, 2.0), "alpha": (-0.2, 0.2)}, 89),   # far inside the localised phase
    ("maam", {"lam": (0.2, 0.4), "p": (1.0, 1.5)}, 89),
    ("maam", {"lam": (5.0, 6.0), "p": (1.0, 1.5)}, 89),
    ("mosaic", {"lam": (0.05, 0.1)}, 144),
])
def test_labels_match_theory_deep_in_phases(model, ranges, n):
    X, y, _, _ = generate(model, n_sites=n, n_hamiltonians=3, states_per_h=None, ranges=ranges, seed=0)
    score = theory_score(model, X)
    clear = np.abs(score) > 0.5
    assert clear.mean() > 0.5
    assert np.mean((score[clear] > 0).astype(int) == y[clear]) > 0.97


@pytest.mark.slow
def test_mosaic_edge_separates_states():
    X, y, _, _ = generate("mosaic", n_sites=610, n_hamiltonians=2, states_per_h=None, ranges={"lam": (1.5, 1.6)}, seed=0)
    score = theory_score("mosaic", X)
    clear = np.abs(score) > 0.3
    assert np.mean((score[clear] > 0).astype(int) == y[clear]) > 0.95


@pytest.mark.slow
def test_reproduce_anderson_quick(tmp_path):
    out = tmp_path / "anderson"
    res = run_experiment(get_experiment("anderson"), out=str(out), quick=True)
    for f in ("table.md", "table.csv", "coefficients.md", "formula.txt", "command.txt", "jobs.jsonl",
              "phase_gaam.png", "phase_maam.png", "phase_mosaic.png"):
        assert (out / f).exists(), f
    assert [r["model"] for r in res["results"]] == ["gaam", "maam", "mosaic"]
    for r in res["results"]:
        assert 0 <= r["kan_acc"] <= 1 and 0 <= r["formula_acc"] <= 1
