"""The explorer's Pareto view: discover's pareto.json read as untrusted data, served in /api/state."""
import json

import pytest
import sympy

from kanlab.discovery.candidates import pareto_front
from kanlab.explorer.pareto import MAX_ROWS, check_pareto, pareto_rows, read_pareto
from kanlab.validate import KanlabError

a, b = sympy.symbols("a b")
ROW = {"complexity": 3, "rmse": 0.1, "pipeline": "identity", "formula": "a + b", "chosen": True}


def test_rows_of_a_front_mark_the_chosen_formula():
    front = pareto_front([(a, 0.5, "identity"), (a + b, 0.1, "separable")])
    rows = pareto_rows(front, a + b)
    assert [r["chosen"] for r in rows] == [False, True] and rows[1]["pipeline"] == "separable"
    assert check_pareto(json.loads(json.dumps(rows))) == rows


@pytest.mark.parametrize("bad", [
    {"rows": "not a list"}, [dict(ROW, extra=1)], [dict(ROW, complexity=True)], [dict(ROW, rmse=float("nan"))],
    [dict(ROW, formula=7)], [ROW] * (MAX_ROWS + 1), ["<script>"],
])
def test_malformed_fronts_are_clear_errors(bad):
    with pytest.raises(KanlabError, match="pareto.json"):
        check_pareto(bad)


def test_read_pareto_checks_json_and_size(tmp_path):
    p = tmp_path / "pareto.json"
    p.write_text("{not json")
    with pytest.raises(KanlabError, match="not JSON"):
        read_pareto(p)
    p.write_text(json.dumps([ROW]))
    assert read_pareto(p) == [ROW]


def test_state_carries_the_front(trained):
    from kanlab.explorer import Workbench
    from kanlab.explorer.app import _state

    assert _state(Workbench(trained, pareto=[ROW]))["pareto"] == [ROW]
    assert _state(Workbench(trained))["pareto"] is None
    with pytest.raises(KanlabError):
        Workbench(trained, pareto=[{"formula": "__import__('os')"}])
