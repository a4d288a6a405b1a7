import numpy as np
import pytest
import torch

from kanlab import KAN


@pytest.fixture(scope="session")
def rapidity_data():
    """(u + v) / (1 + u v) on [-0.9, 0.9]^2: training and held-out rows."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-0.9, 0.9, (240, 2))
    y = (X[:, 0] + X[:, 1]) / (1 + X[:, 0] * X[:, 1])
    return X[:160], y[:160], X[160:], y[160:]


@pytest.fixture(scope="session")
def trained(rapidity_data):
    X, y, Xt, yt = rapidity_data
    model = KAN(width=[2, 1], grid=5, k=3, seed=0)
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    model.fit({"train_input": t(X), "train_label": t(y)[:, None], "test_input": t(Xt), "test_label": t(yt)[:, None]},
              steps=15, progress=False)
    return model


@pytest.fixture(scope="session")
def rapidity_kan():
    """A [2, 1, 1] KAN of the rapidity law (u + v) / (1 + u v) = tanh(atanh(u) + atanh(v)), one edge
    short of a formula: edge (0,1,0) is fixed to arctanh and (1,0,0) to tanh, while edge (0,0,0)
    is still a numeric spline, least-squares fitted to atanh(u) on the data's range (grid 20, base
    weight 0) so that the library's first suggestion for it is arctanh. Built, not trained, so it
    takes milliseconds and is the same on every machine."""
    from kanlab.core import spline_lstsq
    from kanlab.symbolic import fix_edges

    model = KAN(width=[2, 1, 1], grid=20, k=3, seed=0)
    fix_edges.fix_symbolic(model, 0, 1, 0, "arctanh", fit_params=False, params=(1.0, 0.0, 1.0, 0.0))
    fix_edges.fix_symbolic(model, 1, 0, 0, "tanh", fit_params=False, params=(1.0, 0.0, 1.0, 0.0))
    layer = model.layers[0]
    with torch.no_grad():
        xs = torch.linspace(-0.9, 0.9, 400, dtype=layer.coef.dtype)[:, None].expand(-1, layer.in_dim).contiguous()
        layer.scale_base.zero_()
        layer.scale_sp.fill_(1.0)
        layer.coef.copy_(spline_lstsq.curve_to_coef(xs, torch.atanh(xs)[:, :, None], layer.knots, layer.k))
    return model
