"""Sweeps: the trials of an experiment (grid, random, coupled), their ranking and leaderboard,
and their cost. Plain functions; `flows/sweep.py` runs them with Prefect."""
