import pytest

from kanlab.cli import main


@pytest.mark.slow
@pytest.mark.parametrize("name", ["continual", "feynman", "pde", "rapidity", "special", "toy"])
def test_reproduce_quick_writes_files(name, tmp_path):
    out = tmp_path / name
    assert main(["reproduce", name, "--quick", "--out", str(out)]) == 0
    for f in ("table.md", "table.csv", "command.txt", "jobs.jsonl"):
        assert (out / f).exists(), f
    assert list(out.glob("*.png"))
    # resume: a second run finds every job done
    assert main(["reproduce", name, "--quick", "--out", str(out)]) == 0


def test_reproduce_unknown_name(capsys):
    assert main(["reproduce", "nope", "--quick"]) == 2
    assert "available" in capsys.readouterr().err
