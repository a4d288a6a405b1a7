"""The explorer's web API through Starlette's TestClient: the token, validation, round trips."""
import pytest

pytest.importorskip("starlette", reason="the explorer app needs starlette: pip install 'kanlab[explorer]'")
pytest.importorskip("httpx", reason="starlette's TestClient needs httpx: pip install httpx")

from starlette.testclient import TestClient  # noqa: E402

from kanlab.explorer import Workbench  # noqa: E402
from kanlab.explorer.app import TOKEN_HEADER, create_app  # noqa: E402

TOKEN = "a" * 48


@pytest.fixture
def wb(trained, rapidity_data):
    X, y, Xt, yt = rapidity_data
    return Workbench(trained, X, y, Xt, yt, var_names=["u", "v"], target="w")


@pytest.fixture
def client(wb):
    return TestClient(create_app(wb, TOKEN))


H = {TOKEN_HEADER: TOKEN}


def post(client, action, body, headers=H):
    return client.post(f"/api/action/{action}", json=body, headers=headers)


@pytest.mark.parametrize("method, path", [("get", "/"), ("get", "/static/app.js"), ("get", "/api/state"),
                                          ("get", "/api/diagram.png"), ("get", "/api/export/model.kan"),
                                          ("post", "/api/action/undo"), ("get", "/nowhere")])
def test_every_request_needs_the_token(client, method, path):
    for headers, query in [({}, ""), ({TOKEN_HEADER: "b" * 48}, ""), ({}, "?token=" + "b" * 48)]:
        r = getattr(client, method)(path + query, headers=headers)
        assert r.status_code == 403, (path, headers, query)
        assert "token" in r.json()["error"]


def test_api_takes_the_token_only_in_the_header(client):
    assert client.get(f"/api/state?token={TOKEN}").status_code == 403
    assert client.get("/api/state", headers=H).status_code == 200


def test_page_and_static_files(client):
    r = client.get(f"/?token={TOKEN}")
    assert r.status_code == 200 and TOKEN in r.text and "https://" not in r.text  # no CDN
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["referrer-policy"] == "no-referrer"
    js = client.get(f"/static/app.js?token={TOKEN}")
    assert js.status_code == 200 and "X-Kanlab-Token" in js.text and "innerHTML" not in js.text
    assert client.get(f"/static/app.css?token={TOKEN}").status_code == 200
    assert client.get(f"/static/..%2Fapp.py?token={TOKEN}").status_code == 404


@pytest.mark.parametrize("action, body, content", [
    ("fix", {"l": 0, "i": 0, "j": 0, "name": "os.system('x')"}, None),
    ("fix", {"l": 0, "i": 0, "j": 5, "name": "x"}, None),
    ("fix", {"l": 0, "i": "0", "j": 0, "name": "x"}, None),
    ("fix", {"l": 0, "i": True, "j": 0, "name": "x"}, None),
    ("fix", {"l": 0, "i": 0, "name": "x"}, None),
    ("fix", {"l": 0, "i": 0, "j": 0, "name": "x", "path": "/etc/passwd"}, None),
    ("retrain", {"steps": 10 ** 6}, None),
    ("retrain", {"steps": 1.5}, None),
    ("refine", {"grid": None}, None),
    ("fix", None, b"{not json"),
    ("fix", None, b"[1, 2]"),
    ("eval", {}, None),
])
def test_malformed_requests_get_a_4xx_and_change_nothing(client, wb, action, body, content):
    before = client.get("/api/state", headers=H).json()
    if content is None:
        r = post(client, action, body)
    else:
        r = client.post(f"/api/action/{action}", content=content, headers={**H, "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500 and r.json()["error"]
    assert client.get("/api/state", headers=H).json() == before


def test_a_body_that_is_not_json_typed_is_refused(client):
    r = client.post("/api/action/undo", content=b"{}", headers={**H, "Content-Type": "text/plain"})
    assert r.status_code == 400 and "application/json" in r.json()["error"]


def test_fix_undo_round_trip_and_export(client):
    edge = client.get("/api/edge?l=0&i=0&j=0", headers=H).json()
    best = edge["candidates"][0]
    assert edge["curve"]["importance"] > 0 and best["r2"] > 0.9
    for i in (0, 1):
        r = post(client, "fix", {"l": 0, "i": i, "j": 0, "name": best["name"]})
        assert r.status_code == 200, r.text
    state = r.json()["state"]
    assert state["metrics"]["formula"] and state["history"]["position"] == 2
    tex = client.get("/api/export/formula.tex", headers=H)
    assert tex.status_code == 200 and "u" in tex.text and "v" in tex.text
    py = client.get("/api/export/formula.py", headers=H)
    assert py.status_code == 200 and "def w(x0, x1):" in py.text
    txt = client.get("/api/export/formula.txt", headers=H).text
    assert "u" in txt and "v" in txt and txt.endswith("\n")
    kan = client.get("/api/export/model.kan", headers=H)
    assert kan.status_code == 200 and kan.headers["content-disposition"] == 'attachment; filename="model.kan"'
    assert len(kan.content) > 100
    assert client.get("/api/formula.png", headers=H).content[:4] == b"\x89PNG"
    r = post(client, "undo", {})
    assert r.json()["state"]["history"]["position"] == 1 and r.json()["state"]["metrics"]["formula"] is None
    r = client.get("/api/export/formula.tex", headers=H)
    assert r.status_code == 400 and "numeric" in r.json()["error"]
    assert client.get("/api/export/..%2F..%2Fetc%2Fpasswd", headers=H).status_code in (400, 404)


def test_images_and_hotspots(client):
    png = client.get("/api/diagram.png", headers=H)
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    svg = client.get("/api/diagram.svg", headers=H)
    assert svg.status_code == 200 and b"<svg" in svg.content
    assert client.get("/api/diagram.gif", headers=H).status_code == 400
    spots = client.get("/api/diagram/spots", headers=H).json()["spots"]
    assert [(s["l"], s["i"], s["j"]) for s in spots] == [(0, 0, 0), (0, 1, 0)]
    assert all(0 <= s["left"] < 1 and 0 <= s["top"] < 1 for s in spots)
    assert client.get("/api/edge.png?l=0&i=1&j=0", headers=H).content[:4] == b"\x89PNG"
    assert client.get("/api/edge?l=0&i=-1&j=0", headers=H).status_code == 400
    assert client.get("/api/edge?l=0&i=9&j=0", headers=H).status_code == 400


def test_retrain_job_through_the_api(client, wb):
    r = post(client, "retrain", {"steps": 10})
    assert r.status_code == 200 and r.json()["job"]["total"] == 10
    wb.job.wait(120)
    job = client.get("/api/job", headers=H).json()["job"]
    assert job["status"] == "finished" and job["done"] == 10
    assert client.get("/api/state", headers=H).json()["history"]["states"][-1]["action"] == "retrain 10 steps"
