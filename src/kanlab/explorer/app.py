"""The explorer's web application (Starlette): one page, its script and style, and a JSON API
over a :class:`~.workbench.Workbench`.

Every request needs the launch token: the page and its two static files take it as the query
parameter ``token`` (the printed URL carries it), the API only in the header ``X-Kanlab-Token``;
anything else is 403. State-changing requests are POST with a JSON body validated by
:mod:`.requests`; an invalid one is a 4xx JSON ``{"error": ...}`` and changes nothing. Export
files are produced by the server in its own temporary directory; no path comes from a request.
"""
from __future__ import annotations

import hmac
import os
import tempfile
from importlib import resources

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .. import symbolic
from ..io import save as save_model
from ..symbolic.formula import to_latex, to_python_source
from ..symbolic.user_names import is_python_name
from ..validate import KanlabError
from . import render
from .checks import WorkbenchBusy, WorkbenchInputError
from .metrics import expressions
from .requests import parse_body, query_ints

__all__ = ["create_app", "TOKEN_HEADER"]

TOKEN_HEADER = "X-Kanlab-Token"
STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
                               "connect-src 'self'; frame-ancestors 'self' http://localhost:* http://127.0.0.1:*",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _static_text(name: str) -> str:
    return resources.files("kanlab.explorer").joinpath("static", name).read_text(encoding="utf-8")


class TokenGate:
    """ASGI middleware: 403 unless the request carries the token (see the module docstring), and
    the security headers on every response."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token

    def _allowed(self, scope) -> bool:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = headers.get(TOKEN_HEADER.lower())
        path = scope.get("path", "")
        if given is None and scope.get("method") == "GET" and (path == "/" or path.startswith("/static/")):
            from urllib.parse import parse_qs

            given = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token") or [None])[0]
        return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
            await send(message)

        if not self._allowed(scope):
            response = JSONResponse({"error": "missing or wrong token: open the URL that kanlab explore printed"}, 403)
            return await response(scope, receive, send_with_headers)
        return await self.app(scope, receive, send_with_headers)


def _error(e: Exception) -> JSONResponse:
    if isinstance(e, WorkbenchBusy):
        return JSONResponse({"error": str(e)}, 409)
    if isinstance(e, (WorkbenchInputError, KanlabError, ValueError)):
        return JSONResponse({"error": str(e)}, 400)
    return JSONResponse({"error": f"{type(e).__name__}: {e}; the state is unchanged"}, 500)


async def _call(fn, *args, **kwargs):
    """``fn`` in a worker thread; an exception becomes a JSON error response."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except Exception as e:
        return _error(e)


def _state(wb) -> dict:
    job = wb.job
    return {"width": wb.model.width, "var_names": wb.var_names, "target": wb.target, "has_data": wb.has_data,
            "history": wb.history(), "metrics": wb.metrics, "edges": wb.edges(), "library": symbolic.names(),
            "job": job.info() if job is not None else None, "pareto": wb.pareto}


def _act(wb, action: str, body: dict):
    if action == "retrain":
        return {"job": wb.start_retrain(**body).info()}
    if action == "auto_symbolic":
        return {"job": wb.start_auto_symbolic(**body).info()}
    if action == "cancel":
        return {"cancelled": wb.cancel()}
    getattr(wb, action)(**body)
    return {"state": _state(wb)}


def _export(wb, what: str) -> tuple[bytes, str]:
    """(bytes, media type) of an export; files are written only in the server's own temp dir."""
    if what == "model.kan":
        with tempfile.TemporaryDirectory(prefix="kanlab-explorer-") as tmp:
            path = os.path.join(tmp, "model.kan")
            save_model(wb.model, path)
            with open(path, "rb") as fh:
                return fh.read(), "application/octet-stream"
    if what == "diagram.png":
        return render.diagram(wb, "png")[0], "image/png"
    exprs = expressions(wb.model, wb.var_names)
    if what == "formula.tex":
        return ("\n".join(to_latex(e) for e in exprs) + "\n").encode(), "text/plain; charset=utf-8"
    if what == "formula.py":
        name = wb.target if is_python_name(wb.target) else "formula"
        return to_python_source(exprs[0] if len(exprs) == 1 else exprs, wb.var_names, name=name).encode(), "text/x-python; charset=utf-8"
    if what == "formula.txt":
        return ("\n".join(str(e) for e in exprs) + "\n").encode(), "text/plain; charset=utf-8"
    raise WorkbenchInputError(f"unknown export {what!r:.40}; exports are model.kan, formula.tex, formula.py, formula.txt, diagram.png")


async def _respond(fn, *args, wrap=JSONResponse):
    """``fn(*args)`` in a worker thread, its result through ``wrap``; an error as JSON."""
    out = await _call(fn, *args)
    return out if isinstance(out, Response) else wrap(out)


def _edge_detail(wb, params, image: bool):
    e = query_ints(params, ("l", "i", "j"))
    curve = wb.edge_curve(**e)
    numeric = bool(wb.model.layers[e["l"]].mask[e["i"], e["j"]] > 0)
    if image:
        return render.edge_plot(curve, wb.candidates(**e, topk=1) if numeric else ())
    return {"curve": curve, "candidates": wb.candidates(**e) if numeric else []}


class _Api:
    """The request handlers over one workbench (one diagram cached per model state)."""

    def __init__(self, wb, token: str):
        self.wb, self.token, self._cache = wb, token, {}

    def diagram(self, fmt):
        key = (id(self.wb.model), fmt)
        if key not in self._cache:
            self._cache.clear()
            self._cache[key] = render.diagram(self.wb, fmt)
        return self._cache[key]

    async def page(self, request: Request):
        return HTMLResponse(_static_text("index.html").replace("__TOKEN__", self.token))  # hex we made: safe

    async def static(self, request: Request):
        name = request.path_params["name"]
        if name not in STATIC:
            return JSONResponse({"error": "no such file"}, 404)
        return Response(_static_text(name), media_type=STATIC[name])

    async def state(self, request: Request):
        return await _respond(_state, self.wb)

    async def image(self, request: Request):
        fmt = request.path_params["fmt"]
        if fmt not in render.FORMATS:
            return _error(WorkbenchInputError(f"diagram format must be png or svg, got {fmt!r:.20}"))
        return await _respond(self.diagram, fmt, wrap=lambda out: Response(out[0], media_type=render.FORMATS[fmt]))

    async def spots(self, request: Request):
        return await _respond(self.diagram, "png", wrap=lambda out: JSONResponse({"spots": out[1]}))

    async def edge(self, request: Request):
        return await _respond(_edge_detail, self.wb, request.query_params, False)

    async def edge_png(self, request: Request):
        return await _respond(_edge_detail, self.wb, request.query_params, True,
                              wrap=lambda out: Response(out, media_type="image/png"))

    async def formula_png(self, request: Request):
        m = self.wb.metrics
        return await _respond(render.formula_image, m["formula_latex"], self.wb.target, m["formula_error"],
                              wrap=lambda out: Response(out, media_type="image/png"))

    async def job(self, request: Request):
        return JSONResponse({"job": self.wb.job.info() if self.wb.job is not None else None})

    async def action(self, request: Request):
        name = request.path_params["name"]
        raw = await request.body()
        try:
            body = parse_body(name, raw, request.headers.get("content-type", ""))
        except WorkbenchInputError as e:
            return _error(e)
        return await _respond(_act, self.wb, name, body)

    async def export(self, request: Request):
        what = request.path_params["what"]
        return await _respond(_export, self.wb, what, wrap=lambda out: Response(
            out[0], media_type=out[1], headers={"Content-Disposition": f'attachment; filename="{what}"'}))


def create_app(wb, token: str):
    """The ASGI app serving ``wb``, guarded by ``token`` (a Starlette app inside :class:`TokenGate`)."""
    api = _Api(wb, token)
    routes = [Route("/", api.page), Route("/static/{name}", api.static), Route("/api/state", api.state),
              Route("/api/diagram.{fmt}", api.image), Route("/api/diagram/spots", api.spots),
              Route("/api/edge", api.edge), Route("/api/edge.png", api.edge_png),
              Route("/api/formula.png", api.formula_png), Route("/api/job", api.job),
              Route("/api/action/{name}", api.action, methods=["POST"]), Route("/api/export/{what}", api.export)]
    return TokenGate(Starlette(routes=routes), token)
