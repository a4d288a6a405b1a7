"""Data-parallel fits on torch.distributed: what ranks exchange so they stay identical.

``fit(..., distributed=True)`` runs inside a process group the user (or ``torchrun``) initialised;
every rank holds its own shard of the data and an identical model. Three exchanges keep the
ranks bit-identical (docs/distributed.md):

- each evaluation (one per Adam step, up to ``max_iter`` per L-BFGS step): ONE all-reduce of a
  flat vector [row-weighted gradient, row-weighted loss, rows]; every rank then divides by the
  total rows, so all see the same gradient and objective, and L-BFGS's line search takes the same
  decisions everywhere (the objective is the mean over all rows, as on one process);
- each grid update: the samples (the batch, or the streaming reservoir) are all-gathered in rank
  order and every rank computes the knots from the same rows;
- nothing else: the optimisers are deterministic functions of those values.

Only rank 0 writes progress, checkpoints and files (``Sync.writer``). A collective that fails
(a rank died, or the group's timeout passed) becomes a KanlabError naming the rank and the step
of the exchange, instead of a hang or a bare backend error.
"""
from __future__ import annotations

import torch

from ..validate import KanlabError
from .evaluator import Evaluator

__all__ = ["Sync", "start"]


def start(enabled: bool, lamb: float = 0.0) -> "Sync | None":
    """The Sync of an initialised process group when ``enabled``, else None."""
    if not enabled:
        return None
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized():
        raise KanlabError("fit(distributed=True) needs an initialised torch.distributed process group: launch with "
                          "torchrun (kanlab train does the rest) or call torch.distributed.init_process_group('gloo') "
                          "first; for one process drop distributed=True")
    if lamb > 0:
        raise KanlabError("distributed=True with lamb > 0 is not supported yet: the sparsity penalty needs edge "
                          "statistics over all ranks' data; train with lamb=0 or in one process")
    return Sync(dist)


class Sync:
    """The collectives of one data-parallel fit (``rank``, ``world``, ``writer``)."""

    def __init__(self, dist):
        self.dist = dist
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.writer = self.rank == 0

    def _collective(self, what: str, fn, *args):
        try:
            return fn(*args)
        except RuntimeError as e:  # gloo/nccl: peer closed the connection, or the group's timeout passed
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise KanlabError(f"rank {self.rank} of {self.world}: the {what} failed, probably because another rank "
                              f"died or timed out (torch.distributed: {first[:200]}); check the other ranks' "
                              "output and restart (resume=True continues from the last checkpoint)") from None

    def all_reduce(self, t: torch.Tensor, what: str) -> torch.Tensor:
        """Sum ``t`` over the ranks in place (on every rank the same bits)."""
        self._collective(what, self.dist.all_reduce, t)
        return t

    def gather_rows(self, x: torch.Tensor) -> torch.Tensor:
        """Every rank's rows of x (N_r, d), concatenated in rank order, on every rank."""
        n = torch.tensor([x.shape[0]], dtype=torch.int64)
        sizes = [torch.zeros_like(n) for _ in range(self.world)]
        self._collective("all-gather of the row counts for a grid update", self.dist.all_gather, sizes, n)
        sizes = [int(s) for s in sizes]
        pad = x.new_zeros((max(sizes), *x.shape[1:]))
        pad[: x.shape[0]] = x
        parts = [torch.empty_like(pad) for _ in range(self.world)]
        self._collective("all-gather of the grid-update samples", self.dist.all_gather, parts, pad.contiguous())
        return torch.cat([p[:s] for p, s in zip(parts, sizes)])

    def broadcast_flag(self, flag: bool, what: str) -> bool:
        """Rank 0's value of ``flag`` on every rank."""
        t = torch.tensor([1 if flag else 0], dtype=torch.int64)
        self._collective(what, self.dist.broadcast, t, 0)
        return bool(t.item())

    def average(self, evaluator: Evaluator, rows: int) -> "AveragedEvaluator":
        return AveragedEvaluator(evaluator, rows, self)


class AveragedEvaluator(Evaluator):
    """An evaluator whose gradient and loss are the row-weighted means over all ranks."""

    def __init__(self, inner: Evaluator, rows: int, sync: Sync):
        self.inner, self.rows, self.sync = inner, rows, sync
        self.backend = inner.backend
        self.params = inner.params

    def __call__(self) -> torch.Tensor:
        objective = self.inner()
        params = self.params
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        dtype = grads[0].dtype
        tail = torch.stack([objective.detach().to(dtype), self.inner.loss.detach().to(dtype),
                            torch.tensor(1.0, dtype=dtype)])
        flat = torch.cat([g.reshape(-1) for g in grads] + [tail]) * self.rows
        self.sync.all_reduce(flat, "all-reduce of the gradient")
        flat /= flat[-1].clone()
        with torch.no_grad():
            for p, g in zip(params, flat[:-3].split([p.numel() for p in params])):
                if p.grad is None:
                    p.grad = g.view_as(p).clone()
                else:
                    p.grad.copy_(g.view_as(p))
        self.loss = flat[-2].clone()
        self.reg = self.inner.reg
        return flat[-3].clone()
