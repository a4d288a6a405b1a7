"""The fit loop: LBFGS (strong-Wolfe) or Adam, the paper's grid-update schedule, an optional
sparsity penalty, per-step history, a progress bar, and NaN safety.

``fit`` works on any ``KANNetwork`` (the facade ``KAN.fit`` delegates here). One "step" is one
optimiser step; for LBFGS that is up to ``max_iter`` (default 20) function evaluations with a
strong-Wolfe line search, as in the paper's reference code.
"""
from __future__ import annotations

import math
import warnings

import torch

from ..kernels import fused_mse as fused_grad
from . import losses
from .lbfgs import LBFGS
from ..validate import check_dataset

__all__ = ["fit", "FitHistory"]


class FitHistory(dict):
    """Per-step history: ``train_loss``/``test_loss`` (RMSE), ``reg``, and extra metrics.

    A plain dict (pickles and serialises like one) with attribute access for convenience.
    """

    __getattr__ = dict.__getitem__


def _check_fit_args(opt, steps, lr, batch, grid_update_num, stop_grid_update_step, log, lamb):
    if opt not in ("LBFGS", "Adam"):
        raise ValueError(f"opt must be 'LBFGS' or 'Adam', got {opt!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    if isinstance(batch, bool) or not isinstance(batch, int) or (batch < 1 and batch != -1):
        raise ValueError(f"batch must be -1 (full batch) or a positive integer, got {batch!r}")
    if isinstance(grid_update_num, bool) or not isinstance(grid_update_num, int) or grid_update_num < 1:
        raise ValueError(f"grid_update_num must be a positive integer, got {grid_update_num!r}")
    if not isinstance(stop_grid_update_step, int) or stop_grid_update_step < 0:
        raise ValueError(f"stop_grid_update_step must be a non-negative integer, got {stop_grid_update_step!r}")
    if isinstance(log, bool) or not isinstance(log, int) or log < 1:
        raise ValueError(f"log must be a positive integer (steps between progress updates), got {log!r}")
    if not isinstance(lamb, (int, float)) or not math.isfinite(lamb) or lamb < 0:
        raise ValueError(f"lamb must be a non-negative number, got {lamb!r}")


def fit(model, dataset, opt: str = "LBFGS", steps: int = 100, lr: float = 1.0, batch: int = -1,
        update_grid: bool = True, grid_update_num: int = 10, stop_grid_update_step: int = 50,
        start_grid_update_step: int = -1, loss_fn=None, lamb: float = 0.0, lamb_l1: float = 1.0,
        lamb_entropy: float = 2.0, lamb_coef: float = 0.0, lamb_coefdiff: float = 0.0,
        reg_metric: str = "edge_l1", log: int = 1, progress: bool = True, seed: int = 0,
        metrics=None, test_every: int = 1, max_iter: int = 20, history_size: int = 10,
        warn_out_of_range: float = 0.1, threads: int | None = None) -> FitHistory:
    """Train ``model`` in place on ``dataset`` and return the per-step history.

    dataset: dict with ``train_input`` (N, n_in), ``train_label`` (N, n_out) and optionally
    ``test_input``/``test_label``. loss_fn(pred, label) defaults to the mean squared error (the
    history then reports RMSE); with a custom loss_fn the history reports that loss, and labels
    may have any number of columns. ``loss_fn="cross_entropy"`` trains a classifier: the model's
    outputs are the logits of C classes and labels the class indices 0..C-1 (N,) or (N, 1).
    ``metrics`` may also name built-ins: ``metrics=["accuracy"]`` or ``{"acc": "accuracy"}``. ``lamb`` > 0 adds the paper's sparsity penalty (see
    ``kanlab.regularize``). ``metrics``: dict name -> fn(pred, label) -> float, evaluated on
    the test set (or train set if none) every ``test_every`` steps. Grid updates happen at steps
    start..stop every ``stop_grid_update_step // grid_update_num`` steps, on the step's batch.
    If the loss or parameters become NaN/inf, the last good parameters are restored, training
    stops and a RuntimeWarning is raised. ``threads``: intra-op threads during the fit; None
    picks 1 for small problems (rows x widest layer < 2**17, where thread start-up costs more
    than it gains: ~1.5x faster on the paper's [2,5,1] recipe) and leaves torch's setting
    otherwise. The previous setting is restored afterwards.
    """
    n_threads = torch.get_num_threads()
    if threads is None:
        rows = len(dataset["train_input"]) if isinstance(dataset, dict) and "train_input" in dataset else 0
        threads = 1 if rows * max(model.width) < 2**17 else n_threads
    torch.set_num_threads(max(1, int(threads)))
    cleanup = []  # run even when training is interrupted (e.g. the optimiser's flat buffer is released)
    try:
        return _fit(model, dataset, opt, steps, lr, batch, update_grid, grid_update_num, stop_grid_update_step,
                    start_grid_update_step, loss_fn, lamb, lamb_l1, lamb_entropy, lamb_coef, lamb_coefdiff,
                    reg_metric, log, progress, seed, metrics, test_every, max_iter, history_size, warn_out_of_range,
                    cleanup)
    finally:
        for fn in cleanup:
            fn()
        torch.set_num_threads(n_threads)


def _fit(model, dataset, opt, steps, lr, batch, update_grid, grid_update_num, stop_grid_update_step,
         start_grid_update_step, loss_fn, lamb, lamb_l1, lamb_entropy, lamb_coef, lamb_coefdiff,
         reg_metric, log, progress, seed, metrics, test_every, max_iter, history_size, warn_out_of_range, cleanup):
    _check_fit_args(opt, steps, lr, batch, grid_update_num, stop_grid_update_step, log, lamb)
    loss_fn = losses.get_loss(loss_fn)
    if metrics is not None and not isinstance(metrics, dict):  # a list of names
        metrics = {m if isinstance(m, str) else getattr(m, "__name__", "metric"): m for m in metrics}
    metrics = {name: losses.get_metric(fn) for name, fn in (metrics or {}).items()}
    custom_loss = loss_fn is not None
    ds = check_dataset(dataset, n_inputs=model.n_inputs, n_outputs=None if custom_loss else model.width[-1],
                       dtype=next(model.parameters()).dtype, device=next(model.parameters()).device)
    x_tr, y_tr = ds["train_input"], ds["train_label"]
    x_te, y_te = ds.get("test_input"), ds.get("test_label")
    loss_fn = loss_fn or losses.mse
    n = x_tr.shape[0]
    gen = torch.Generator(device="cpu").manual_seed(seed)

    frac = model.out_of_range_fraction(x_tr)
    if frac > warn_out_of_range and not update_grid:
        warnings.warn(f"{frac:.0%} of layer inputs fall outside the spline grids (the spline part is zero there); "
                      "use update_grid=True or a wider grid_range", UserWarning, stacklevel=3)

    params = [p for p in model.parameters() if p.requires_grad]
    if opt == "LBFGS":
        optimizer = LBFGS(params, lr=lr, max_iter=max_iter, history_size=history_size)
        cleanup.append(optimizer.release)
    else:
        optimizer = torch.optim.Adam(params, lr=lr)

    penalty = None
    if lamb > 0:
        from .regularization import make_penalty

        penalty = make_penalty(model, lamb_l1=lamb_l1, lamb_entropy=lamb_entropy, lamb_coef=lamb_coef,
                               lamb_coefdiff=lamb_coefdiff, metric=reg_metric)

    state = list(model.state_dict(keep_vars=True).values())
    good = [t.detach().clone() for t in state]

    grid_freq = max(1, stop_grid_update_step // grid_update_num)
    hist = FitHistory(train_loss=[], test_loss=[], reg=[])
    for name in metrics or {}:
        hist[name] = []
    bar = _progress(steps, progress)
    stopped_nan = False
    basis0, compiled, stale = None, False, True  # stale: first-layer inputs (xs, basis0) to recompute
    reuse_basis = hasattr(model, "layers") and hasattr(model, "select_inputs")  # a KAN (not e.g. an MLP)
    # plain MSE on a plain KAN: loss and gradient in one pass without autograd (see fused_grad)
    fused = not custom_loss and penalty is None and fused_grad.supports(model, params)
    for step in range(steps):
        idx = None if batch == -1 or batch >= n else torch.randperm(n, generator=gen)[:batch].to(x_tr.device)
        xb = x_tr if idx is None else x_tr[idx]
        yb = y_tr if idx is None else y_tr[idx]
        if update_grid and step % grid_freq == 0 and start_grid_update_step <= step < stop_grid_update_step:
            model.update_grid(xb)
            stale = True
        if reuse_basis and (stale or idx is not None):  # first-layer features are fixed between grid updates
            with torch.no_grad():
                xs = model.select_inputs(xb)
                # (the compiled evaluator keeps its own first-layer state: no dense features needed)
                compiled = fused and fused_grad.uses_compiled(model, xs, yb)
                basis0 = None if compiled else model.layers[0].basis(xs)
            stale = False
        last = {}
        evaluate = fused_grad.evaluator(model, xs, yb, basis0, compiled) if fused else None

        def closure():
            if fused:
                loss = last["obj"] = evaluate()
                return loss
            for p in params:
                p.grad = None
            pred = model(xb, first_basis=basis0) if reuse_basis else model(xb)
            loss = loss_fn(pred, yb)
            last["obj"] = loss
            if penalty is not None:
                reg = penalty(xb)
                last["reg"] = reg
                loss = loss + lamb * reg
            loss.backward()
            return loss

        if opt == "LBFGS":
            optimizer.step(closure)
        else:
            closure()
            optimizer.step()
        obj = last["obj"].detach()
        if not bool(torch.isfinite(obj)) or not all(bool(torch.isfinite(p).all()) for p in params):
            with torch.no_grad():
                torch._foreach_copy_(state, good)
            warnings.warn(f"loss became non-finite at step {step}; restored the parameters of step {step - 1} and "
                          "stopped (try a smaller lr, Adam, or check the data scale)", RuntimeWarning, stacklevel=2)
            stopped_nan = True
            break
        for g, s in zip(good, state):
            if g.shape != s.shape:  # a grid refinement changed a shape: re-snapshot
                good = [t.detach().clone() for t in state]
                break
        else:
            torch._foreach_copy_(good, [s.detach() for s in state])
        with torch.no_grad():
            train_rmse = obj if custom_loss else obj.sqrt()  # a custom loss is reported as is
            hist["train_loss"].append(train_rmse)
            hist["reg"].append(last.get("reg", obj.new_zeros(())).detach())
            if x_te is not None and (step % test_every == 0 or step == steps - 1):
                pred_te = model(x_te)
                hist["test_loss"].append(loss_fn(pred_te, y_te) if custom_loss else losses.rmse(pred_te, y_te))
                for name, fn in (metrics or {}).items():
                    hist[name].append(fn(pred_te, y_te))
            elif x_te is None and metrics:
                pred_tr = model(xb)
                for name, fn in metrics.items():
                    hist[name].append(fn(pred_tr, yb))
        if bar is not None and (step % log == 0 or step == steps - 1):
            post = {"train": f"{float(hist['train_loss'][-1]):.2e}"}
            if hist["test_loss"]:
                post["test"] = f"{float(hist['test_loss'][-1]):.2e}"
            if penalty is not None:
                post["reg"] = f"{float(hist['reg'][-1]):.2e}"
            bar.set_postfix(post, refresh=False)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    for key in list(hist):
        hist[key] = [float(v) for v in hist[key]]
    hist["stopped_nan"] = stopped_nan
    return hist


def _progress(steps, enabled):
    if not enabled or steps == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=steps, desc="fit", unit="step", leave=False, dynamic_ncols=True)
