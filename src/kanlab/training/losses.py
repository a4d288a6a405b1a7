"""Named losses and metrics for ``fit``: regression (MSE) and classification (cross-entropy,
accuracy). Labels arrive as (N, 1) columns of the model's dtype; class labels are the class
indices 0..C-1 stored as numbers (a model for C classes has C outputs, the logits)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..validate import KanlabError

__all__ = ["mse", "cross_entropy", "accuracy", "rmse", "get_loss", "get_metric", "LOSSES", "METRICS"]


def _class_index(pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    idx = label.reshape(-1).round().long()
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= pred.shape[-1]):
        raise KanlabError(f"class labels must be integers in 0..{pred.shape[-1] - 1} for a model with "
                          f"{pred.shape[-1]} outputs, got values in {int(idx.min())}..{int(idx.max())}")
    return idx


def mse(pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    return torch.mean((pred - label) ** 2)


def rmse(pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(mse(pred, label))


def cross_entropy(pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy of logits (N, C) against class indices (N,) or (N, 1)."""
    return F.cross_entropy(pred, _class_index(pred, label))


def accuracy(pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose largest logit is the labelled class (one output: logit > 0 is class 1)."""
    if pred.shape[-1] == 1:
        hit = (pred.reshape(-1) > 0).long() == label.reshape(-1).round().long()
    else:
        hit = pred.argmax(-1) == _class_index(pred, label)
    return hit.to(pred.dtype).mean()


LOSSES = {"mse": mse, "cross_entropy": cross_entropy}
METRICS = {"accuracy": accuracy, "rmse": rmse, "mse": mse, "cross_entropy": cross_entropy}


def get_loss(loss):
    """None or "mse" -> None (the default MSE, reported as RMSE); a name -> its function; a callable as is."""
    if loss is None or loss == "mse":
        return None
    if callable(loss):
        return loss
    if isinstance(loss, str) and loss in LOSSES:
        return LOSSES[loss]
    raise KanlabError(f"unknown loss_fn {loss!r}; give a callable(pred, label) or one of {sorted(LOSSES)}")


def get_metric(metric):
    if callable(metric):
        return metric
    if isinstance(metric, str) and metric in METRICS:
        return METRICS[metric]
    raise KanlabError(f"unknown metric {metric!r}; give a callable(pred, label) or one of {sorted(METRICS)}")
