"""Serving the explorer: a uvicorn server on a local socket, a fresh token per launch, the URL
printed (and opened in a browser, or shown inline in Jupyter)."""
from __future__ import annotations

import ipaddress
import secrets
import socket
import threading
import time
import warnings

__all__ = ["Explorer", "launch", "in_notebook"]


def _check_deps():
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ImportError(f"the explorer needs starlette and uvicorn ({e}); install them with: "
                          "pip install 'kanlab[explorer]'") from None


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where the page is shown in an IFrame)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class Explorer:
    """A running explorer: ``url`` (with the token), ``workbench``, :meth:`stop`."""

    def __init__(self, workbench, server, sock, thread, token):
        self.workbench, self._server, self._sock, self._thread, self.token = workbench, server, sock, thread, token
        host, port = sock.getsockname()[:2]
        self.port = port
        self.url = f"http://{host if ':' not in host else '[' + host + ']'}:{port}/?token={token}"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving (the workbench and its history stay usable in Python)."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

    def __repr__(self) -> str:
        return f"Explorer(url={self.url!r})"

    def _repr_html_(self) -> str:  # pragma: no cover - Jupyter only
        return f'<a href="{self.url}" target="_blank" rel="noopener">kanlab explorer</a>'


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port} ({e}); choose another --port (0: any free one)") from None
    sock.listen(64)
    return sock


def launch(workbench, host: str = "127.0.0.1", port: int = 0, open_browser: bool = True, block: bool = False,
           quiet: bool = False) -> Explorer:
    """Serve ``workbench`` at http://host:port/ (port 0: a free one) with a new random token.

    ``block=False`` serves from a background thread and returns the :class:`Explorer` at once
    (Python, Jupyter); ``block=True`` serves until interrupted (the CLI). A host other than a
    loopback address is allowed but warned about: anyone who can reach it and learns the token
    can edit the model."""
    _check_deps()
    import uvicorn

    from .app import create_app

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        warnings.warn(f"the explorer listens on {host}, not only on this machine; the token is the only guard",
                      stacklevel=2)
    token = secrets.token_hex(24)
    sock = _bind(host, port)
    config = uvicorn.Config(create_app(workbench, token), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if block:
        exp = Explorer(workbench, server, sock, None, token)
        _announce(exp, open_browser, quiet)
        server.run(sockets=[sock])
        return exp
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="kanlab-explorer", daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started and thread.is_alive() and time.time() < deadline:
        time.sleep(0.02)
    if not server.started:
        raise RuntimeError("the explorer's server did not start within 10 s")
    exp = Explorer(workbench, server, sock, thread, token)
    _announce(exp, open_browser, quiet)
    return exp


def _announce(exp: Explorer, open_browser: bool, quiet: bool) -> None:
    if in_notebook():
        from IPython.display import IFrame, display

        display(IFrame(exp.url, width="100%", height=820))
        return
    if not quiet:
        print(f"kanlab explorer: {exp.url}", flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(exp.url)
