"""Structure tests as a public API: is f (a model or any callable f(X) -> y, on the box of data X
or on ``bounds``) additively, multiplicatively or generally (rank-2) separable, which pairs of
variables enter only through x_i - x_j, x_i + x_j, x_i x_j or x_i / x_j, and its modular structure
as a tree plot. These are the tests :func:`kanlab.discover` runs on its trained oracle."""
from .separability import (Separability, Symmetries, Symmetry, additive_separability, general_separability,
                           multiplicative_separability, symmetries)
from .tree import TreeNode, find_tree, tree

__all__ = ["additive_separability", "multiplicative_separability", "general_separability", "symmetries",
           "tree", "find_tree", "Separability", "Symmetry", "Symmetries", "TreeNode"]
