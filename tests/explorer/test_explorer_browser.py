"""End to end in a real headless Chromium (Playwright): load a model of (u+v)/(1+uv), open an edge,
fix it to the suggested candidate, retrain, see the formula become the rapidity form
tanh(atanh(u) + atanh(v)), undo, export the formula; a request without the token is refused and a
malformed one changes nothing. Skips, saying what to install, where no browser driver or browser
is available.

The page's Content-Security-Policy allows only its own script (no ``unsafe-eval``), so the test
never evaluates JavaScript in the page (``page.wait_for_function``/``evaluate`` with a string are
blocked by it): every wait is a locator assertion, which Playwright runs outside the page's CSP.

With ``KANLAB_SCREENSHOTS=1`` it also writes docs/explorer_network.png, docs/explorer_edge.png and
docs/explorer_fixed.png (the README shows them); without it no tracked file is touched."""
import os
import re
import shutil
from pathlib import Path

import pytest
import sympy

pytest.importorskip("starlette", reason="the explorer needs starlette and uvicorn: pip install 'kanlab[explorer]'")
playwright = pytest.importorskip(
    "playwright.sync_api",
    reason="browser test needs Playwright and a Chromium: pip install playwright && apt-get install chromium "
           "(or: python -m playwright install chromium)")

from kanlab.explorer import Workbench, launch  # noqa: E402
from kanlab.explorer.app import TOKEN_HEADER  # noqa: E402

pytestmark = pytest.mark.slow

expect = playwright.expect
WAIT = 30_000  # ms: the page redraws the diagram with matplotlib on the server after every action
DOCS = Path(__file__).resolve().parents[2] / "docs"
U, V = sympy.symbols("u v")
RAPIDITY = sympy.tanh(sympy.atanh(U) + sympy.atanh(V))


def _chromium():
    for path in ("/usr/lib/chromium/chromium", shutil.which("chromium"), shutil.which("chromium-browser"),
                 shutil.which("google-chrome")):
        if path and os.access(path, os.X_OK):
            return path
    return None


def _screenshot(page, name):
    if os.environ.get("KANLAB_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / f"explorer_{name}.png"), full_page=True)


def _formula(text: str):
    """The right-hand side of the page's 'y = ...' line (text our server wrote) as sympy."""
    assert text.startswith("y = "), text
    return sympy.sympify(text[len("y = "):], locals={"u": U, "v": V})


def _form(expr, decimals=3):
    """``expr`` with every constant rounded to ``decimals`` places and made exact (1.0 -> 1, 1e-8 -> 0)."""
    rounded = expr.xreplace({f: sympy.Float(round(float(f), decimals)) for f in expr.atoms(sympy.Float)})
    return sympy.nsimplify(rounded, rational=True)


def _state(page, base, auth) -> dict:
    """/api/state without the last job's clock (its "seconds" differ from run to run)."""
    r = page.request.get(f"{base}/api/state", headers=auth)
    assert r.status == 200
    state = r.json()
    if state.get("job"):
        state["job"].pop("seconds", None)
    return state


def _images_loaded(page, *selectors):
    for sel in selectors:
        expect(page.locator(sel)).to_have_attribute("src", re.compile(r"^blob:"), timeout=WAIT)


def test_fix_retrain_undo_export_in_a_browser(rapidity_kan, rapidity_data):
    X, y, Xt, yt = rapidity_data
    exp = launch(Workbench(rapidity_kan, X, y, Xt, yt, var_names=["u", "v"]), open_browser=False, quiet=True)
    base, auth = exp.url.split("/?token=")[0], {TOKEN_HEADER: exp.token}
    try:
        with playwright.sync_playwright() as p:
            try:
                browser = p.chromium.launch(executable_path=_chromium()) if _chromium() else p.chromium.launch()
            except Exception as e:  # no browser binary
                pytest.skip(f"no headless Chromium could start ({e}); install Debian's chromium package")
            try:
                page = browser.new_page(viewport={"width": 1360, "height": 900})
                _flow(page, exp, base, auth)
            finally:
                browser.close()
    finally:
        exp.stop()


def _flow(page, exp, base, auth):
    history, current = page.locator("#history li"), page.locator("#history li.current")
    formula_text = page.locator("#formula-text")

    # the network: three live edges, two of them symbolic; no formula yet (one numeric edge)
    page.goto(exp.url)
    expect(page.locator("#spots button")).to_have_count(3, timeout=WAIT)
    expect(history).to_have_count(1, timeout=WAIT)
    expect(formula_text).to_contain_text("still numeric", timeout=WAIT)
    _images_loaded(page, "#diagram", "#formula")
    _screenshot(page, "network")

    # open edge (0,0,0): its curve and the ranked candidates; the first suggestion is arctanh
    page.click('#spots button[data-edge="0,0,0"]')
    expect(page.locator("#edge")).to_be_visible(timeout=WAIT)
    expect(page.locator("#edge-title")).to_contain_text("Edge (0,0,0)", timeout=WAIT)
    first = page.locator("button.fix-candidate").first
    expect(first).to_be_visible(timeout=WAIT)
    expect(first).to_have_attribute("data-name", "arctanh")
    _images_loaded(page, "#edge-plot")
    _screenshot(page, "edge")

    # fix it to that candidate: every edge symbolic, so a formula appears
    first.click()
    expect(history).to_have_count(2, timeout=WAIT)
    expect(current).to_have_text(re.compile(r"^fix \(0,0,0\) = arctanh"), timeout=WAIT)
    expect(formula_text).to_contain_text("atanh", timeout=WAIT)
    fixed_text = formula_text.inner_text()

    # retrain 10 steps: the formula is the rapidity form tanh(atanh(u) + atanh(v)) (constants to 3 places)
    page.fill("#steps", "10")
    page.click("#retrain")
    expect(history).to_have_count(3, timeout=120_000)
    expect(current).to_have_text(re.compile(r"^retrain 10 steps"), timeout=WAIT)
    expect(formula_text).to_contain_text("atanh", timeout=WAIT)
    retrained = _formula(formula_text.inner_text())
    assert _form(retrained) == RAPIDITY, retrained
    assert float(page.locator("#f-rmse").inner_text()) < 1e-4
    assert float(page.locator("#f-r2").inner_text()) > 0.9999
    assert exp.workbench.metrics["formula_rmse"] < 1e-4
    _images_loaded(page, "#diagram", "#formula")
    _screenshot(page, "fixed")

    # undo: back to the state after the fix, with its formula
    page.click("#undo")
    expect(current).to_have_text(re.compile(r"^fix \(0,0,0\) = arctanh"), timeout=WAIT)
    expect(formula_text).to_have_text(fixed_text, timeout=WAIT)
    assert exp.workbench.history()["position"] == 1
    expect(page.locator("#redo")).to_be_enabled(timeout=WAIT)

    # export the formula from the page (a download) and from the endpoint in every text format
    with page.expect_download(timeout=WAIT) as download:
        page.click('#exports button[data-export="formula.txt"]')
    sympy_text = Path(download.value.path()).read_text()
    assert download.value.suggested_filename == "formula.txt"
    assert _form(sympy.sympify(sympy_text.strip(), locals={"u": U, "v": V})) == RAPIDITY, sympy_text
    expect(formula_text).to_have_text(sympy_text.strip(), timeout=WAIT)  # the page shows what it exported
    tex = page.request.get(f"{base}/api/export/formula.tex", headers=auth)
    assert tex.status == 200 and r"\tanh" in tex.text() and r"\operatorname{atanh}" in tex.text()
    py = page.request.get(f"{base}/api/export/formula.py", headers=auth)
    assert py.status == 200 and "def y(x0, x1):" in py.text() and "numpy.tanh(" in py.text()
    assert re.search(r"numpy\.arctanh\([^)]*x0", py.text()) and re.search(r"numpy\.arctanh\([^)]*x1", py.text())

    # undo once more: the loaded model, which has no formula
    page.click("#undo")
    expect(current).to_have_text(re.compile(r"^load"), timeout=WAIT)
    expect(formula_text).to_contain_text("still numeric", timeout=WAIT)
    assert page.request.get(f"{base}/api/export/formula.tex", headers=auth).status == 400

    # no token, a wrong token, the token in the query of an API call: 403, nothing changes
    before = _state(page, base, auth)
    for headers, query in [({}, ""), ({TOKEN_HEADER: "0" * 48}, ""), ({}, f"?token={exp.token}")]:
        assert page.request.get(f"{base}/api/state{query}", headers=headers).status == 403
        r = page.request.post(f"{base}/api/action/redo{query}", data={}, headers=headers)
        assert r.status == 403 and "token" in r.json()["error"]
    assert page.request.get(f"{base}/api/export/model.kan").status == 403

    # malformed requests: a clear 4xx, and the state is as it was
    for data, extra in [({"l": 0, "i": 0, "j": 0, "name": "__import__('os').system('x')"}, {}),
                        ({"l": 0, "i": 7, "j": 0, "name": "sin"}, {}),
                        ({"l": 0, "i": "0", "j": 0, "name": "sin"}, {}),
                        ({"l": 0, "i": 0, "j": 0, "name": "sin", "path": "/etc/passwd"}, {}),
                        ("{not json", {"Content-Type": "application/json"})]:
        r = page.request.post(f"{base}/api/action/fix", data=data, headers={**auth, **extra})
        assert 400 <= r.status < 500 and r.json()["error"], (data, r.status)
    r = page.request.post(f"{base}/api/action/retrain", data={"steps": 10 ** 6}, headers=auth)
    assert r.status == 400 and "steps" in r.json()["error"]
    assert _state(page, base, auth) == before

    # ... and through the page: a name outside the library is refused with the reason shown
    expect(page.locator("#edge")).to_be_visible(timeout=WAIT)
    page.fill("#fix-name", "os.system")
    page.click("#fix-typed")
    expect(page.locator("#message")).to_have_class("error", timeout=WAIT)
    expect(page.locator("#message")).to_contain_text("not in the symbolic library")
    expect(history).to_have_count(3)
    expect(current).to_have_text(re.compile(r"^load"))
    assert _state(page, base, auth) == before
