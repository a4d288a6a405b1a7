import os

import pytest
import torch

from kanlab import KAN, create_dataset
from kanlab.io import ModelFileError


def trained():
    ds = create_dataset(lambda x: x[:, [0]] * x[:, [1]], n_var=2, train_num=200, test_num=10, seed=0)
    m = KAN([2, 3, 1], seed=0)
    m.fit(ds, steps=3, progress=False)
    return m.refine(7)


def test_roundtrip_bit_exact(tmp_path):
    m = trained()
    p = tmp_path / "m.kan"
    m.save(p)
    m2 = KAN.load(p)
    assert isinstance(m2, KAN) and m2.width == m.width and m2.grid == 7
    for (k1, v1), (k2, v2) in zip(m.state_dict().items(), m2.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    x = torch.rand(50, 2)
    assert torch.equal(m(x), m2(x))


def test_float64_roundtrip(tmp_path):
    m = KAN([2, 2, 1], dtype=torch.float64)
    m.save(tmp_path / "a.kan")
    assert KAN.load(tmp_path / "a.kan").layers[0].coef.dtype == torch.float64


def _old_layout(sd):
    """A state dict as kanlab 0.1 wrote it: KANLayer.coef (in, out, G+k)."""
    return {k: (v.transpose(1, 2).contiguous() if k.endswith(".coef") else v) for k, v in sd.items()}


@pytest.mark.parametrize("width", [[2, 3, 1], [2, 8, 1]])  # [2, 8, 1]: out = G + k = 8, shapes alike
def test_format_1_files_and_version_1_state_dicts_load(tmp_path, width):
    """Models saved before coef became (in, G+k, out) load to the same functions."""
    import json

    from safetensors.torch import save_file

    m = KAN(width, seed=0)
    with torch.no_grad():
        for layer in m.layers:
            layer.coef.normal_(generator=torch.Generator().manual_seed(3))
    x = torch.rand(40, 2)
    old = _old_layout(m.state_dict())
    meta = {"format": "kanlab", "format_version": "1", "config": json.dumps(m.config())}
    save_file(old, str(tmp_path / "v1.kan"), metadata=meta)
    assert torch.equal(KAN.load(tmp_path / "v1.kan")(x), m(x))
    sd = m.state_dict()  # torch's own state dict carries each module's version: 1 for the old layout
    old_sd = type(sd)(_old_layout(sd))
    old_sd._metadata = {k: dict(v) for k, v in sd._metadata.items()}
    for k in ("layers.0", "layers.1"):
        old_sd._metadata[k]["version"] = 1
    fresh = KAN(width, seed=1)
    fresh.load_state_dict(old_sd)
    assert torch.equal(fresh(x), m(x))
    fresh = KAN(width, seed=1)
    fresh.load_state_dict(sd)  # and the current layout as it is
    assert torch.equal(fresh(x), m(x))


def test_truncated_foreign_and_newer_files(tmp_path):
    m = trained()
    p = tmp_path / "m.kan"
    m.save(p)
    data = p.read_bytes()
    (tmp_path / "trunc.kan").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        KAN.load(tmp_path / "trunc.kan")
    (tmp_path / "junk.kan").write_bytes(b"hello world")
    with pytest.raises(ModelFileError):
        KAN.load(tmp_path / "junk.kan")
    from safetensors.torch import save_file

    save_file({"a": torch.zeros(2)}, str(tmp_path / "foreign.kan"))
    with pytest.raises(ModelFileError, match="not a kanlab model"):
        KAN.load(tmp_path / "foreign.kan")
    save_file({"a": torch.zeros(2)}, str(tmp_path / "newer.kan"), metadata={"format": "kanlab", "format_version": "99", "config": "{}"})
    with pytest.raises(ModelFileError, match="newer"):
        KAN.load(tmp_path / "newer.kan")
    with pytest.raises(FileNotFoundError):
        KAN.load(tmp_path / "missing.kan")


def test_atomic_save_keeps_old_file_on_failure(tmp_path, monkeypatch):
    m = trained()
    p = tmp_path / "m.kan"
    m.save(p)
    before = p.read_bytes()
    import safetensors.torch

    def boom(*a, **k):
        raise RuntimeError("disk full (injected)")

    monkeypatch.setattr(safetensors.torch, "save_file", boom)
    with pytest.raises(RuntimeError, match="injected"):
        KAN([2, 4, 1]).save(p)
    assert p.read_bytes() == before
    assert KAN.load(p).width == [2, 3, 1]
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp")] == []
