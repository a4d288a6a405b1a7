"""Run one KANLayer forward + backward on its dense and on its sparse (large-grid) path."""
import torch


def dense_and_sparse(layer, x):
    """{False: dense, True: sparse} -> (y, x.grad, {parameter name: grad}) for the loss
    sum(sin(y)) (output gradient cos(y)); x must require grad. Leaves layer.sparse = True."""
    res = {}
    for sparse in (False, True):
        layer.sparse = sparse
        layer.zero_grad(set_to_none=True)
        x.grad = None
        y = layer(x)
        y.backward(torch.cos(y))
        res[sparse] = (y.detach(), x.grad.clone(), {n: p.grad.clone() for n, p in layer.named_parameters()})
    return res
