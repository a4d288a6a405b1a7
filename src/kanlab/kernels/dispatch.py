"""The one place that picks a compute path, and says why.

kanlab computes a KAN's loss gradient along several paths with equal results (to rounding);
which is fastest depends on the model, the data, the loss, the penalty and the device. Here
:func:`choose_fit_backend` picks one of :data:`FIT_BACKENDS` for a fit (or checks an explicit
request and explains why it cannot run), and within :func:`using` the choices the kernels make
on every call (:func:`basis_kernel`, :func:`layer_uses_large_grid`, :func:`large_grid_kernel`,
:func:`lbfgs_uses_numba`) follow that backend, so an explicit request holds all the way down;
outside ``using`` they follow the same automatic rules. Models are known only by their
attributes (``layers``, ``symbolic``, a layer's ``n_basis``, ``large_grid``, ...): kernels/ imports
nothing from core/.

=================  ===========================================  =======================================  ==========================================
backend            computes                                      chosen automatically when               why
=================  ===========================================  =======================================  ==========================================
fused-numba        MSE and its gradient in closed form (no       plain MSE, no penalty, a plain KAN (no   per-operation overhead dominates small
                   autograd), per layer one compiled numba       symbolic edge, no large-grid layer,      fits: 2 kernel calls per layer instead of
                   forward and one backward                      every parameter trained), CPU float32/64  ~25 torch operations (~4x on the paper's
                   (``fused_mse._NumbaMSE``)                  of one dtype, numba, and rows x          [2,5,1] recipe)
                                                                 sum(in*out*(k+1)) <= 300,000
fused-matmul       the same closed form on torch matrix          as fused-numba, but more work (or mixed  there BLAS matrix products beat the
                   products; basis features by the numba kernel  dtypes)                                  per-layer loops
fused-torch        the same closed form, torch only (eager       as fused-*, where numba cannot run (GPU, the fastest path without numba
                   basis kernels)                                float16, no numba, KANLAB_NUMBA=0)
autograd-numba     autograd through the model's forward; dense   the fused path cannot take the fit (a    any loss and penalty; one pass per input
                   basis features by the numba kernel            custom loss, lamb>0, a symbolic edge,    for the basis
                                                                 frozen parameters, a custom forward)
autograd-torch     the same, torch only (eager basis kernels,    as autograd-numba, where numba cannot
                   L-BFGS updates on torch operations)           run
autograd-compile   the same, basis kernels via torch.compile     never: explicit requests only            fused loops, at ~20-30 s of compilation
                                                                                                          per shape family
large-grid-numba   autograd; a large-grid layer's spline part    a layer takes the large-grid path (its   memory O(batch * in * (k+1)) whatever G:
                   straight from the coefficients by the numba   ``large_grid`` is True, or None and       only k+1 of the G+k basis functions are
                   large-grid kernels; other layers as           G + k >= 64), CPU float32/64, numba      non-zero at an input
                   autograd-numba
large-grid-torch   the same with CSR sparse torch kernels        as large-grid-numba, where numba cannot
                                                                 run
=================  ===========================================  =======================================  ==========================================

The low-level rules: a backend named above with numba kernels (fused-numba, fused-matmul,
autograd-numba, large-grid-numba; and no backend) runs numba wherever it can (CPU float32/64,
outside torch.compile tracing), the others never. A layer takes the large-grid path when its
``large_grid`` attribute says so (True/False), else when the active backend is a large-grid one
(dense under the others), else (no backend) when G + k >= :data:`LARGE_GRID_MIN_BASIS`.

A fall-back (a faster path that usually runs, or was requested, cannot) is logged once per
distinct message per process through ``logging.getLogger("kanlab")`` at WARNING.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import re
from dataclasses import dataclass
from typing import Optional

import torch

from . import numba_layer, numba_support
from .base_functions import BASE_FUNCTIONS
from ..validate import KanlabError

__all__ = ["FIT_BACKENDS", "LARGE_GRID_MIN_BASIS", "FUSED_NUMBA_MAX_WORK", "Backend", "choose_fit_backend", "using",
           "active", "basis_kernel", "layer_uses_large_grid", "large_grid_kernel", "lbfgs_uses_numba", "numba_runs_on",
           "report_fallback"]

FIT_BACKENDS = ("fused-numba", "fused-matmul", "fused-torch", "autograd-numba", "autograd-torch", "autograd-compile",
                "large-grid-numba", "large-grid-torch")
LARGE_GRID_MIN_BASIS = 64  # G + k from which a layer takes the large-grid path by default
FUSED_NUMBA_MAX_WORK = 300_000  # rows * sum(in * out * (k + 1)); above ~2e5-5e5 BLAS is faster (1 thread)

_NUMBA_BACKENDS = frozenset({"fused-numba", "fused-matmul", "autograd-numba", "large-grid-numba"})
_FUSED = frozenset({"fused-numba", "fused-matmul", "fused-torch"})
_LARGE_GRID = frozenset({"large-grid-numba", "large-grid-torch"})
_NUMBA_DTYPES = (torch.float32, torch.float64)
_KAN_FORWARD = "kanlab.core.network.KANNetwork"  # the forward the fused paths reproduce

_logger = logging.getLogger("kanlab")
_REPORTED: set = set()  # kinds of fall-back message already logged in this process
_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("kanlab_backend", default=None)


@dataclass(frozen=True)
class Backend:
    """A compute path for a fit: ``name`` one of FIT_BACKENDS, ``reason`` why it was chosen,
    ``fallback`` whether a faster path that would usually run could not."""

    name: str
    reason: str
    fallback: bool = False


def report_fallback(message: str) -> None:
    """Log ``message`` at WARNING on the "kanlab" logger, once per process and kind of message:
    messages that differ only in their numbers (an edge count, a layer index) count as one."""
    kind = re.sub(r"\d[\d,.]*", "#", message)
    if kind not in _REPORTED:
        _REPORTED.add(kind)
        _logger.warning(message)


def _check_name(name) -> None:
    if name not in FIT_BACKENDS:
        raise KanlabError(f"unknown backend {name!r}; choose 'auto' or one of {', '.join(FIT_BACKENDS)}")


# ----------------------------------------------------------------------------- scoped choices
@contextlib.contextmanager
def using(backend):
    """Within this block the kernels follow ``backend`` (a Backend or a name of FIT_BACKENDS)."""
    if isinstance(backend, str):
        _check_name(backend)
        backend = Backend(backend, "set by dispatch.using")
    token = _ACTIVE.set(backend)
    try:
        yield backend
    finally:
        _ACTIVE.reset(token)


def active() -> Optional[Backend]:
    """The backend of the innermost :func:`using` block, or None."""
    return _ACTIVE.get()


def numba_runs_on(x: torch.Tensor) -> bool:
    """Whether the numba kernels can take x: numba available, a CPU float32/64 tensor, not
    while torch.compile traces."""
    return (numba_support.AVAILABLE and x.device.type == "cpu" and x.dtype in _NUMBA_DTYPES
            and not torch.compiler.is_compiling())


def _wants_numba(backend: Optional[Backend]) -> bool:
    return backend is None or backend.name in _NUMBA_BACKENDS


def _kernel_fallback(backend: Backend, x: torch.Tensor, what: str) -> None:
    report_fallback(f"kanlab {backend.name}: the numba kernels cannot take a {x.dtype} tensor on "
                    f"{x.device.type}; the {what} runs on torch kernels")


def basis_kernel(x: torch.Tensor) -> str:
    """The kernel for the dense basis features of x: "numba", "torch" (eager) or "compile"."""
    if torch.compiler.is_compiling():  # being traced: eager ops, which the compiler fuses
        return "torch"
    backend = _ACTIVE.get()
    if backend is not None and backend.name == "autograd-compile":
        return "compile"
    if _wants_numba(backend):
        if numba_runs_on(x):
            return "numba"
        if backend is not None:
            _kernel_fallback(backend, x, "basis")
    return "torch"


def layer_uses_large_grid(layer) -> bool:
    """Whether ``layer`` computes its spline part on the large-grid path (see the docstring)."""
    own = getattr(layer, "large_grid", None)
    if own is not None:
        return bool(own)
    backend = _ACTIVE.get()
    if backend is not None:
        return backend.name in _LARGE_GRID
    return layer.n_basis >= LARGE_GRID_MIN_BASIS


def large_grid_kernel(x: torch.Tensor, *tensors: torch.Tensor) -> str:
    """The large-grid kernel for x and the layer's tensors: "numba" or "torch" (CSR)."""
    backend = _ACTIVE.get()
    if _wants_numba(backend):
        if numba_runs_on(x) and all(t.dtype == x.dtype for t in tensors):
            return "numba"
        if backend is not None:
            _kernel_fallback(backend, x, "large-grid path")
    return "torch"


def lbfgs_uses_numba(t: torch.Tensor) -> bool:
    """Whether L-BFGS updates its history and direction in numba (CPU) for parameters like t."""
    return numba_support.AVAILABLE and t.device.type == "cpu" and _wants_numba(_ACTIVE.get())


# ----------------------------------------------------------------------------- the fit's backend
@dataclass(frozen=True)
class _Fit:
    """What the choice depends on, found once per call."""

    is_kan: bool
    numba_obstacle: Optional[str]  # why numba cannot run on x, or None
    numba_missing: bool  # numba would run here but is not installed
    fused_obstacle: Optional[str]  # why the fused paths cannot compute this fit's gradient
    layer_kernel_obstacle: Optional[str]  # why the fused numba layer kernels cannot bind the model and data
    work: int  # multiply-adds of one evaluation's spline part
    large_layer: Optional[str]  # the first layer taking the large-grid path by its own rule
    forced_large: Optional[str]  # the first layer with large_grid=True
    all_dense: bool  # every layer has large_grid=False


def _numba_obstacle(x: torch.Tensor) -> Optional[str]:
    if not numba_support.AVAILABLE:
        return numba_support.UNAVAILABLE_REASON
    if x.device.type != "cpu":
        return f"the numba kernels run on CPU tensors, not {x.device.type}"
    if x.dtype not in _NUMBA_DTYPES:
        return f"the numba kernels take float32/float64 tensors, not {x.dtype}"
    return None


def _plain_kan_forward(model) -> bool:
    owner = next((c for c in type(model).__mro__ if "forward" in vars(c)), None)
    return owner is not None and f"{owner.__module__}.{owner.__qualname__}" == _KAN_FORWARD


def _layer_params(layer) -> list:
    return [layer.coef, layer.scale_base, layer.scale_sp] + ([layer.bias] if layer.bias is not None else [])


def _fused_obstacle(model, params, custom_loss: bool, penalty: bool) -> Optional[str]:
    if custom_loss:
        return "a custom loss: the fused path computes the gradient of the MSE only"
    if penalty:
        return "lamb>0: the sparsity penalty needs autograd"
    if not _plain_kan_forward(model):
        return f"{type(model).__name__} has its own forward, which the fused path does not reproduce"
    if getattr(model, "has_mult", False):
        return "multiplication nodes, which the fused path does not compute"
    for l, (layer, sym) in enumerate(zip(model.layers, model.symbolic)):
        if len(sym):
            return f"layer {l} has {len(sym)} symbolic edge(s), which the fused path does not compute"
        if layer.base_fun not in BASE_FUNCTIONS:
            return f"layer {l} has base function {layer.base_fun!r}, which the fused path does not know"
    trained = {id(p) for p in params}
    own = [p for layer in model.layers for p in _layer_params(layer)] + [p for s in model.symbolic for p in s.parameters()]
    if len(trained) != len(own) or any(id(p) not in trained for p in own):
        return "not every parameter is trained (or others are): the fused path computes the gradient of all of them"
    return None


def _layer_kernel_obstacle(model, x: torch.Tensor, y: torch.Tensor) -> Optional[str]:
    tensors = [t for layer in model.layers for t in (*_layer_params(layer), layer.mask, layer.knots)]
    if y.dtype != x.dtype or any(t.dtype != x.dtype or t.device.type != "cpu" for t in tensors):
        return "the data, labels and parameters are not all CPU tensors of one dtype"
    for l, layer in enumerate(model.layers):
        base = BASE_FUNCTIONS.get(layer.base_fun)
        if base is None or base.code not in numba_layer.BASE_CODES:
            return f"layer {l}'s base function {layer.base_fun!r} has no numba layer kernel"
    return None


def _large_layers(model):
    """(first layer taking the large-grid path by its own rule, first with large_grid=True, all large_grid=False)."""
    rule = forced = None
    layers = list(model.layers)
    for l, layer in enumerate(layers):
        own = getattr(layer, "large_grid", None)
        if own and forced is None:
            forced = f"layer {l} has large_grid=True"
        if rule is None and (own or (own is None and layer.n_basis >= LARGE_GRID_MIN_BASIS)):
            rule = forced if own else f"layer {l} has G + k = {layer.n_basis} >= {LARGE_GRID_MIN_BASIS}"
    return rule, forced, all(getattr(layer, "large_grid", None) is False for layer in layers)


def _facts(model, x, y, params, custom_loss: bool, penalty: bool) -> _Fit:
    numba_obstacle = _numba_obstacle(x)
    numba_missing = (not numba_support.AVAILABLE and not numba_support.DISABLED_BY_ENV and x.device.type == "cpu"
                     and x.dtype in _NUMBA_DTYPES)
    is_kan = all(hasattr(model, a) for a in ("layers", "symbolic", "select_inputs"))
    if not is_kan:
        return _Fit(False, numba_obstacle, numba_missing, "the model is not a KAN network", None, 0, None, None, False)
    work = x.shape[0] * sum(l.in_dim * l.out_dim * (l.k + 1) for l in model.layers)
    return _Fit(True, numba_obstacle, numba_missing, _fused_obstacle(model, params, custom_loss, penalty),
                _layer_kernel_obstacle(model, x, y), work, *_large_layers(model))


def _fused_choice(fit: _Fit):
    """(name, reason) of the fused backend for this fit, were its gradient one the fused path computes."""
    if fit.numba_obstacle:
        return "fused-torch", f"plain MSE on a plain KAN: closed-form gradient on torch operations ({fit.numba_obstacle})"
    if fit.layer_kernel_obstacle:
        return "fused-matmul", (f"plain MSE on a plain KAN: closed-form gradient on matrix products "
                                f"({fit.layer_kernel_obstacle})")
    if fit.work > FUSED_NUMBA_MAX_WORK:
        return "fused-matmul", (f"plain MSE on a plain KAN, {fit.work:,} multiply-adds per evaluation "
                                f"(> {FUSED_NUMBA_MAX_WORK:,}): closed-form gradient on matrix products")
    return "fused-numba", (f"plain MSE on a plain KAN, {fit.work:,} multiply-adds per evaluation "
                           f"(<= {FUSED_NUMBA_MAX_WORK:,}): closed-form gradient in compiled per-layer kernels")


def _auto(fit: _Fit) -> Backend:
    kernel = "numba" if fit.numba_obstacle is None else "torch"
    note = " (numba is not installed)" if fit.numba_missing else ""
    if not fit.is_kan:
        return Backend(f"autograd-{kernel}", "the model is not a KAN network: autograd through its forward" + note,
                       fit.numba_missing)
    if fit.large_layer:
        return Backend(f"large-grid-{kernel}", f"{fit.large_layer}: the large-grid path, whose memory does not grow "
                       f"with G{note}", fit.numba_missing)
    fused, reason = _fused_choice(fit)
    if fit.fused_obstacle is None:
        return Backend(fused, reason + note, fit.numba_missing)
    return Backend(f"autograd-{kernel}", f"{fit.fused_obstacle}, using autograd-{kernel} instead of {fused}{note}", True)


def _obstacle(name: str, fit: _Fit) -> Optional[str]:
    """Why backend ``name`` cannot run this fit, or None."""
    if name in _NUMBA_BACKENDS and fit.numba_obstacle:
        return fit.numba_obstacle
    if name in _FUSED and fit.fused_obstacle:
        return fit.fused_obstacle
    if name == "fused-numba" and fit.layer_kernel_obstacle:
        return fit.layer_kernel_obstacle
    if name in _LARGE_GRID and not fit.is_kan:
        return "the model is not a KAN network"
    if name in _LARGE_GRID and fit.all_dense:
        return "every layer has large_grid=False (the dense path)"
    if name not in _LARGE_GRID and fit.forced_large:
        return f"{fit.forced_large} (the large-grid path); set layer.large_grid = None to let the backend decide"
    return None


def choose_fit_backend(model, x: torch.Tensor, y: torch.Tensor, *, params, custom_loss: bool, penalty: bool,
                       requested: str = "auto") -> Backend:
    """The backend for fitting ``model`` on the selected first-layer inputs x and labels y,
    training ``params``, with a custom loss or not and a penalty (lamb > 0) or not.

    ``requested="auto"`` picks the fastest that can run (see the module docstring) and logs a
    fall-back once; a name of FIT_BACKENDS is checked and returned, or a KanlabError says why it
    cannot run and which can."""
    if requested != "auto":
        _check_name(requested)
    fit = _facts(model, x, y, params, bool(custom_loss), bool(penalty))
    if requested == "auto":
        backend = _auto(fit)
        if backend.fallback:
            report_fallback(f"kanlab fit: {backend.reason}")
        return backend
    why = _obstacle(requested, fit)
    if why:
        possible = ", ".join(n for n in FIT_BACKENDS if _obstacle(n, fit) is None)
        raise KanlabError(f"backend {requested!r} cannot run this fit: {why}. Possible here: {possible} (or 'auto')")
    return Backend(requested, f"requested (backend={requested!r})")
