"""Ranking trials: by the validation metric and the goal, ties broken the same way every time,
trials without a result last."""

from __future__ import annotations

from ftkit.sweeps.leaderboard import TrialRow, from_results_file, rank
from ftkit.sweeps.search import default_goal


def row(
    number: int, metric: float | None, tokens: int | None = 100, status: str = "succeeded"
) -> TrialRow:
    return TrialRow(
        number=number, run_id=f"run{number}", values={}, status=status, metric=metric,
        trained_tokens=tokens,
    )  # fmt: skip


def order(rows: list[TrialRow], goal: str = "minimize") -> list[tuple[int | None, int]]:
    return [(r.rank, r.number) for r in rank(rows, goal)]  # type: ignore[arg-type]


def test_the_goal_decides_the_direction() -> None:
    rows = [row(1, 0.5), row(2, 0.2), row(3, 0.9)]
    assert order(rows, "minimize") == [(1, 2), (2, 1), (3, 3)]
    assert order(rows, "maximize") == [(1, 3), (2, 1), (3, 2)]


def test_ties_go_to_fewer_trained_tokens_then_to_sweep_order_not_finishing_order() -> None:
    """Equal values (to 12 significant digits): the cheaper trial, then the earlier one."""
    rows = [row(3, 0.3, tokens=50), row(1, 0.3 + 1e-15, tokens=80), row(2, 0.3, tokens=80)]
    assert order(rows) == [(1, 3), (2, 1), (3, 2)]


def test_failed_running_and_unscored_trials_are_unranked_and_last() -> None:
    rows = [
        row(1, None),
        row(2, 0.1, status="failed"),
        row(3, 0.7),
        row(4, None, status="running"),
    ]
    assert order(rows) == [(1, 3), (None, 1), (None, 2), (None, 4)]


def test_default_goals_and_where_a_metric_comes_from() -> None:
    assert default_goal("valid_loss") == "minimize"
    assert default_goal("log_loss") == "minimize"
    assert default_goal("f1_macro") == "maximize"
    assert from_results_file("valid_loss") and from_results_file("classification/accuracy")
    assert not from_results_file("f1_macro")
