"""Knot invariants from SnapPy: hyperbolic invariants of census knots and their signature.

The KAN paper's §4.3 (after Davies et al. 2021) predicts a knot's signature from its
hyperbolic invariants. This module builds such a data set with SnapPy (optional extra:
``pip install kanlab[knots]``; the import is lazy).

Protocol
--------
* **Knots**: the knots (one-cusp entries, names ``K...``) of SnapPy's ``HTLinkExteriors``
  census, ordered by census id: 59,937 knots of 3 to 14 crossings in SnapPy 3.3. (Note:
  ``HTLinkExteriors(knots_only=True)`` silently ignores the keyword in SnapPy 3.3 and lists all
  180,511 links; we filter on ``cusps=1``.) ``select_knots(n, seed)`` takes a seeded sample of
  ``n`` census indices (``numpy.random.default_rng(seed)``), sorted, so the set is reproducible.
* **Features** per knot (the Davies et al. invariants that SnapPy gives quickly here):
  volume, Chern-Simons invariant, maximal cusp volume, meridional translation (real, imaginary)
  and longitudinal translation of the maximal cusp (SnapPea kernel ``cusp_neighborhood`` at its
  stopping displacement: 2 ms a knot, same values as ``cusp_translations()`` which takes 0.5 s;
  the longitude is real in this normalisation) and the symmetry group (string; one-hot by
  :func:`load_knots`). **Dropped, with reason**: injectivity radius and short geodesic — the
  Dirichlet domain construction behind ``length_spectrum`` fails ("The Dirichlet construction
  failed") for nearly every census knot of 12+ crossings in SnapPy 3.3, and
  ``length_spectrum_alt_gen`` works but costs ~13 s a knot (65x the budget); torsion degrees —
  ``hyperbolic_torsion`` needs SnapPy inside Sage.
* **Label**: the signature of V + V^T for the Seifert matrix V of ``spherogram.Link(name)``
  (eigenvalues by numpy; spherogram's own ``signature()`` needs Sage). The manifold is taken
  from the same census entry, so orientations agree.
* **Skips**: a knot whose hyperbolic structure is not "all tetrahedra positively oriented"
  (after 3 re-triangulations: torus knots such as the trefoil K3a1) or whose invariant raises is
  skipped and counted by reason; so is a knot that takes over 20 s (SnapPy hangs on a few knots:
  each knot runs in a child process that is killed and restarted on a timeout).
* **Cache**: a CSV with fixed float formatting (``%.17g``), rows in census order, so the same
  selection gives the same bytes; its sha256 goes in a JSON sidecar together with the selection,
  failure counts and timing. :func:`load_knots` verifies the checksum.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import time

import numpy as np

__all__ = ["RAW_FEATURES", "SYMMETRY_CLASSES", "census_knot_count", "first_knots", "select_knots", "knot_invariants",
           "generate_knots", "load_knots", "default_cache", "sha256_file"]

RAW_FEATURES = ("volume", "chern_simons", "cusp_volume", "meridian_real", "meridian_imag", "longitude")
SYMMETRY_CLASSES = ("0", "Z/2", "Z/2 + Z/2", "D3", "D4", "D6", "D8")  # one-hot; anything else -> "other"
_HYPERBOLIC = "all tetrahedra positively oriented"


def _snappy():
    try:
        import snappy
        import spherogram
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the knots data set needs SnapPy: pip install kanlab[knots]") from e
    return snappy, spherogram


def default_cache(name: str = "knots_census_all.csv") -> str:
    """Cache path outside the repository: $KANLAB_CACHE or ~/.cache/kanlab, then knots/NAME."""
    root = os.environ.get("KANLAB_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "kanlab")
    return os.path.join(root, "knots", name)


def _census():
    snappy, _ = _snappy()
    return snappy.HTLinkExteriors(filter="cusps=1")


def census_knot_count() -> int:
    return len(_census())


def first_knots(n: int) -> list[str]:
    """The first n census knots (3 to 9 crossings for n <= 100): the tiny set of the quick run and tests."""
    import itertools
    return [m.name() for m in itertools.islice(_census(), n)]


def select_knots(n: int | None = None, seed: int = 0) -> list[str]:
    """Names of n census knots: a seeded sample of census indices, in census order (all if n is None)."""
    census = [m.name() for m in _census()]  # iterating is ~0.5 ms a knot; indexing is a SQL offset query each
    total = len(census)
    if n is None or n >= total:
        return census
    idx = np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))
    return [census[int(i)] for i in idx]


def _signature(spherogram, name: str) -> int:
    v = np.asarray(spherogram.Link(name).seifert_matrix(), dtype=float)
    ev = np.linalg.eigvalsh(v + v.T)
    return int((ev > 1e-9).sum() - (ev < -1e-9).sum())


def _hyperbolic(snappy, name: str):
    m = snappy.Manifold(name)
    for _ in range(3):
        if m.solution_type() == _HYPERBOLIC:
            return m
        m.randomize()
    return m if m.solution_type() == _HYPERBOLIC else None


def knot_invariants(name: str) -> tuple[dict | None, str | None]:
    """(row, None) with the raw features, symmetry group and signature, or (None, failure reason)."""
    snappy, spherogram = _snappy()
    try:
        m = _hyperbolic(snappy, name)
    except Exception as e:
        return None, f"manifold: {type(e).__name__}"
    if m is None:
        return None, "not hyperbolic"
    row = {"name": name}
    steps = (("volume", lambda: {"volume": float(m.volume())}),
             ("chern_simons", lambda: {"chern_simons": float(m.chern_simons())}),
             ("cusp", lambda: _cusp(m)),
             ("symmetry", lambda: {"symmetry": str(m.symmetry_group())}),
             ("signature", lambda: {"signature": _signature(spherogram, name)}))
    for what, f in steps:
        try:
            row.update(f())
        except Exception as e:
            return None, f"{what}: {type(e).__name__}"
    return row, None


def _cusp(m) -> dict:
    nbhd = m.cusp_neighborhood()
    nbhd.set_displacement(nbhd.stopping_displacement())
    mer, lon = (complex(t) for t in nbhd.translations())
    return {"cusp_volume": float(nbhd.volume()), "meridian_real": mer.real, "meridian_imag": mer.imag,
            "longitude": lon.real}


def _serve(conn):
    """Child process: compute the invariants of each name received, until None."""
    while True:
        name = conn.recv()
        if name is None:
            return
        conn.send(knot_invariants(name))


class _Child:
    """One child process (spawned: SnapPy's census database must not be shared across a fork) that
    computes invariants; a knot taking over ``timeout`` s kills it, and the next knot starts a new one."""

    def __init__(self, timeout: float):
        self.timeout, self.proc, self.conn = timeout, None, None

    def ask(self, name):
        import multiprocessing as mp
        if self.proc is None:
            ctx = mp.get_context("spawn")
            self.conn, child_conn = ctx.Pipe()
            self.proc = ctx.Process(target=_serve, args=(child_conn,), daemon=True)
            self.proc.start()
        self.conn.send(name)
        if self.conn.poll(self.timeout):
            return self.conn.recv()
        self.close(kill=True)
        return None, "timeout"

    def close(self, kill: bool = False):
        if self.proc is not None:
            if kill:
                self.proc.kill()
            else:
                self.conn.send(None)
            self.proc.join()
            self.proc = None


def _chunk(names, child: _Child):
    """Invariants of names through child; returns (rows, {reason: names})."""
    rows, fails = [], {}
    for name in names:
        row, why = child.ask(name)
        if row is None:
            fails.setdefault(why, []).append(name)
        else:
            rows.append(row)
    return rows, fails


_COLUMNS = ("name",) + RAW_FEATURES + ("symmetry", "signature")


def _write_csv(rows, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(_COLUMNS)
        for r in rows:
            w.writerow([r["name"]] + ["%.17g" % r[k] for k in RAW_FEATURES] + [r["symmetry"], r["signature"]])
    os.replace(tmp, path)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def generate_knots(path: str, n: int | None = None, seed: int = 0, names: list[str] | None = None,
                   workers: int = 1, chunk: int = 200, progress: bool = False, timeout: float = 20.0) -> dict:
    """Compute the invariants of the selected knots, write PATH (CSV) and PATH.json; returns the metadata.

    ``names`` overrides the seeded selection. Chunks of ``chunk`` knots run in ``workers`` child
    processes; results are merged in selection order, so the file does not depend on ``workers``.
    A knot that takes over ``timeout`` seconds is skipped as "timeout" (SnapPy hangs on a few).
    """
    t0 = time.perf_counter()
    explicit = names is not None
    names = list(names) if explicit else select_knots(n, seed)
    chunks = [names[i:i + chunk] for i in range(0, len(names), chunk)]
    rows, fails = [], {}
    import threading
    from concurrent.futures import ThreadPoolExecutor
    local, children = threading.local(), []

    def work(c):  # each thread drives its own child process
        if not hasattr(local, "child"):
            local.child = _Child(timeout)
            children.append(local.child)
        return _chunk(c, local.child)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for k, (r, f) in enumerate(pool.map(work, chunks), 1):
            rows += r
            for why, bad in f.items():
                fails.setdefault(why, []).extend(bad)
            if progress:
                print(f"knots: {min(k * chunk, len(names))}/{len(names)} done, {len(rows)} kept, "
                      f"{sum(map(len, fails.values()))} skipped ({time.perf_counter() - t0:.0f} s)", flush=True)
    for child in children:
        child.close()
    _write_csv(rows, path)
    import snappy
    meta = {"file": os.path.basename(path), "sha256": sha256_file(path), "requested": len(names),
            "kept": len(rows), "skipped": {k: len(v) for k, v in sorted(fails.items())},
            "skipped_names": {k: v for k, v in sorted(fails.items())}, "timeout_s": timeout, "seed": seed, "n": n,
            "selection": "explicit names" if explicit else "census knots (HTLinkExteriors, cusps=1), seeded "
                         "sample of indices (numpy default_rng(seed).choice), census order",
            "census_knots": census_knot_count(), "snappy_version": snappy.__version__, "workers": workers,
            "seconds": round(time.perf_counter() - t0, 1)}
    with open(path + ".json", "w") as fh:
        json.dump(meta, fh, indent=1)
    return meta


def _read_csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = [r["name"] for r in rows]
    raw = np.array([[float(r[k]) for k in RAW_FEATURES] for r in rows], dtype=np.float64).reshape(len(rows), -1)
    return names, raw, [r["symmetry"] for r in rows], np.array([int(r["signature"]) for r in rows], dtype=np.int64)


def load_knots(path: str, sha256: str | None = None) -> dict:
    """Read a cache written by :func:`generate_knots`, verify its sha256 (given, else from PATH.json).

    Returns ``names``, ``X`` (raw features then the symmetry one-hot, float64), ``features``
    (column names), ``signature`` (int) and ``sha256``. Raises ValueError on a checksum mismatch.
    """
    if sha256 is None:
        with open(path + ".json") as fh:
            sha256 = json.load(fh)["sha256"]
    got = sha256_file(path)
    if got != sha256:
        raise ValueError(f"checksum mismatch for {path}: expected {sha256}, got {got}")
    names, raw, sym, sig = _read_csv(path)
    classes = SYMMETRY_CLASSES + ("other",)
    onehot = np.zeros((len(names), len(classes)))
    for i, s in enumerate(sym):
        onehot[i, classes.index(s) if s in classes else len(classes) - 1] = 1.0
    features = list(RAW_FEATURES) + [f"sym[{c}]" for c in classes]
    return {"names": names, "X": np.hstack([raw, onehot]), "features": features, "signature": sig, "sha256": got}


def main(argv=None) -> int:
    """``python -m kanlab.datasets.knots --n N --seed S [--out PATH] [--workers W]``: build a cache."""
    import argparse
    ap = argparse.ArgumentParser(description="Build the knot-invariant cache (needs pip install kanlab[knots]).")
    ap.add_argument("--n", type=int, default=None, help="number of census knots (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="CSV path (default: the cache path)")
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args(argv)
    path = a.out or default_cache("knots_census_all.csv" if a.n is None else f"knots_n{a.n}_s{a.seed}.csv")
    meta = generate_knots(path, n=a.n, seed=a.seed, workers=a.workers, progress=True)
    print(json.dumps(meta, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
