"""The AI Feynman database (Udrescu & Tegmark 2020): 100 Feynman + 20 bonus laws, as SRBench uses it.

The three CSV files shipped in ``kanlab/datasets/data/ai_feynman/`` (see the README there) are
parsed once, at import, with the csv module into frozen records: :class:`Variable` (name, the
original uniform sampling range, SI unit exponents m, s, kg, T, V) and :class:`Law` (name,
output, formula text, variables, units, whether it is a bonus law and whether SRBench's
116-equation ground-truth set keeps it). Every row is checked (names, finite ranges with
low < high, the variable count, every formula name a listed variable or a known function, every
variable's units); a bad row is a KanlabError naming the file and the line.

Formulas are parsed with an explicit namespace, never sympy's ``from sympy import *``: each
variable name maps to its own Symbol (``I`` is a current, not the imaginary unit; ``gamma`` and
``beta`` are variables, not functions; the same holds for ``E``, ``S``, ``N``), only ``pi`` is a
constant, and the functions are a fixed table (``arcsin`` = asin, ``ln`` = log, ...). A name
outside both is an error, not a silently created symbol. The Symbols carry the assumptions the
sampling ranges give them (positive where low > 0, nonnegative where low = 0; always real), so
sympy may use them (sqrt(x**2) = x for a positive x).

``srbench_data`` follows SRBench's ground-truth protocol (La Cava et al. 2021): n rows sampled
uniformly in the original ranges, a shuffled 75% / 25% split, Gaussian noise of standard
deviation noise * RMS(y_train) added to the training targets only. The random stream is seeded
from (seed, SHA-256 of the law's name): the same arrays in every process, and the same rows
and split at every noise level (the noise is drawn last).

Errata: the ``# variables`` column disagrees with the listed variables in 10 rows (e.g.
I.18.12 lists r, F, theta but declares 2); the listed variables are what the formula uses, so
they win, and those 10 rows are kept in ``_COUNT_ERRATA``; any other mismatch is an error.
units.csv gives mu_drift (I.43.16, v = mu_drift*q*Volt/d) the units kg/s, the inverse of a
mobility's s/kg, so that one law is not dimensionally consistent as shipped (the other 119 are).
"""
from __future__ import annotations

import csv
import functools
import hashlib
import keyword
import math
import pathlib
from dataclasses import dataclass
from importlib import resources

import numpy as np
import sympy
from sympy.core.function import AppliedUndef
from sympy.parsing.sympy_parser import parse_expr, standard_transformations

from ..validate import KanlabError

__all__ = ["Variable", "Law", "AI_FEYNMAN", "SRBENCH_DROPPED", "UNIT_NAMES", "srbench_data", "parse_formula",
           "range_symbol", "load_laws"]

#: the SI base units of the unit exponents, in the order of ``Variable.units``
UNIT_NAMES = ("m", "s", "kg", "T", "V")
#: the laws SRBench leaves out of its 116-equation Feynman set (domain problems in their ranges)
SRBENCH_DROPPED = ("I.26.2", "I.30.5", "II.11.17", "test_10")
_MAX_VARS = 10
#: rows whose "# variables" column is wrong in the source files: name -> (declared, listed)
_COUNT_ERRATA = {"I.18.12": (2, 3), "I.18.14": (3, 4), "I.38.12": (3, 4), "II.37.1": (6, 3), "III.10.19": (3, 4),
                 "III.19.51": (4, 5), "test_12": (4, 5), "test_13": (4, 5), "test_18": (4, 5), "test_19": (5, 6)}
#: the functions and constants a formula may use (numpy spellings included); nothing else
FUNCTIONS = {"exp": sympy.exp, "log": sympy.log, "ln": sympy.log, "sqrt": sympy.sqrt, "sin": sympy.sin,
             "cos": sympy.cos, "tan": sympy.tan, "asin": sympy.asin, "acos": sympy.acos, "atan": sympy.atan,
             "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan, "sinh": sympy.sinh,
             "cosh": sympy.cosh, "tanh": sympy.tanh, "asinh": sympy.asinh, "acosh": sympy.acosh,
             "atanh": sympy.atanh, "arcsinh": sympy.asinh, "arccosh": sympy.acosh, "arctanh": sympy.atanh,
             "Abs": sympy.Abs, "abs": sympy.Abs, "sign": sympy.sign, "erf": sympy.erf, "pi": sympy.pi}
# what parse_expr's own transformations need; a name found in neither dict becomes a Symbol or
# Function that parse_formula then rejects
_PARSER_GLOBALS = {"Integer": sympy.Integer, "Float": sympy.Float, "Rational": sympy.Rational,
                   "Symbol": sympy.Symbol, "Function": sympy.Function}


@dataclass(frozen=True)
class Variable:
    """One input of a law: its name, the uniform sampling range [low, high] of the original AI
    Feynman data, and its SI unit exponents (m, s, kg, T, V)."""

    name: str
    low: float
    high: float
    units: tuple[int, ...]


@dataclass(frozen=True)
class Law:
    """One law of the database: ``output = formula(variables)``.

    ``bonus`` marks the 20 laws of BonusEquations.csv (test_1 .. test_20); ``in_srbench`` is
    False for the four SRBench drops (``SRBENCH_DROPPED``); ``output_units`` are the output's SI
    exponents (None if units.csv did not list it); ``description`` is the bonus file's name
    column (source and equation number), empty for the Feynman laws.
    """

    name: str
    output: str
    formula: str
    variables: tuple[Variable, ...]
    bonus: bool
    in_srbench: bool
    output_units: tuple[int, ...] | None
    description: str = ""

    @property
    def var_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)

    def sympy_expr(self) -> tuple[sympy.Expr, tuple[sympy.Symbol, ...]]:
        """The formula as a sympy expression and its symbols, in the order of ``variables``
        (symbols carry the assumptions of the ranges: see ``range_symbol``)."""
        return _parsed(self)

    def evaluate(self, X) -> np.ndarray:
        """The formula at the rows of X (columns in the order of ``variables``): shape (N,),
        float64; NaN/inf where the formula is not finite (numpy's rules, no warnings)."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != len(self.variables):
            raise KanlabError(f"{self.name}: X must have shape (N, {len(self.variables)}) with columns "
                              f"{', '.join(self.var_names)}; got shape {X.shape}")
        with np.errstate(all="ignore"):
            values = _numpy_fn(self)(*X.T)
        return np.array(np.broadcast_to(np.asarray(values, dtype=float), (X.shape[0],)))


def range_symbol(name: str, low: float, high: float) -> sympy.Symbol:
    """A real Symbol with the sign its range [low, high] gives it (positive, nonnegative,
    negative, nonpositive or just real): what sympy needs to simplify sqrt(x**2) to x."""
    if low > 0:
        return sympy.Symbol(name, positive=True)
    if low >= 0:
        return sympy.Symbol(name, nonnegative=True)
    if high < 0:
        return sympy.Symbol(name, negative=True)
    if high <= 0:
        return sympy.Symbol(name, nonpositive=True)
    return sympy.Symbol(name, real=True)


def parse_formula(text: str, symbols) -> sympy.Expr:
    """Parse ``text`` with every name bound explicitly: each of ``symbols`` by its name, the
    functions of ``FUNCTIONS`` and ``pi``; any other name (a misspelt variable, an unknown
    function) is a KanlabError, never a new symbol or a sympy object that happens to share it."""
    by_name = {s.name: s for s in symbols}
    local = {**FUNCTIONS, **by_name}
    try:
        expr = parse_expr(str(text), local_dict=local, global_dict=dict(_PARSER_GLOBALS),
                          transformations=standard_transformations)
    except (SyntaxError, TypeError, ValueError, AttributeError, NameError, ZeroDivisionError) as e:
        raise KanlabError(f"cannot parse formula {text!r}: {type(e).__name__}: {e}") from None
    if not isinstance(expr, sympy.Expr):
        raise KanlabError(f"formula {text!r} is not an expression (got {type(expr).__name__})")
    unknown = sorted({s.name for s in expr.free_symbols} - set(by_name))
    unknown += sorted({type(f).__name__ + "()" for f in expr.atoms(AppliedUndef)})
    if unknown:
        raise KanlabError(f"formula {text!r} uses unknown name(s) {', '.join(unknown)}; known: variables "
                          f"{', '.join(by_name) or '(none)'} and functions {', '.join(sorted(FUNCTIONS))}")
    return expr


@functools.lru_cache(maxsize=None)
def _parsed(law: Law):
    symbols = tuple(range_symbol(v.name, v.low, v.high) for v in law.variables)
    return parse_formula(law.formula, symbols), symbols


@functools.lru_cache(maxsize=None)
def _numpy_fn(law: Law):
    expr, symbols = _parsed(law)
    return sympy.lambdify(symbols, expr, "numpy")


def _shipped_folder():
    return resources.files("kanlab.datasets").joinpath("data", "ai_feynman")


def _number(text: str, where: str, what: str, kind=float):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise KanlabError(f"{where}: {what} {text!r} is not a{'n integer' if kind is int else ' number'}") from None
    if not math.isfinite(value):
        raise KanlabError(f"{where}: {what} {text!r} is not finite")
    return value


def _read_units(folder, file: str = "units.csv") -> dict[str, tuple[int, ...]]:
    """units.csv: one row per name, its exponents of m, s, kg, T, V (integers)."""
    units: dict[str, tuple[int, ...]] = {}
    with folder.joinpath(file).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("Variable", *UNIT_NAMES) if c not in (reader.fieldnames or [])]
        if missing:
            raise KanlabError(f"{file}: header lacks column(s) {', '.join(missing)}")
        for row in reader:
            where = f"{file} line {reader.line_num}"
            name = (row["Variable"] or "").strip()
            if not name.isidentifier():
                raise KanlabError(f"{where}: variable name {name!r} is not an identifier")
            if name in units:
                raise KanlabError(f"{where}: variable {name!r} listed twice")
            units[name] = tuple(_number(row[u], where, f"exponent of {u}", int) for u in UNIT_NAMES)
    return units


def _row_variables(row: dict, where: str, units: dict) -> tuple[Variable, ...]:
    """The filled vK_name/low/high slots of a row: contiguous from v1, complete, unique names."""
    variables: list[Variable] = []
    for k in range(1, _MAX_VARS + 1):
        cells = [(row.get(f"v{k}_{part}") or "").strip() for part in ("name", "low", "high")]
        if not any(cells):
            continue
        if not all(cells):
            raise KanlabError(f"{where}: variable slot v{k} is incomplete (name, low, high = {cells})")
        if len(variables) != k - 1:
            raise KanlabError(f"{where}: variable slot v{k} follows an empty slot")
        name = cells[0]
        if not name.isidentifier() or keyword.iskeyword(name):
            raise KanlabError(f"{where}: variable name {name!r} is not a valid identifier")
        if name in [v.name for v in variables]:
            raise KanlabError(f"{where}: variable {name!r} listed twice")
        low, high = (_number(c, where, f"range of {name}") for c in cells[1:])
        if not low < high:
            raise KanlabError(f"{where}: range of {name} needs low < high, got [{low}, {high}]")
        if name not in units:
            raise KanlabError(f"{where}: variable {name!r} has no row in units.csv")
        variables.append(Variable(name, low, high, units[name]))
    if not variables:
        raise KanlabError(f"{where}: no variables listed")
    return tuple(variables)


def _parse_row(row: dict, where: str, units: dict, bonus: bool) -> Law:
    """One CSV row -> Law, every field checked (see the module docstring)."""
    name, output, formula = ((row.get(c) or "").strip() for c in ("Filename", "Output", "Formula"))
    if not name or not output.isidentifier() or not formula:
        raise KanlabError(f"{where}: needs a Filename, an Output name and a Formula; got {name!r}, {output!r}, "
                          f"{formula!r}")
    where = f"{where} ({name})"
    variables = _row_variables(row, where, units)
    declared = _number(row.get("# variables") or "", where, "# variables", int)
    if declared != len(variables) and _COUNT_ERRATA.get(name) != (declared, len(variables)):
        raise KanlabError(f"{where}: '# variables' says {declared} but {len(variables)} are listed")
    law = Law(name=name, output=output, formula=formula, variables=variables, bonus=bonus,
              in_srbench=name not in SRBENCH_DROPPED, output_units=units.get(output),
              description=(row.get("Name") or "").strip())
    try:
        expr, symbols = law.sympy_expr()
    except KanlabError as e:
        raise KanlabError(f"{where}: {e}") from None
    unused = [s.name for s in symbols if s not in expr.free_symbols]
    if unused:
        raise KanlabError(f"{where}: listed variable(s) {', '.join(unused)} do not appear in {formula!r}")
    return law


def _read_laws(folder, file: str, bonus: bool, units: dict) -> list[Law]:
    with folder.joinpath(file).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("Filename", "Output", "Formula", "# variables") if c not in (reader.fieldnames or [])]
        if missing:
            raise KanlabError(f"{file}: header lacks column(s) {', '.join(missing)}")
        return [_parse_row(row, f"{file} line {reader.line_num}", units, bonus) for row in reader]


def load_laws(folder=None) -> dict[str, Law]:
    """Read and check FeynmanEquations.csv, BonusEquations.csv and units.csv from ``folder`` (a
    path; default: the copy shipped in the package) into ``{name: Law}`` in file order."""
    folder = _shipped_folder() if folder is None else pathlib.Path(folder)
    units = _read_units(folder)
    laws = _read_laws(folder, "FeynmanEquations.csv", False, units) + _read_laws(folder, "BonusEquations.csv", True,
                                                                                  units)
    table: dict[str, Law] = {}
    for law in laws:
        if law.name in table:
            raise KanlabError(f"law {law.name!r} appears twice in the AI Feynman files")
        table[law.name] = law
    absent = [n for n in SRBENCH_DROPPED if n not in table]
    if absent:
        raise KanlabError(f"SRBENCH_DROPPED names laws that are not in the files: {', '.join(absent)}")
    return table


#: all 120 laws by name, in file order (the 100 Feynman laws, then test_1 .. test_20)
AI_FEYNMAN: dict[str, Law] = load_laws()


def _rng(seed: int, name: str) -> np.random.Generator:
    """A generator seeded from (seed, the law's name) by SHA-256: the same stream in every
    process (Python's hash() of a str is salted per process)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    words = [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence([seed, *words]))


def srbench_data(law, n: int = 10_000, noise: float = 0.0, seed: int = 0) -> dict:
    """SRBench's data for one law (a Law or its name): ``X_train, y_train, X_test, y_test``.

    n rows sampled uniformly in the law's ranges, split at random into 75% training and 25% test
    rows; then ``y_train += N(0, sigma)`` with ``sigma = noise * sqrt(mean(y_train**2))``. The
    test targets stay noiseless. Rows, split and noise are a function of (law, n, seed) (and the
    noise level): stable across runs and processes; the rows and split do not depend on noise.
    A law whose values are not finite somewhere on the sample is a KanlabError.
    """
    if isinstance(law, str):
        if law not in AI_FEYNMAN:
            raise KanlabError(f"unknown AI Feynman law {law!r}; see kanlab.datasets.AI_FEYNMAN for the 120 names")
        law = AI_FEYNMAN[law]
    if not isinstance(law, Law):
        raise KanlabError(f"law must be a Law or a law's name, got {type(law).__name__}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 4:
        raise KanlabError(f"n must be an integer >= 4 (rows to sample), got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise KanlabError(f"seed must be a non-negative integer, got {seed!r}")
    noise = float(noise)
    if not (math.isfinite(noise) and noise >= 0):
        raise KanlabError(f"noise must be a finite level >= 0 (a fraction of RMS(y)), got {noise!r}")
    rng = _rng(int(seed), law.name)
    low = np.array([v.low for v in law.variables])
    high = np.array([v.high for v in law.variables])
    X = rng.uniform(low, high, size=(int(n), len(law.variables)))
    y = law.evaluate(X)
    bad = int(np.sum(~np.isfinite(y)))
    if bad:
        raise KanlabError(f"{law.name}: {law.formula} is not finite at {bad} of {n} rows sampled in its ranges "
                          f"({', '.join(f'{v.name} in [{v.low:g}, {v.high:g}]' for v in law.variables)})")
    order = rng.permutation(int(n))
    train, test = order[: 3 * int(n) // 4], order[3 * int(n) // 4:]
    y_train = y[train]
    if noise > 0:
        sigma = noise * float(np.sqrt(np.mean(y_train ** 2)))
        y_train = y_train + rng.normal(0.0, sigma, size=y_train.shape)
    return {"X_train": X[train], "y_train": y_train, "X_test": X[test], "y_test": y[test]}
