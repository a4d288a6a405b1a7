"""The Python examples in docs/*.md run as written (so the docs stay true)."""
import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
BLOCKS = [(p.name, i, code) for p in sorted(DOCS.glob("*.md"))
          for i, code in enumerate(re.findall(r"```python\n(.*?)```", p.read_text(), re.S))]


@pytest.mark.slow
@pytest.mark.parametrize("name,i,code", BLOCKS, ids=[f"{n}#{i}" for n, i, _ in BLOCKS])
def test_doc_example_runs(name, i, code):
    exec(compile(code, f"{name}#{i}", "exec"), {"__name__": "__doc_example__"})
