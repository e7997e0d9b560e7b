"""Sweep search: grid, seeded random draws from distributions, coupled settings, and
`ftkit config validate` listing the trials or naming the bad key."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ftkit.cli import app
from ftkit.config import load_config
from ftkit.errors import ConfigError
from ftkit.runs import config_hash
from ftkit.sweeps.search import expand_sweep

BASE = "name: demo\ndata:\n  source: train.jsonl\n"
LR = "job.hyperparameters.learning_rate_multiplier"
EPOCHS = "job.hyperparameters.n_epochs"


def write(tmp_path: Path, sweep: str) -> Path:
    (tmp_path / "train.jsonl").write_text('{"prompt": "a ->", "completion": " b\\n"}\n')
    path = tmp_path / "exp.yaml"
    path.write_text(BASE + "sweep:\n" + sweep, encoding="utf-8")
    return path


def values(path: Path) -> list[dict[str, object]]:
    return [trial.overrides for trial in expand_sweep(load_config(path))]


def test_grid_is_every_combination_in_a_fixed_order(tmp_path: Path) -> None:
    """Keys sorted, values in the order written: the order is the config's, not chance's."""
    path = write(tmp_path, f"  parameters:\n    {LR}: [0.05, 0.2]\n    {EPOCHS}: [2, 4]\n")
    assert values(path) == [
        {LR: 0.05, EPOCHS: 2},
        {LR: 0.05, EPOCHS: 4},
        {LR: 0.2, EPOCHS: 2},
        {LR: 0.2, EPOCHS: 4},
    ]


def test_random_draws_are_seeded_and_inside_their_distributions(tmp_path: Path) -> None:
    """The same seed draws the same trials; another seed others; every value is in range."""
    sweep = (
        "  method: random\n  trials: 6\n  seed: 3\n  parameters:\n"
        f"    {LR}: {{distribution: log_uniform, low: 0.02, high: 0.5}}\n"
        f"    {EPOCHS}: {{distribution: int_uniform, low: 1, high: 3}}\n"
        "    job.hyperparameters.batch_size: [4, 8]\n"
        "    job.seed: {distribution: choice, values: [1, 2, 3]}\n"
    )
    first = values(write(tmp_path, sweep))
    assert first == values(write(tmp_path, sweep))
    assert first != values(write(tmp_path, sweep.replace("seed: 3", "seed: 4")))
    assert len(first) == 6 and len({json.dumps(v, sort_keys=True) for v in first}) == 6
    for trial in first:
        assert 0.02 <= trial[LR] <= 0.5  # type: ignore[operator]
        assert trial[EPOCHS] in (1, 2, 3)
        assert trial["job.hyperparameters.batch_size"] in (4, 8)
        assert trial["job.seed"] in (1, 2, 3)
    logs = [math.log(t[LR]) for t in first]  # type: ignore[arg-type]
    assert max(logs) - min(logs) > 0.5, "log_uniform draws spread over the range"


def test_coupled_settings_vary_together(tmp_path: Path) -> None:
    """Each coupled option is applied whole, times every grid combination."""
    sweep = (
        f"  parameters:\n    {EPOCHS}: [1, 2]\n  coupled:\n"
        f"    - {{{LR}: 0.05, job.hyperparameters.batch_size: 4}}\n"
        f"    - {{{LR}: 0.2, job.hyperparameters.batch_size: 16}}\n"
    )
    trials = expand_sweep(load_config(write(tmp_path, sweep)))
    pairs = [
        (
            t.config.job.hyperparameters.learning_rate_multiplier,
            t.config.job.hyperparameters.batch_size,
        )
        for t in trials
    ]
    assert pairs == [(0.05, 4), (0.2, 16), (0.05, 4), (0.2, 16)]
    assert [t.config.job.hyperparameters.n_epochs for t in trials] == [1, 1, 2, 2]


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        (
            f"  method: random\n  trials: 2\n  parameters:\n"
            f"    {LR}: {{distribution: log_uniform, low: 0.5, high: 0.02}}\n",
            f"sweep.parameters.{LR}: Value error, log_uniform needs low < high",
        ),
        (
            f"  method: random\n  trials: 2\n  parameters:\n"
            f"    {LR}: {{distribution: gaussian, low: 0, high: 1}}\n",
            f"sweep.parameters.{LR}.distribution: Input should be 'choice'",
        ),
        (
            f"  parameters:\n    {LR}: {{distribution: uniform, low: 0.1, high: 1}}\n",
            f"grid sweeps need value lists; use method: random for {LR}",
        ),
        (f"  method: random\n  parameters:\n    {EPOCHS}: [1, 2]\n", "needs `trials`"),
    ],
)
def test_a_bad_distribution_is_refused_naming_the_key_path(
    tmp_path: Path, sweep: str, message: str
) -> None:
    """`ftkit config validate` exits 2 with the key path and the problem, no traceback."""
    result = CliRunner().invoke(app, ["config", "validate", str(write(tmp_path, sweep))])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_a_swept_value_the_config_refuses_names_the_trial(tmp_path: Path) -> None:
    """A value outside the key's own range fails before anything runs, naming trial and key."""
    path = write(tmp_path, f"  parameters:\n    {EPOCHS}: [2, 0]\n")
    with pytest.raises(ConfigError, match=r"sweep trial 2 \(job.hyperparameters.n_epochs=0\)"):
        expand_sweep(load_config(path))


def test_random_search_asking_more_trials_than_exist_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, f"  method: random\n  trials: 3\n  parameters:\n    {EPOCHS}: [1, 2]\n")
    with pytest.raises(ConfigError, match="only 2 distinct trials"):
        expand_sweep(load_config(path))


def test_validate_lists_the_trials_and_writes_nothing(tmp_path: Path) -> None:
    """Trials with run ids and resolved values, as text and JSON; no run folder appears."""
    path = write(
        tmp_path,
        f"  method: random\n  trials: 4\n  seed: 1\n  parameters:\n"
        f"    {LR}: {{distribution: log_uniform, low: 0.02, high: 0.5}}\n"
        f"    {EPOCHS}: [1, 2, 3]\n",
    )
    text = CliRunner().invoke(app, ["config", "validate", str(path)])
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert "ok (sweep " in lines[0] and "random, 4 trials" in lines[0]
    assert lines[1].split() == ["#", "run", "id", "learning_rate_multiplier", "n_epochs"]
    assert len(lines) == 6

    result = CliRunner().invoke(app, ["config", "validate", str(path), "--format", "json"])
    listing = json.loads(result.stdout)
    expected = [trial.overrides for trial in expand_sweep(load_config(path))]
    assert [t["overrides"] for t in listing["trials"]] == expected
    assert len({t["run_id"] for t in listing["trials"]}) == 4
    for trial, line in zip(listing["trials"], lines[2:], strict=True):
        assert line.split()[:2] == [str(trial["number"]), trial["run_id"]]
    assert not (tmp_path / "runs").exists()


def test_a_trial_on_a_pool_loads_as_its_own_config_from_the_path_and_its_arguments(
    tmp_path: Path,
) -> None:
    """A worker gets the config's path, `sweep={}` and the trial's values as `key=value`
    arguments; they must load as exactly the trial's config (same hash, so a finished trial
    is up to date), small floats and value-like strings included."""
    from flows.trials import trial_parameters

    sweep = (
        f"  parameters:\n    {LR}: [0.00001, 0.2]\n    job.suffix: ['1e-05', 'yes']\n"
        "  coupled:\n    - {job.seed: 3, evaluate.baseline: null}\n"
    )
    path = write(tmp_path, sweep)
    base = ["job.hyperparameters.n_epochs=2"]
    for trial in expand_sweep(load_config(path, base)):
        parameters = trial_parameters(str(path), base, trial)
        assert parameters["config"] == str(path)
        assert parameters["overrides"][: len(base) + 1] == [*base, "sweep={}"]
        assert config_hash(load_config(path, parameters["overrides"])) == config_hash(trial.config)
    assert trial.override_args()[0] == f"{LR}=0.2"
