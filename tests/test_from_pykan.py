"""docs/from_pykan.md maps every public pykan 0.2.8 name to kanlab (or says why there is none),
and every kanlab name it cites exists. Its workflows run with the other docs (tests/test_docs.py)."""
import importlib
import pathlib
import re

import pytest

import kanlab

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "from_pykan.md"

# public methods / properties of pykan 0.2.8's MultKAN (kan/MultKAN.py), its layers, and the
# kan.utils / kan.hypothesis / kan.compiler functions users call
PYKAN_NAMES = {
    "MultKAN": ["fit", "forward", "refine", "update_grid", "update_grid_from_samples", "initialize_from_another_model",
                "initialize_grid_from_another_model", "prune", "prune_node", "prune_edge", "prune_input",
                "remove_node", "remove_edge", "attribute", "node_attribute", "feature_score", "feature_interaction",
                "fix_symbolic", "unfix_symbolic", "unfix_symbolic_all", "suggest_symbolic", "auto_symbolic",
                "symbolic_formula", "set_mode", "get_range", "get_fun", "get_act", "plot", "tree", "reg", "get_reg",
                "get_params", "disable_symbolic_in_fit", "disable_save_act_in_fit", "recover_symbolic_in_fit",
                "recover_save_act_in_fit", "speed", "saveckpt", "loadckpt", "copy", "log_history", "history",
                "rewind", "checkout", "expand_depth", "expand_width", "perturb", "swap", "auto_swap", "auto_swap_l",
                "connection_cost", "module", "n_edge", "evaluate", "to", "width_in", "width_out", "n_sum", "n_mult"],
    "KANLayer": ["KANLayer.forward", "KANLayer.update_grid_from_samples", "KANLayer.initialize_grid_from_parent",
                 "KANLayer.get_subset", "KANLayer.swap"],
    "Symbolic_KANLayer": ["Symbolic_KANLayer.fix_symbolic", "Symbolic_KANLayer.get_subset",
                          "Symbolic_KANLayer.forward", "Symbolic_KANLayer.swap"],
    "utils": ["create_dataset", "create_dataset_from_data", "fit_params", "add_symbolic", "SYMBOLIC_LIB", "ex_round",
              "augment_input", "batch_jacobian", "batch_hessian", "get_derivative", "model2param", "sparse_mask"],
    "hypothesis": ["detect_separability", "test_separability", "test_general_separability", "test_symmetry",
                   "plot_tree"],
    "compiler": ["kanpiler"],
}


def _rows():
    """{pykan name: kanlab cell} from the tables (first cell may list several names)."""
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for name in re.findall(r"`([A-Za-z_][\w.]*)", cells[0]):
                rows[name] = cells[1]
    return rows


@pytest.mark.parametrize("name", [n for names in PYKAN_NAMES.values() for n in names])
def test_every_pykan_name_has_a_row(name):
    rows = _rows()
    assert name in rows, f"pykan's {name} has no row in docs/from_pykan.md"
    assert rows[name], f"the row of {name} says nothing"


def _resolve(path: str):
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(path)


def test_cited_kanlab_names_exist():
    cited = set()
    for cell in _rows().values():
        cited |= set(re.findall(r"`(kanlab(?:\.\w+)+)", cell))
        cited |= {f"kanlab.{m}" for m in re.findall(r"`((?:KAN|KANLayer)\.\w+)", cell)}
    assert len(cited) > 30
    missing = []
    for path in sorted(cited):
        try:
            _resolve(path)
        except (ImportError, AttributeError):
            missing.append(path)
    assert not missing, f"docs/from_pykan.md cites names kanlab does not have: {missing}"
