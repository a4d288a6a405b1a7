"""The knots data set (SnapPy) and the quick knots experiment, on a few census knots.

Skipped, with the reason, when the optional extra is missing (``pip install kanlab[knots]``).
"""
import json

import numpy as np
import pytest

pytest.importorskip("snappy", reason="SnapPy is not installed: pip install kanlab[knots]")
pytest.importorskip("spherogram", reason="spherogram (SnapPy's link package) is not installed: pip install kanlab[knots]")

from kanlab.datasets import knots as kd  # noqa: E402

FEW = ["K3a1", "K4a1", "K5a1", "K5a2", "K6a2"]  # trefoil, figure-eight, 5_2, 5_1 (torus), 6_2


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("knots") / "few.csv")
    return path, kd.generate_knots(path, names=FEW)


def test_figure_eight_invariants():
    row, why = kd.knot_invariants("K4a1")
    assert why is None
    assert row["volume"] == pytest.approx(2.0298832128, abs=1e-9)
    assert row["signature"] == 0
    assert abs(row["chern_simons"]) < 1e-9  # amphichiral
    assert row["cusp_volume"] == pytest.approx(np.sqrt(3), abs=1e-9)  # maximal cusp area 2*sqrt(3)
    assert row["meridian_real"] == pytest.approx(0, abs=1e-9) and row["meridian_imag"] == pytest.approx(1, abs=1e-9)
    assert row["longitude"] == pytest.approx(2 * np.sqrt(3), abs=1e-9)
    assert row["symmetry"] == "D4"


@pytest.mark.slow
def test_torus_knots_are_skipped_and_counted(cache):
    _, meta = cache
    assert kd.knot_invariants("K3a1") == (None, "not hyperbolic")
    assert meta["requested"] == 5 and meta["kept"] == 3
    assert meta["skipped"] == {"not hyperbolic": 2}
    assert meta["skipped_names"] == {"not hyperbolic": ["K3a1", "K5a2"]}


def test_signature_matches_known_values():
    # 5_2 (K5a1) and 6_2 (K6a2) have |signature| 2; the sign follows -lambda*mu_r/|mu|^2 (human formula)
    for name in ("K5a1", "K6a2"):
        row, _ = kd.knot_invariants(name)
        assert abs(row["signature"]) == 2
        slope = row["longitude"] * row["meridian_real"] / (row["meridian_real"] ** 2 + row["meridian_imag"] ** 2)
        assert np.sign(slope) == -np.sign(row["signature"])


@pytest.mark.slow
def test_generation_is_deterministic(cache, tmp_path):
    path, meta = cache
    again = kd.generate_knots(str(tmp_path / "again.csv"), names=FEW)
    assert again["sha256"] == meta["sha256"] == kd.sha256_file(path)


@pytest.mark.slow
def test_cache_round_trip_and_checksum(cache, tmp_path):
    path, meta = cache
    d = kd.load_knots(path)
    assert d["names"] == ["K4a1", "K5a1", "K6a2"]
    assert d["X"].shape == (3, len(kd.RAW_FEATURES) + len(kd.SYMMETRY_CLASSES) + 1)
    assert d["features"][:len(kd.RAW_FEATURES)] == list(kd.RAW_FEATURES)
    assert np.allclose(d["X"][:, len(kd.RAW_FEATURES):].sum(1), 1)  # one-hot symmetry
    assert d["signature"].tolist()[0] == 0 and d["sha256"] == meta["sha256"]
    bad = tmp_path / "bad.csv"
    bad.write_text(open(path).read().replace("K5a1", "K5a9"))
    (tmp_path / "bad.csv.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="checksum mismatch"):
        kd.load_knots(str(bad))


@pytest.mark.slow
def test_quick_experiment_writes_files(tmp_path, monkeypatch):
    from kanlab.cli import main

    monkeypatch.setenv("KANLAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert main(["reproduce", "knots", "--quick", "--out", str(out)]) == 0
    for f in ("table.md", "table.csv", "command.txt", "jobs.jsonl", "attribution.png", "formula.txt", "dataset.json"):
        assert (out / f).exists(), f
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["kept"] + sum(meta["skipped"].values()) == meta["requested"] == 60
    assert sum(map(len, meta["skipped_names"].values())) == sum(meta["skipped"].values())
    assert "chosen on validation" in (out / "table.md").read_text()


def test_validated_comparison_chooses_on_validation_only():
    from kanlab.experiments.knots_validated import validated_comparison

    def res(id, w, val, test):
        return {"id": id, "width": [14, w, 10], "val_acc": val, "test_acc": test}
    # width 5 is better on test, width 10 on validation: the choice must follow validation
    results = [res("kan_val_w5_s0", 5, 85.0, 90.0), res("kan_val_w5_s1", 5, 86.0, 91.0),
               res("kan_val_w10_s0", 10, 87.0, 80.0), res("kan_val_w10_s1", 10, 86.5, 81.0),
               res("mlp_val_s0", 300, 86.0, 85.0), res("mlp_val_s1", 300, 86.0, 86.0)]
    v = validated_comparison(results)
    assert v["width"] == 10 and v["kan_test"] == [80.0, 81.0]
    assert v["diff"] == -5.0 and not v["within_spread"]
    assert validated_comparison(results[:4]) == {}  # no MLP runs: no comparison
