"""The knots experiment's validated KAN-vs-MLP comparison: every choice made on validation rows.

The validation rows are the last VAL_FRAC of the training permutation; the models train on the
rest (the "fit rows"). Each run keeps its checkpoint with the best validation accuracy; the KAN
width is the candidate with the best mean validation accuracy over the model seeds; only then
are the kept checkpoints scored on the test rows, and the two means compared with the standard
error of their difference. See :mod:`kanlab.experiments.knots` for the protocol and the candidate
search behind VAL_WIDTHS.
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from ..baselines.mlp import MLP, n_params
from ..model import KAN
from ..training.loop import fit

VAL_FRAC = 0.1  # validation rows: the last 10% of the training permutation (the test rows are never looked at)
VAL_WIDTHS = (5, 10)  # hidden widths of the KAN candidates [n,w,C] (w=10 at G=6: 2,640 params, ~105x < the MLP)


def accuracy(model, x, y) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean()) * 100


def _val_split(p):
    """(fit rows, validation rows): the validation rows are the last VAL_FRAC of the training permutation."""
    n_va = max(1, int(round(VAL_FRAC * len(p["tr"]))))
    return p["tr"][:-n_va], p["tr"][-n_va:]


def _val_ds(p, dtype=torch.float64):
    """Training data for the validated runs: fit rows as train, validation rows as fit's "test" set (so fit's
    history and metric hook see validation rows only); the real test rows are returned apart."""
    fit_rows, va = _val_split(p)
    t = lambda a: torch.tensor(a, dtype=dtype)
    ds = {"train_input": t(p["Z"][fit_rows]), "train_label": torch.tensor(p["y"][fit_rows]),
          "test_input": t(p["Z"][va]), "test_label": torch.tensor(p["y"][va])}
    return ds, t(p["Z"][p["te"]]), torch.tensor(p["y"][p["te"]])


class _BestOnVal:
    """fit's metric hook (called every ``every`` steps and at the last one, on the validation rows): keeps a copy
    of the model with the best validation accuracy so far (the first one on ties) and where it was."""

    def __init__(self):
        self.acc, self.model, self.where = -1.0, None, None

    def hook(self, model, every, steps, tag):
        calls = [0]

        def val_acc(pred, label):
            done = min(calls[0] * every, steps - 1) + 1  # optimiser steps taken so far in this fit
            calls[0] += 1
            acc = float((pred.argmax(1) == label.reshape(-1).long()).double().mean()) * 100
            if acc > self.acc:
                self.acc, self.model, self.where = acc, copy.deepcopy(model), dict(tag, steps=done)
            return acc
        return val_acc


def run_kan_val(job, p):
    """A KAN [n, width, C] on the fit rows: G=3, then grid extension (``schedule`` = [[G, LBFGS steps], ...]); the
    checkpoint (every ``every`` steps and each stage's end) with the best validation accuracy is kept and scored on
    test."""
    ds, x_te, y_te = _val_ds(p)
    best, model, curve = _BestOnVal(), None, []
    for grid, steps in job["schedule"]:
        model = KAN([ds["train_input"].shape[1], job["width"], len(p["classes"])], grid=grid, k=3,
                    seed=job["model_seed"], dtype=torch.float64) if model is None else model.refine(grid)
        h = model.fit(ds, opt="LBFGS", steps=steps, loss_fn="cross_entropy", progress=False, test_every=job["every"],
                      metrics={"val_acc": best.hook(model, job["every"], steps, {"grid": grid})})
        curve.append({"grid": grid, "val_acc": h["val_acc"],
                      "val_acc_end": accuracy(model, ds["test_input"], ds["test_label"])})
    m = best.model
    score = m.feature_score(ds["train_input"]).tolist()
    return {"width": m.width, "params": n_params(m), "val_acc": best.acc, "checkpoint": best.where,
            "test_acc": accuracy(m, x_te, y_te), "train_acc": accuracy(m, ds["train_input"], ds["train_label"]),
            "val_curve": curve, "scores": score, "schedule": job["schedule"], "every": job["every"],
            "n_fit": len(ds["train_input"]), "n_val": len(ds["test_input"])}


def run_mlp_val(job, p):
    """The MLP of run_mlp (same optimiser, lr, batch) on the fit rows for ``steps`` Adam steps; the checkpoint
    (every ``every`` steps and the last) with the best validation accuracy is kept and scored on test."""
    ds, x_te, y_te = _val_ds(p, torch.float32)
    model = MLP([ds["train_input"].shape[1], 300, 300, 300, 300, len(p["classes"])], seed=job["model_seed"])
    best = _BestOnVal()
    h = fit(model, ds, opt="Adam", lr=1e-3, steps=job["steps"], batch=min(512, len(ds["train_input"])),
            update_grid=False, loss_fn="cross_entropy", progress=False, seed=job["model_seed"], test_every=job["every"],
            metrics={"val_acc": best.hook(model, job["every"], job["steps"], {})})
    m = best.model
    return {"width": m.width, "params": n_params(m), "val_acc": best.acc, "checkpoint": best.where,
            "test_acc": accuracy(m, x_te, y_te), "train_acc": accuracy(m, ds["train_input"], ds["train_label"]),
            "val_curve": h["val_acc"], "steps": job["steps"], "every": job["every"],
            "n_fit": len(ds["train_input"]), "n_val": len(ds["test_input"])}


def _sd(v) -> float:
    return float(np.std(v, ddof=1)) if len(v) > 1 else 0.0


def validated_comparison(results) -> dict:
    """Pick the KAN width by the mean (over model seeds) of the best validation accuracy, and compare its test accuracy
    with the validated MLP's (mean and sd over the same seeds). Test accuracies play no part in the choice."""
    kans = [r for r in results if r["id"].startswith("kan_val_")]
    mlps = [r for r in results if r["id"].startswith("mlp_val_")]
    if not kans or not mlps:
        return {}
    cand = {}
    for r in kans:
        cand.setdefault(r["width"][1], []).append(r)
    val_mean = {w: float(np.mean([r["val_acc"] for r in rs])) for w, rs in cand.items()}
    w = max(sorted(val_mean), key=lambda k: val_mean[k])  # ties: the narrower
    chosen = sorted(cand[w], key=lambda r: r["id"])
    kt, mt = [r["test_acc"] for r in chosen], [r["test_acc"] for r in sorted(mlps, key=lambda r: r["id"])]
    diff = float(np.mean(kt) - np.mean(mt))
    se = float(np.sqrt(_sd(kt) ** 2 / len(kt) + _sd(mt) ** 2 / len(mt)))  # of the difference of the two means
    return {"width": w, "val_mean": val_mean, "kan": chosen, "mlp": mlps, "kan_test": kt, "mlp_test": mt,
            "kan_val": [r["val_acc"] for r in chosen], "mlp_val": [r["val_acc"] for r in mlps],
            "diff": diff, "diff_se": se, "within_spread": abs(diff) <= 2 * se}


def validated_rows(v):
    if not v:
        return [], ""
    k0, m0, n = v["kan"][0], v["mlp"][0], len(v["kan_test"])
    rows = [{"model": f"KAN {k0['width']} (all inputs, G=3 then 6; width and checkpoint chosen on validation), "
                      f"mean of {n} seeds (sd {_sd(v['kan_test']):.2f})",
             "test acc %": float(np.mean(v["kan_test"])), "params": k0["params"], "paper acc %": "", "paper params": ""},
            {"model": f"MLP {m0['width']} (same rows; checkpoint chosen on validation), mean of {n} seeds "
                      f"(sd {_sd(v['mlp_test']):.2f})",
             "test acc %": float(np.mean(v["mlp_test"])), "params": m0["params"], "paper acc %": "", "paper params": ""}]
    ck = lambda r: ", ".join(f"{k} {x}" for k, x in r["checkpoint"].items())
    verdict = ("KAN and MLP are equal within the run-to-run spread (|difference| <= 2 standard errors)" if v["within_spread"]
               else f"the KAN is {'more' if v['diff'] > 0 else 'less'} accurate than the MLP beyond the run-to-run spread")
    note = (f" Validated comparison (rows marked 'chosen on validation'): the {k0['n_fit']} fit rows are the first 90% of "
            f"the training permutation, the last {k0['n_val']} training rows are the validation set (the test rows are "
            f"never used for a choice). Each model is trained on the fit rows with {n} model seeds; the checkpoint kept "
            f"is the one with the best validation accuracy (KAN: checked every {k0['every']} LBFGS steps of the schedule "
            + " then ".join(f"G={g} {st} steps" for g, st in k0["schedule"])
            + f"; MLP: checked every {m0['every']} of {m0['steps']} Adam steps, lr 1e-3, batch 512). "
            "KAN width chosen by mean best validation accuracy: "
            + ", ".join(f"[.., {w}, ..] {a:.2f}%" for w, a in sorted(v["val_mean"].items()))
            + f" -> width {v['width']}. Per seed (val / test %): KAN "
            + "; ".join(f"{r['val_acc']:.2f} / {r['test_acc']:.2f} ({ck(r)})" for r in v["kan"])
            + "; MLP " + "; ".join(f"{r['val_acc']:.2f} / {r['test_acc']:.2f} ({ck(r)})" for r in v["mlp"])
            + f". Test: KAN {np.mean(v['kan_test']):.2f} +- {_sd(v['kan_test']):.2f}, MLP {np.mean(v['mlp_test']):.2f} "
            f"+- {_sd(v['mlp_test']):.2f} (mean +- sd over seeds); KAN - MLP {v['diff']:+.2f} pp (standard error "
            f"{v['diff_se']:.2f}): {verdict}.")
    return rows, note
