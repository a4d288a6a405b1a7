"""Model files are checked before anything is allocated (issue 20, item 2).

``kanlab.io.load`` reads the safetensors header (config, tensor names, dtypes and shapes), checks
the config's fields, its agreement with the stored tensors and the documented limits, and only
then builds the network. The memory bomb of the issue (a ~1 KB file whose config claims a
100,000-wide layer with grid 10,000) is a regression test; a hypothesis fuzz of mutated configs
runs in a child process under an address-space limit (``resource.setrlimit``).
"""
import copy
import json
import os
import subprocess
import sys

import pytest
import torch

from kanlab import KAN
from kanlab import io
from kanlab.io import ModelFileError
from kanlab.symbolic import UnknownSymbolicFunction
from kanlab.validate import KanlabError


def _small_model():
    m = KAN([2, 3, 1], seed=0)
    m.fix_symbolic(0, 1, 2, "sin", fit_params=False, params=(1.0, 0.0, 1.0, 0.0))
    return m


def _write(path, tensors, cfg, version="2"):
    from safetensors.torch import save_file

    meta = {"format": "kanlab", "format_version": version, "config": json.dumps(cfg)}
    save_file(tensors, str(path), metadata=meta)
    return path


def _parts(model):
    return {k: v.detach().contiguous() for k, v in model.state_dict().items()}, model.config()


def test_memory_bomb_from_the_issue_is_refused_before_anything_is_built(tmp_path, monkeypatch):
    tensors, cfg = _parts(KAN([1, 1], grid=1, k=1, seed=0))
    cfg["layers"][0].update(in_dim=100_000, out_dim=100_000, grid=10_000)
    cfg["n_inputs"] = 100_000
    path = _write(tmp_path / "bomb.kan", tensors, cfg)
    assert os.path.getsize(path) < 1500

    def built(*args, **kwargs):
        raise AssertionError("the network was built before the file was checked")

    monkeypatch.setattr(KAN, "from_config", classmethod(built))
    monkeypatch.setattr(KAN, "__init__", built)
    with pytest.raises(ModelFileError, match=r"do not match the config .*layers\.0\.coef is \[1, 2, 1\], config says "
                                             r"\[100000, 10001, 100000\]"):
        KAN.load(path)


def test_a_consistent_file_over_the_limit_is_refused(tmp_path, monkeypatch):
    """The limit counts what loading allocates, including the skeleton from_config builds first
    with the first layer's grid for every layer (a small first layer with a large grid followed
    by a wide layer with a small grid would otherwise allocate far more than the file holds)."""
    m = KAN([1, 4, 4], grid=5, seed=0)
    path = tmp_path / "m.kan"
    m.save(path)
    assert KAN.load(path).width == [1, 4, 4]
    need = io.planned_values(m.config())
    monkeypatch.setattr(io, "MAX_VALUES", need - 1)
    with pytest.raises(ModelFileError, match=f"would allocate {need:,} numbers, over the limit"):
        KAN.load(path)
    monkeypatch.setattr(io, "MAX_VALUES", need)
    KAN.load(path)
    monkeypatch.setattr(io, "MAX_FILE_BYTES", os.path.getsize(path) - 1)
    with pytest.raises(ModelFileError, match="over the limit of"):
        KAN.load(path)


def test_skeleton_counts_the_first_layers_grid_for_every_layer():
    cfg = {"layers": [{"in_dim": 1, "out_dim": 2000, "grid": 2000, "k": 3},
                      {"in_dim": 2000, "out_dim": 100, "grid": 1, "k": 3}]}
    assert io.planned_values(cfg) > 2000 * 100 * 2000 > io.MAX_VALUES


@pytest.mark.parametrize("change, words", [
    (lambda c: c["layers"][0].update(k=2), "do not match"),
    (lambda c: c["layers"][1].update(in_dim=4), "must fit together"),
    (lambda c: c["layers"][0].update(grid="5"), r"layers\[0\]\.grid must be an integer"),
    (lambda c: c["layers"][0].update(grid_range=[1, -1]), "grid_range"),
    (lambda c: c["layers"][0].update(base_fun="os.system"), "base_fun must be one of"),
    (lambda c: c["layers"][0].pop("bias"), "bias must be one of"),
    (lambda c: c["layers"][0].update(symbolic=[]), "do not match"),
    (lambda c: c.update(n_inputs=1), "n_inputs"),
    (lambda c: c.update(layers=[]), "non-empty list"),
    (lambda c: c.update(layers={"0": 1}), "non-empty list"),
])
def test_config_errors_name_the_field(tmp_path, change, words):
    tensors, cfg = _parts(_small_model())
    change(cfg)
    with pytest.raises(ModelFileError, match=words):
        KAN.load(_write(tmp_path / "m.kan", tensors, cfg))


def test_an_unknown_symbolic_function_is_named_before_anything_is_built(tmp_path, monkeypatch):
    tensors, cfg = _parts(_small_model())
    cfg["layers"][0]["symbolic"] = ["__import__('os')"]
    monkeypatch.setattr(KAN, "from_config", classmethod(lambda *a, **k: pytest.fail("built before the check")))
    with pytest.raises(UnknownSymbolicFunction, match="unknown symbolic function"):
        KAN.load(_write(tmp_path / "m.kan", tensors, cfg))


def test_index_tensors_must_point_inside_their_layers(tmp_path):
    tensors, cfg = _parts(_small_model())
    tensors["symbolic.0.index"] = torch.tensor([[1, 7]])
    with pytest.raises(ModelFileError, match="points outside layer 0"):
        KAN.load(_write(tmp_path / "m.kan", tensors, cfg))
    tensors, cfg = _parts(_small_model())
    tensors["input_index"] = torch.tensor([0, 5])
    with pytest.raises(ModelFileError, match="distinct column numbers"):
        KAN.load(_write(tmp_path / "n.kan", tensors, cfg))


# ---------------------------------------------------------------- the fuzz (in a child process)

def _mutations():
    from hypothesis import strategies as st

    big = st.sampled_from([10, 1000, 10 ** 6, 10 ** 9, 10 ** 18, 10 ** 30])
    other = st.one_of(st.none(), st.booleans(), st.text(max_size=5), st.floats(allow_nan=True), st.integers(-5, 5),
                      st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
    op = st.one_of(st.tuples(st.just("scale"), big), st.tuples(st.just("swap"), other), st.tuples(st.just("drop"), st.none()),
                   st.tuples(st.just("negate"), st.none()))
    return st.lists(st.tuples(st.integers(0, 10 ** 6), op), min_size=1, max_size=3)


def _paths(cfg, prefix=()):
    """Every (container, key) of a JSON value, depth first."""
    items = cfg.items() if isinstance(cfg, dict) else enumerate(cfg) if isinstance(cfg, list) else []
    out = []
    for key, value in items:
        out.append((cfg, key))
        out += _paths(value, prefix + (key,))
    return out


def _mutate(cfg, mutations):
    cfg = copy.deepcopy(cfg)
    for pick, (kind, arg) in mutations:
        paths = _paths(cfg)
        if not paths:
            break
        box, key = paths[pick % len(paths)]
        value = box[key]
        if kind == "drop":
            box.pop(key) if isinstance(box, dict) else box.pop(key)
        elif kind == "swap":
            box[key] = arg
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            box[key] = value * arg if kind == "scale" else -value
        elif kind == "scale" and isinstance(value, list):
            box[key] = value * min(arg, 50)  # a list repeated (layers, grid_range, symbolic names)
    return cfg


def fuzz_main(n_examples: int, folder: str) -> None:
    """The hypothesis fuzz; run in a child process under an address-space limit."""
    import resource

    from hypothesis import HealthCheck, given, settings

    tensors, cfg = _parts(_small_model())
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[0])
    limit = pages * os.sysconf("SC_PAGE_SIZE") + 1024 ** 3  # what is mapped now, plus 1 GiB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    seen = {"loaded": 0, "refused": 0}

    @settings(max_examples=n_examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(_mutations())
    def run(mutations):
        path = os.path.join(folder, "fuzz.kan")
        try:
            _write(path, tensors, _mutate(cfg, mutations))
        except (ValueError, TypeError):
            return  # not JSON (e.g. a NaN key): no such file can exist
        try:
            m = KAN.load(path)
        except (KanlabError, UnknownSymbolicFunction) as e:  # the latter names the function and how to register it
            assert "allocate memory" not in str(e) and "out of memory" not in str(e), e
            seen["refused"] += 1
            return
        seen["loaded"] += 1  # a harmless mutation (the seed, the noise scale): the model is the stored one
        assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == {k: tuple(v.shape) for k, v in tensors.items()}

    run()
    print(json.dumps(seen))


def test_fuzzed_configs_end_in_a_clear_error_under_a_memory_limit(tmp_path):
    n = 200
    code = f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); import test_io_limits as t; " \
           f"t.fuzz_main({n}, {str(tmp_path)!r})"
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["loaded"] + seen["refused"] >= n * 0.9 and seen["refused"] > n / 2
    print(f"fuzz: {seen}")
