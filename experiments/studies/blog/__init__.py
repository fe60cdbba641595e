"""The blog's claims ("Learning multiple tasks with gradient descent", 2018), one module a
claim: its grid, the folders of its forms' runs and its report section."""
