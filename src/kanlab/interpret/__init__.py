"""Looking inside a trained KAN: attribution scores, pruning and the network plot."""
