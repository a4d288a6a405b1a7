"""discover snaps constants one way: every pipeline goes through kanlab.symbolic.snap.snap_formula
(the Pareto list's rounding levels through snap.rounded_variants); no module of discovery/ calls
the recipe's parts itself."""
import ast
import pathlib

DISCOVERY = pathlib.Path(__file__).resolve().parents[2] / "src" / "kanlab" / "discovery"
PARTS = {"snap_constants", "polish_constants", "linearise_flat_calls", "round_expr", "nice_values", "snap_floats",
         "limit_denominator"}


def _names(path):
    tree = ast.parse(path.read_text())
    imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} | {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return imported | used


def test_no_discovery_module_uses_the_recipes_parts():
    offenders = {p.name: sorted(_names(p) & PARTS) for p in DISCOVERY.glob("*.py") if _names(p) & PARTS}
    assert offenders == {}


def test_every_pipeline_module_snaps_through_snap_formula():
    assert "snap_formula" in _names(DISCOVERY / "pipelines.py")
    assert "rounded_variants" in _names(DISCOVERY / "pipeline.py")
