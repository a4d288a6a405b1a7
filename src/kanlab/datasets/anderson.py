"""Anderson localisation in 1D quasiperiodic chains (paper §4.4): exact diagonalisation data.

Three tight-binding models on a ring of N sites, amplitude psi_n, theta_n = 2*pi*b*n + phi:

* GAAM (Ganeshan, Pixley & Das Sarma 2015): t(psi_{n+1} + psi_{n-1}) + V_n psi_n = E psi_n with
  V_n = 2*lam*cos(theta_n) / (1 - alpha*cos(theta_n)), t = 1. Exact mobility edge
  alpha*E = 2*sgn(lam)*(|t| - |lam|); for lam > 0 a state is extended where alpha*E + 2*lam - 2 < 0.
* MAAM (Biddle & Das Sarma 2010): sum_{n' != n} t*exp(-p*(|n - n'| - 1)) psi_{n'} + lam*cos(theta_n)
  psi_n = E psi_n, i.e. nearest-neighbour hopping t = 1 decaying exponentially with distance
  (distance measured around the ring). The self-duality argument (the hopping matrix is the
  inverse of a tridiagonal one, which maps the model onto a GAAM-type chain) gives the edge
  lam*cosh(p) = E + t*exp(p): extended where E + exp(p) - lam*cosh(p) > 0. Tested numerically.
* Mosaic (Wang et al. 2020), kappa = 2: V_n = 2*lam*cos(2*pi*(b*n + phi)) on even sites, 0 on odd
  sites, t = 1. Exact edges at lam*|E| = t: extended where lam*|E| < 1.

b is a golden-ratio approximant F_{m-1}/F_m with N = F_m sites and periodic boundaries, so the
potential is commensurate with the ring (no boundary states, no defect at the seam); for the
mosaic model N must also be even (610 and 144 are). Each Hamiltonian has a random phase phi.

Label: fractal dimension D = -log(IPR)/log(N), IPR = sum_n |psi_n|^4 of the normalised
eigenvector; label 1 (extended) when D > threshold (default 0.5), 0 (localised) otherwise.

``generate(model, ...)`` draws ``n_hamiltonians`` parameter sets uniformly from the given ranges
with a seeded numpy Generator, diagonalises each (``numpy.linalg.eigh``) and keeps
``states_per_h`` eigenstates chosen at random (all if None). It returns features (n, 3) or (n, 2)
in the order of ``FEATURES[model]``, labels (n,) in {0, 1}, and a metadata dict (sizes, threshold,
seed, ranges, wall time, sha256 of the arrays).
"""
from __future__ import annotations

import hashlib
import time

import numpy as np

__all__ = ["FEATURES", "RANGES", "MODELS", "fibonacci_size", "golden_approximant", "hamiltonian",
           "fractal_dimension", "theory_score", "generate"]

MODELS = ("gaam", "maam", "mosaic")
FEATURES = {"gaam": ("E", "lam", "alpha"), "maam": ("E", "lam", "p"), "mosaic": ("E", "lam")}
# parameter ranges (besides E, which is every eigenvalue of the drawn Hamiltonian)
RANGES = {"gaam": {"lam": (0.5, 1.5), "alpha": (-0.8, 0.8)},
          "maam": {"lam": (1.0, 4.0), "p": (0.5, 2.0)},
          "mosaic": {"lam": (0.3, 2.0)}}


def fibonacci_size(n_min: int, even: bool = False) -> tuple[int, int]:
    """The smallest Fibonacci pair (F_{m-1}, F_m) with F_m >= n_min (and F_m even if asked)."""
    a, b = 1, 1
    while b < n_min or (even and b % 2):
        a, b = b, a + b
    return a, b


def golden_approximant(n: int) -> float:
    """b = F_{m-1}/F_m for a Fibonacci number n = F_m (the approximant of (sqrt(5)-1)/2)."""
    a, b = fibonacci_size(n)
    if b != n:
        raise ValueError(f"N = {n} is not a Fibonacci number")
    return a / b


def _ring_distance(n: int) -> np.ndarray:
    i = np.arange(n)
    d = np.abs(i[:, None] - i[None, :])
    return np.minimum(d, n - d)


def _nearest_neighbour(n: int) -> np.ndarray:
    h = np.zeros((n, n))
    i = np.arange(n)
    h[i, (i + 1) % n] = 1.0
    h[(i + 1) % n, i] = 1.0
    return h


def hamiltonian(model: str, n: int, params: dict, phi: float) -> np.ndarray:
    """Dense real symmetric Hamiltonian of ``model`` on a ring of n (Fibonacci) sites."""
    b = golden_approximant(n)
    sites = np.arange(n)
    theta = 2 * np.pi * b * sites + phi
    if model == "gaam":
        v = 2 * params["lam"] * np.cos(theta) / (1 - params["alpha"] * np.cos(theta))
        return _nearest_neighbour(n) + np.diag(v)
    if model == "maam":
        d = _ring_distance(n)
        h = np.where(d > 0, np.exp(-params["p"] * (d - 1.0)), 0.0)
        return h + np.diag(params["lam"] * np.cos(theta))
    if model == "mosaic":
        if n % 2:
            raise ValueError("the kappa = 2 mosaic model needs an even number of sites")
        v = np.where(sites % 2 == 0, 2 * params["lam"] * np.cos(2 * np.pi * (b * sites + phi)), 0.0)
        return _nearest_neighbour(n) + np.diag(v)
    raise ValueError(f"unknown model {model!r}; choose from {MODELS}")


def fractal_dimension(vecs: np.ndarray) -> np.ndarray:
    """D = -log(IPR)/log(N) of each column of vecs (normalised first)."""
    vecs = vecs / np.linalg.norm(vecs, axis=0, keepdims=True)
    ipr = np.sum(np.abs(vecs) ** 4, axis=0)
    return -np.log(ipr) / np.log(vecs.shape[0])


def theory_score(model: str, X: np.ndarray) -> np.ndarray:
    """The exact mobility-edge function, positive on the extended side, on features X."""
    X = np.asarray(X, dtype=float)
    if model == "gaam":
        E, lam, alpha = X[:, 0], X[:, 1], X[:, 2]
        return 2 - 2 * lam - alpha * E
    if model == "maam":
        E, lam, p = X[:, 0], X[:, 1], X[:, 2]
        return E + np.exp(p) - lam * np.cosh(p)
    if model == "mosaic":
        return 1 - X[:, 1] * np.abs(X[:, 0])
    raise ValueError(f"unknown model {model!r}; choose from {MODELS}")


def _sha(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def generate(model: str, n_sites: int = 610, n_hamiltonians: int = 100, states_per_h: int | None = 40,
             threshold: float = 0.5, seed: int = 0, ranges: dict | None = None):
    """(features, labels, metadata) for ``model``; see the module docstring for the protocol."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose from {MODELS}")
    t0 = time.perf_counter()
    ranges = dict(RANGES[model] if ranges is None else ranges)
    rng = np.random.default_rng(seed)
    names = FEATURES[model][1:]
    feats, labels, dims = [], [], []
    for _ in range(n_hamiltonians):
        params = {k: float(rng.uniform(*ranges[k])) for k in names}
        phi = float(rng.uniform(0, 2 * np.pi))
        energies, vecs = np.linalg.eigh(hamiltonian(model, n_sites, params, phi))
        keep = np.arange(n_sites) if states_per_h is None else np.sort(rng.choice(n_sites, states_per_h, replace=False))
        d = fractal_dimension(vecs[:, keep])
        cols = [energies[keep]] + [np.full(len(keep), params[k]) for k in names]
        feats.append(np.stack(cols, axis=1))
        dims.append(d)
        labels.append((d > threshold).astype(np.int64))
    X, y, D = np.concatenate(feats), np.concatenate(labels), np.concatenate(dims)
    meta = {"model": model, "features": list(FEATURES[model]), "n_sites": n_sites, "b": golden_approximant(n_sites),
            "boundary": "periodic", "n_hamiltonians": n_hamiltonians, "states_per_h": states_per_h,
            "n_states": int(len(y)), "threshold": threshold, "seed": seed, "ranges": {k: list(v) for k, v in ranges.items()},
            "extended_fraction": float(y.mean()), "wall_s": time.perf_counter() - t0, "sha256": _sha(X, y)}
    return X, y, meta, D
