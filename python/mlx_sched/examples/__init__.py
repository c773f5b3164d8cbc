"""Runnable examples (``python -m mlx_sched.examples.<name> --help``)."""
