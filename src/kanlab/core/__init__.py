"""The KAN itself: spline maths, spline least squares, the symbolic primitives, KANLayer,
symbolic edges and the network. Knows nothing of training, interpretation or discovery."""
