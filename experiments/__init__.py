"""Named experiments (each blog figure as a grid of runs over seeds) and the sweeps that run them."""
