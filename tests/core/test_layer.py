import copy
import io
import pickle

import pytest
import torch

from kanlab import KANLayer

from _layer_paths import dense_and_large_grid


def trained_like_layer(G=5, seed=0, dtype=torch.float64):
    layer = KANLayer(3, 4, grid=G, k=3, dtype=dtype, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        layer.coef.normal_(0, 0.5, generator=torch.Generator().manual_seed(seed + 1))
    return layer


def test_forward_matches_edge_sum_and_no_batch_in_out_tensor():
    layer = trained_like_layer()
    x = torch.rand(64, 3, dtype=torch.float64) * 2 - 1
    y = layer(x)
    ref = layer.edge_values(x).sum(1) + (layer.bias if layer.bias is not None else 0)
    assert torch.allclose(y, ref, atol=1e-12)


def test_leading_dims():
    layer = trained_like_layer()
    x = torch.rand(2, 5, 7, 3, dtype=torch.float64)
    y = layer(x)
    assert y.shape == (2, 5, 7, 4)
    assert torch.allclose(y.reshape(-1, 4), layer(x.reshape(-1, 3)))


def test_gradcheck_layer_float64():
    layer = trained_like_layer()
    x = (torch.rand(20, 3, dtype=torch.float64) * 1.8 - 0.9).requires_grad_()
    assert torch.autograd.gradcheck(layer, (x,))
    params = tuple(layer.parameters())

    def f(*ps):
        for p, v in zip(params, ps):
            p.data = v
        return layer(x.detach())

    # gradients w.r.t. parameters through torch.func for a clean check
    from torch.func import functional_call

    names = [n for n, _ in layer.named_parameters()]

    def g(*ps):
        return functional_call(layer, dict(zip(names, ps)), (x.detach(),))

    assert torch.autograd.gradcheck(g, tuple(p.detach().clone().requires_grad_() for p in params))


def test_dtype_follows_parameters_and_to():
    layer = KANLayer(2, 3)
    assert layer(torch.rand(5, 2)).dtype == torch.float32
    layer64 = layer.to(torch.float64)
    assert layer64(torch.rand(5, 2, dtype=torch.float64)).dtype == torch.float64
    assert layer64.knots.dtype == torch.float64 and layer64.basis_table.dtype == torch.float64


def test_deepcopy_pickle_state_dict():
    layer = trained_like_layer()
    x = torch.rand(10, 3, dtype=torch.float64)
    for other in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert torch.equal(other(x), layer(x))
    fresh = KANLayer(3, 4, grid=5, k=3, dtype=torch.float64)
    fresh.load_state_dict(layer.state_dict())
    assert torch.equal(fresh(x), layer(x))
    buf = io.BytesIO()
    torch.save(layer, buf)
    buf.seek(0)
    assert torch.equal(torch.load(buf, weights_only=False)(x), layer(x))


def test_seeded_init_is_reproducible_and_global_rng_untouched():
    state = torch.random.get_rng_state()
    a = KANLayer(3, 4, generator=torch.Generator().manual_seed(3))
    b = KANLayer(3, 4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.random.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_update_grid_preserves_function_on_samples():
    from kanlab.core import spline_lstsq

    layer = trained_like_layer()
    # a smooth learned-like function on every edge
    xs = torch.linspace(-1, 1, 200, dtype=torch.float64)[:, None].expand(200, 3)
    freq = torch.arange(1, 13, dtype=torch.float64).reshape(1, 3, 4) / 12
    with torch.no_grad():
        layer.coef.copy_(spline_lstsq.curve_to_coef(xs, torch.sin(2 * freq * xs[..., None]), layer.knots, 3))
    x = (torch.rand(2000, 3, dtype=torch.float64) ** 2) * 1.8 - 0.9  # skewed samples
    before = layer(x)
    layer.update_grid(x)
    after = layer(x)
    assert (after - before).abs().max() <= 1e-2 * before.std()
    assert layer.out_of_range_fraction(x) == 0.0


@pytest.mark.parametrize("G", [5, 10])
def test_refine_to_2G_preserves_function(G):
    layer = trained_like_layer(G)
    x = torch.randn(2000, 3, dtype=torch.float64) * 0.4
    layer.update_grid(x)
    fine = layer.refine(2 * G)
    assert fine.grid == 2 * G and fine.coef.shape[1] == 2 * G + 3
    err = (fine(x) - layer(x)).abs().max()
    assert err <= 1e-4 * layer(x).std()


def test_refine_float32_trained_layer():
    layer = trained_like_layer(5, dtype=torch.float32)
    x = torch.rand(1000, 3) * 2 - 1
    layer.update_grid(x)
    fine = layer.refine(10)
    assert (fine(x) - layer(x)).abs().max() <= 1e-4 * layer(x).std()


def test_bad_inputs_raise_value_error():
    with pytest.raises(ValueError, match="in_dim"):
        KANLayer(0, 3)
    with pytest.raises(ValueError, match="base_fun"):
        KANLayer(2, 3, base_fun="nope")
    layer = KANLayer(2, 3)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        layer(torch.rand(5, 3))


@pytest.mark.slow
def test_torch_compile_layer_smoke():
    layer = KANLayer(3, 2)
    x = torch.rand(8, 3)
    try:
        compiled = torch.compile(layer, backend="eager")
    except Exception as e:  # pragma: no cover
        pytest.skip(f"torch.compile unavailable: {e}")
    assert torch.allclose(compiled(x), layer(x))


@pytest.mark.parametrize("G", [5, 70, 300])
def test_large_grid_path_equals_dense(G):
    layer = KANLayer(6, 5, grid=G, dtype=torch.float64)
    with torch.no_grad():
        layer.coef.normal_(generator=torch.Generator().manual_seed(0))
    x = (torch.rand(64, 6, dtype=torch.float64) * 2.4 - 1.2).requires_grad_()
    res = {s: [y, gx, *g.values()] for s, (y, gx, g) in dense_and_large_grid(layer, x).items()}
    for a, b in zip(res[False], res[True]):
        assert torch.allclose(a, b, atol=1e-10)
    layer.large_grid = None
    assert layer.uses_large_grid() == (G + 3 >= 64)
