import numpy as np
import pytest

from kanlab.datasets import from_csv
from kanlab.validate import KanlabError


def write(p, text):
    p.write_text(text)
    return p


def test_from_csv_split_is_seeded(tmp_path):
    rows = "\n".join(f"{i},{i % 7},{2 * i}" for i in range(50))
    p = write(tmp_path / "d.csv", "a,b,y\n" + rows + "\n")
    d1, d2 = from_csv(p, "y", seed=3), from_csv(p, "y", seed=3)
    assert d1["split"] == {"train": 40, "test": 10, "seed": 3}
    assert np.array_equal(d1["test_input"].numpy(), d2["test_input"].numpy())
    assert d1["feature_names"] == ["a", "b"]
    assert from_csv(p, "y", features="b")["train_input"].shape == (40, 1)


@pytest.mark.parametrize("text, match", [
    ("a,b,y\n1,2,3\n", "at least 4 rows"),
    ("a,b\n1,2\n", "column 'y' not in"),
    ("a,b,y\n1,x,3\n", "is not a number"),
    ("a,b,y\n1,nan,3\n", "NaN/inf"),
    ("a,b,y\n" + "1,2,3\n1,3,4\n1,4,5\n1,5,6\n", "constant"),
])
def test_from_csv_errors(tmp_path, text, match):
    p = write(tmp_path / "bad.csv", text)
    with pytest.raises(KanlabError, match=match):
        from_csv(p, "y")


def test_missing_file(tmp_path):
    with pytest.raises(KanlabError, match="no such file"):
        from_csv(tmp_path / "nope.csv", "y")


def test_error_lists_a_column_name_with_a_line_break_on_one_line(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text('"a\nb",x\n1,2\n3,4\n')  # a quoted header field holding a newline
    with pytest.raises(KanlabError) as e:
        from_csv(p, target="y")
    assert "\n" not in str(e.value) and "'a\\nb', x" in str(e.value)
