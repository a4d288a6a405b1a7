"""Training: the fit loop, L-BFGS, losses, the sparsity penalty and PDE derivatives."""
