"""Per-output attribution and pairwise feature interactions, against models whose structure is
known by construction."""
import math

import pytest
import torch

from kanlab import KAN
from kanlab.interpret.interaction import feature_interaction, plot_interaction
from kanlab.validate import KanlabError


def _data(n=400, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=g, dtype=torch.float64) * 2 - 1


def _xy_plus_sin():
    """f = x0 * x1 + sin(x2) exactly, by symbolic edges: x0*x1 = ((x0+x1)^2 - (x0-x1)^2) / 4."""
    m = KAN([3, 3, 1], seed=0, dtype=torch.float64)
    with torch.no_grad():
        for layer in m.layers:
            layer.mask.zero_()
    for i, j, c in [(0, 0, 1.0), (1, 0, 1.0), (0, 1, 1.0), (1, 1, -1.0), (2, 2, 1.0)]:
        m.fix_symbolic(0, i, j, "x", fit_params=False, params=(1.0, 0.0, c, 0.0))
    m.fix_symbolic(1, 0, 0, "x^2", fit_params=False, params=(1.0, 0.0, 0.25, 0.0))
    m.fix_symbolic(1, 1, 0, "x^2", fit_params=False, params=(1.0, 0.0, -0.25, 0.0))
    m.fix_symbolic(1, 2, 0, "sin", fit_params=False, params=(1.0, 0.0, 1.0, 0.0))
    return m


def test_product_interacts_and_additive_terms_do_not():
    m, x = _xy_plus_sin(), _data()
    with torch.no_grad():
        assert float((m(x)[:, 0] - (x[:, 0] * x[:, 1] + torch.sin(x[:, 2]))).abs().max()) < 1e-12
    inter = m.feature_interaction(x)
    s = x.std(0, unbiased=False)
    # d2(x0*x1)/dx0dx1 = 1 everywhere, so the strength is std(x0) * std(x1); sin(x2) is additive
    assert abs(float(inter[0, 1]) - float(s[0] * s[1])) < 1e-10
    assert float(inter[0, 2]) < 1e-12 and float(inter[1, 2]) < 1e-12
    assert torch.equal(inter, inter.t()) and float(inter.diagonal().abs().max()) == 0.0


def test_one_layer_kan_is_additive():
    m = KAN([3, 2], seed=1, dtype=torch.float64)
    inter = m.feature_interaction(_data())
    assert float(inter.abs().max()) < 1e-12


def test_trained_like_deep_model_matches_finite_differences():
    m, x = KAN([2, 4, 1], seed=2, dtype=torch.float64), _data(200, 2)
    h = 1e-4
    e0, e1 = torch.tensor([h, 0.0], dtype=torch.float64), torch.tensor([0.0, h], dtype=torch.float64)
    with torch.no_grad():
        mixed = (m(x + e0 + e1) - m(x + e0 - e1) - m(x - e0 + e1) + m(x - e0 - e1))[:, 0] / (4 * h * h)
    s = x.std(0, unbiased=False)
    expected = float(mixed.abs().mean() * s[0] * s[1])
    assert expected > 1e-4
    assert math.isclose(float(m.feature_interaction(x)[0, 1]), expected, rel_tol=1e-4)


def _two_outputs():
    """[2, 4, 2]: output 0 reads hidden 0, 1, which read x0 only; output 1 reads hidden 2, 3 (x1 only)."""
    m = KAN([2, 4, 2], seed=4, dtype=torch.float64)
    with torch.no_grad():
        m.layers[0].mask.copy_(torch.tensor([[1.0, 1, 0, 0], [0, 0, 1, 1]]))
        m.layers[1].mask.copy_(torch.tensor([[1.0, 0], [1, 0], [0, 1], [0, 1]]))
    return m


def test_attribution_per_output():
    m, x = _two_outputs(), _data(300, 2)
    s0, s1, both = m.attribute(x, output=0), m.attribute(x, output=1), m.attribute(x)
    assert float(s0.input[0]) > 0.1 and float(s0.input[1]) == 0.0
    assert float(s1.input[1]) > 0.1 and float(s1.input[0]) == 0.0
    assert torch.equal(s0.node[-1], torch.tensor([1.0, 0.0], dtype=torch.float64))
    for l in range(2):  # the scores are linear in the output scores: all outputs = the sum of each
        assert torch.allclose(s0.edge[l] + s1.edge[l], both.edge[l], atol=1e-14)
    assert torch.equal(m.feature_score(x, output=1), s1.input)
    inter0 = m.feature_interaction(x, output=0)
    assert float(inter0.abs().max()) < 1e-12  # each output depends on one input only
    with pytest.raises(KanlabError, match=r"output index in 0..1, got 2"):
        m.attribute(x, output=2)
    with pytest.raises(KanlabError, match=r"output index in 0..1"):
        m.feature_interaction(x, output=-1)


def test_interaction_errors_and_plot(tmp_path):
    m = _xy_plus_sin()
    with pytest.raises(KanlabError, match="needs data x"):
        m.feature_interaction(None)
    with pytest.raises(KanlabError, match="3 input columns, got 2"):
        m.feature_interaction(_data(10, 2))
    inter = feature_interaction(m, _data())
    fig = plot_interaction(inter, names=["x", "y", "z"], path=tmp_path / "inter.png")
    assert (tmp_path / "inter.png").stat().st_size > 1000
    assert fig.axes[0].images[0].get_array().shape == (3, 3)
    with pytest.raises(KanlabError, match="one name per input"):
        plot_interaction(inter, names=["x"])
    with pytest.raises(KanlabError, match="square matrix"):
        plot_interaction(torch.zeros(2, 3))


def test_large_grid_layers_are_differentiated_on_the_dense_path():
    m, x = KAN([2, 3, 1], grid=70, seed=0, dtype=torch.float64), _data(60, 2)
    assert m.layers[0].uses_large_grid()
    large = m.feature_interaction(x)
    for layer in m.layers:
        layer.large_grid = False
    assert torch.allclose(large, m.feature_interaction(x), rtol=1e-12, atol=0)
    assert float(large[0, 1]) > 0
