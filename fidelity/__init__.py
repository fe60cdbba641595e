"""Tools for comparing this project with the original TF1 task.py, run as it is."""
