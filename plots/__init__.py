"""Charts of the study and continual-learning metrics, computed only from run logs."""
