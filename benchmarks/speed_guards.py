"""Wall-clock figures that used to be asserts in the tests (the tests now check the same
properties deterministically: the work done, that a limit is armed and honoured).

- ``fit_affine`` of one edge's 1000 samples against all 23 library functions in one call
  (tests/symbolic/test_symbolic_fit.py::test_all_names_in_one_call_order_and_work_size;
  about 0.3 s on an idle core, the old test allowed 5 s);
- ``bounded_simplify`` on the formula its time limit was added for, with ``seconds=1``
  (tests/test_export.py::test_bounded_simplify_gives_up_instead_of_exhausting_memory; the old
  test allowed 20 s), and on a call to a simplify that never returns, with ``seconds=0.2``.

Prints one line per figure (median of ``--repeats`` runs) and the old limit beside it; exits 1
when a median is over its limit, so it can guard a release by hand.

    python benchmarks/speed_guards.py [--repeats 3] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import sympy  # noqa: E402
import torch  # noqa: E402

from kanlab.core.primitives import default_library  # noqa: E402
from kanlab.symbolic import fit_affine  # noqa: E402
from kanlab.symbolic.formula import bounded_simplify  # noqa: E402


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _fit_affine_all_names():
    x = torch.linspace(-1, 1, 1000, dtype=torch.float64)
    y = torch.sin(3 * x + 1)
    lib = default_library()
    fit_affine(x[:50], y[:50], lib)  # warm-up
    return lambda: fit_affine(x, y, lib)


def _bounded_simplify_nasty():
    a, b, c = sympy.symbols("a b c")
    nasty = sympy.cos(sympy.Rational(7, 5) * a - sympy.Rational(11, 8) * b + sympy.Rational(1, 9) - 34 / (8 * c + 10) ** 2)
    return lambda: bounded_simplify(nasty, seconds=1.0)


def _bounded_simplify_never_returns():
    a = sympy.Symbol("a")

    def never_returns(expr, *args, **kwargs):
        while True:
            pass

    def run():
        real = sympy.simplify
        sympy.simplify = never_returns
        try:
            bounded_simplify(sympy.sin(a) ** 2 + sympy.cos(a) ** 2, seconds=0.2)
        finally:
            sympy.simplify = real

    return run


CASES = [
    ("fit_affine, 1000 samples x 23 functions", _fit_affine_all_names, 5.0),
    ("bounded_simplify(nasty formula, seconds=1)", _bounded_simplify_nasty, 20.0),
    ("bounded_simplify(never-returning simplify, seconds=0.2)", _bounded_simplify_never_returns, 1.0),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    over = 0
    print(f"{'case':58s} {'median s':>9s} {'limit s':>8s}")
    for name, make, limit in CASES:
        seconds = _median_seconds(make(), args.repeats)
        over += seconds > limit
        print(f"{name:58s} {seconds:9.3f} {limit:8.1f}{'  OVER' if seconds > limit else ''}")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
