"""What a trained run shows: its codes, collapse, likelihood and true posterior, generation
tests, the judge classifier, the scorecard, traversals, drawn digits and the loss lab."""
