"""The evaluator: the training objective and its gradient on one fixed batch.

The fit loop builds an evaluator for a batch and calls it (as the optimiser's closure) until
the batch or the grids change; then it builds a new one. The evaluator owns the only training
cache there is: what depends on the batch and the knots alone (the first layer's basis
features, the penalty's subsample and its features, the compiled kernels' first-layer state)
is computed once per evaluator, so its lifetime is the cache's. Nothing is stored on the model.

Which compute path an evaluator runs is decided by :func:`kanlab.kernels.dispatch.choose_fit_backend`
(the one place that decides); the evaluator records the choice and runs under
``dispatch.using(backend)`` so the low-level kernels follow it:

- fused backends: the plain MSE and its gradient in one pass without autograd
  (:mod:`kanlab.kernels.fused_mse`);
- every other backend: autograd through the model, plus ``lamb`` times the sparsity penalty.

Parameters and their gradients are read through their current storage: the L-BFGS optimiser
rebinds parameters to views of one flat buffer when it is constructed (see
:class:`kanlab.training.lbfgs.LBFGS`), so build evaluators after the optimiser. A fused evaluator
checks that the storage it bound is still the parameters' own and rebinds if it is not.
"""
from __future__ import annotations

import torch

from ..kernels import dispatch, fused_mse

__all__ = ["Evaluator", "build_evaluator"]


class Evaluator:
    """``evaluator()`` computes the objective on the bound batch, writes the parameters'
    ``.grad`` and returns the objective (the loss plus ``lamb`` times the penalty). After a
    call, ``loss`` holds the loss alone and ``reg`` the penalty (None without one)."""

    backend: "dispatch.Backend"
    loss: torch.Tensor | None = None
    reg: torch.Tensor | None = None


class _FusedEvaluator(Evaluator):
    def __init__(self, model, x, y, params, backend):
        self.model, self.x, self.y, self.params, self.backend = model, x, y, params, backend
        self._bind()

    def _storage(self):
        return [(p.data_ptr(), None if p.grad is None else p.grad.data_ptr()) for p in self.params]

    def _bind(self):
        with dispatch.using(self.backend):
            self._run = fused_mse.evaluator(self.model, self.x, self.y, numba_layers=self.backend.name == "fused-numba")
        self._bound = self._storage()

    def __call__(self) -> torch.Tensor:
        if self._storage() != self._bound:  # someone rebound a parameter or its gradient
            self._bind()
        with dispatch.using(self.backend):
            self.loss = self._run()
        return self.loss


class _AutogradEvaluator(Evaluator):
    def __init__(self, model, x, y, params, backend, loss_fn, penalty, lamb):
        self.model, self.x, self.y, self.params, self.backend = model, x, y, params, backend
        self.loss_fn, self.lamb = loss_fn, lamb
        self.xs, self.features = None, None
        with dispatch.using(backend):  # the backend's kernels, and its large-grid rule
            self.penalty = penalty.on(x) if penalty is not None else None
            if _is_kan(model):  # the first layer's basis features depend only on the batch and the knots
                with torch.no_grad():
                    self.xs = model.select_inputs(x)
                    if not model.layers[0].uses_large_grid():
                        self.features = model.layers[0].basis(self.xs)

    def _predict(self) -> torch.Tensor:
        if self.features is None:
            return self.model(self.x)
        m = self.model
        h = m.add_symbolic(0, self.xs, m.layers[0].forward_features(self.xs, self.features))
        return m.run_layers(m.node_values(0, h), start=1)

    def __call__(self) -> torch.Tensor:
        for p in self.params:
            p.grad = None
        with dispatch.using(self.backend):
            loss = self.loss_fn(self._predict(), self.y)
            self.loss = loss
            if self.penalty is not None:
                self.reg = self.penalty()
                loss = loss + self.lamb * self.reg
            loss.backward()
        return loss


def _is_kan(model) -> bool:
    return hasattr(model, "layers") and hasattr(model, "select_inputs") and hasattr(model, "run_layers")


def build_evaluator(model, x, y, params, cfg, loss_fn, custom_loss: bool, penalty) -> Evaluator:
    """The evaluator of (x, y) on the backend the dispatcher picks for it (``cfg.backend``:
    "auto" or an explicit request)."""
    xs = model.select_inputs(x) if _is_kan(model) else x
    backend = dispatch.choose_fit_backend(model, xs, y, params=params, custom_loss=custom_loss,
                                          penalty=penalty is not None, requested=cfg.backend)
    if backend.name.startswith("fused"):
        return _FusedEvaluator(model, xs, y, params, backend)
    return _AutogradEvaluator(model, x, y, params, backend, loss_fn, penalty, cfg.lamb)
