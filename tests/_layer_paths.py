"""Run one KANLayer forward + backward on its dense and on its large-grid path."""
import torch


def dense_and_large_grid(layer, x):
    """{False: dense, True: large grid} -> (y, x.grad, {parameter name: grad}) for the loss
    sum(sin(y)) (output gradient cos(y)); x must require grad. Leaves layer.large_grid = True."""
    res = {}
    for large in (False, True):
        layer.large_grid = large
        layer.zero_grad(set_to_none=True)
        x.grad = None
        y = layer(x)
        y.backward(torch.cos(y))
        res[large] = (y.detach(), x.grad.clone(), {n: p.grad.clone() for n, p in layer.named_parameters()})
    return res
