"""The trials of a sweep: grid combinations or seeded random draws, times coupled options.

A trial is a set of overrides applied to the experiment config without its `sweep` section;
each trial is an ordinary run with its own run key. The order of the trials is fixed by the
config alone (grid: keys sorted, values in the order written; random: the draws of `seed`), so
it can break ties in the ranking.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import random
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from ftkit.config import ExperimentConfig, set_dotted, validate_config
from ftkit.errors import ConfigError
from ftkit.evaluate.metrics import LOWER_IS_BETTER
from ftkit.runs.atomic import canonical_json
from ftkit.runs.key import dataset_hash, run_id, run_key
from ftkit.sweeps.render import text_table

MAX_DRAWS_PER_TRIAL = 50
"""Random search redraws a repeated trial; it stops after this many draws per trial asked."""


@dataclass(frozen=True)
class Trial:
    """One trial: its position in the sweep, the swept values, and the resolved config."""

    number: int
    overrides: dict[str, Any]
    config: ExperimentConfig

    def override_args(self) -> list[str]:
        """The swept values as `key=value` arguments that read back as the same values."""
        import yaml

        args = []
        for key, value in self.overrides.items():
            text = yaml.safe_dump(value, default_flow_style=True, width=float("inf"))
            args.append(f"{key}={text.strip().removesuffix('...').strip()}")
        return args


def expand_sweep(config: ExperimentConfig) -> list[Trial]:
    """The trials of the config's sweep, in sweep order; one plain trial without a sweep.

    Raises ConfigError naming the trial and key when a swept value makes the config invalid.
    """
    sweep = config.sweep
    if not sweep.parameters and not sweep.coupled:
        return [Trial(1, {}, config)]
    options = _grid_options(config) if sweep.method == "grid" else _random_options(config)
    base = config.model_dump(mode="json", exclude={"sweep"})
    trials = []
    for number, overrides in enumerate(options, start=1):
        raw = copy.deepcopy(base)
        for key, value in overrides.items():
            set_dotted(raw, key, value, source=f"sweep key {key!r}")
        described = ", ".join(f"{key}={value}" for key, value in overrides.items())
        resolved = validate_config(raw, source=f"sweep trial {number} ({described})")
        trials.append(Trial(number, overrides, resolved))
    return trials


def _grid_options(config: ExperimentConfig) -> list[dict[str, Any]]:
    parameters = config.sweep.parameters
    keys = sorted(parameters)
    coupled = config.sweep.coupled or [{}]
    options = []
    for values in itertools.product(*(parameters[key].values or [] for key in keys)):
        for together in coupled:
            options.append({**dict(zip(keys, values, strict=True)), **together})
    return options


def _random_options(config: ExperimentConfig) -> list[dict[str, Any]]:
    sweep = config.sweep
    wanted = sweep.trials or 0
    rng = random.Random(sweep.seed)
    keys = sorted(sweep.parameters)
    options: list[dict[str, Any]] = []
    seen: set[bytes] = set()
    for _ in range(wanted * MAX_DRAWS_PER_TRIAL):
        option = {key: sweep.parameters[key].sample(rng) for key in keys}
        if sweep.coupled:
            option.update(rng.choice(sweep.coupled))
        fingerprint = canonical_json(option)
        if fingerprint not in seen:
            seen.add(fingerprint)
            options.append(option)
        if len(options) == wanted:
            return options
    msg = (
        f"sweep.trials is {wanted} but the search space has only {len(options)} distinct "
        "trials; lower sweep.trials or widen sweep.parameters."
    )
    raise ConfigError(msg)


def run_keys(trials: list[Trial]) -> list[str]:
    """The run key of each trial (each distinct data file hashed once)."""
    data_hashes: dict[tuple[str, str], str] = {}
    keys = []
    for trial in trials:
        data = trial.config.data
        files = (str(data.source), str(data.validation_source))
        if files not in data_hashes:
            data_hashes[files] = dataset_hash(trial.config)
        keys.append(run_key(trial.config, data_hashes[files]))
    return keys


def sweep_id(keys: list[str]) -> str:
    """A short stable id of a sweep: the hash of its trials' run keys, in order.

    The same config and data give the same id, so a re-run finds the sweep (and its trials)
    again; ranking, budget and parallelism settings do not change it.
    """
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:10]


def short_names(keys: list[str]) -> dict[str, str]:
    """Column names for swept keys: the last part of the dotted path, unless two share it."""
    last = [key.rsplit(".", 1)[-1] for key in keys]
    return {
        key: name if last.count(name) == 1 else key for key, name in zip(keys, last, strict=True)
    }


def swept_keys(trials: list[Trial]) -> list[str]:
    """Every key any trial sets, in first-seen order."""
    return list(dict.fromkeys(key for trial in trials for key in trial.overrides))


class PlannedTrial(BaseModel):
    """A trial as listed before anything runs."""

    number: int
    run_id: str
    overrides: dict[str, Any]


class SweepPlan(BaseModel):
    """What a sweep will run: its id, how the trials were drawn, and each trial's overrides."""

    experiment: str
    sweep_id: str
    method: str
    metric: str
    goal: Literal["minimize", "maximize"]
    swept_keys: list[str]
    trials: list[PlannedTrial]

    def summary(self) -> str:
        """One line, e.g. `sweep 3fa9c2d1e0: grid, 4 trials`."""
        return f"sweep {self.sweep_id}: {self.method}, {len(self.trials)} trials"

    def table(self) -> list[str]:
        """The trials as text lines: number, run id and one column per swept key."""
        names = short_names(self.swept_keys)
        rows = [
            [str(t.number), t.run_id, *(_text(t.overrides.get(key)) for key in self.swept_keys)]
            for t in self.trials
        ]
        return text_table(["#", "run id", *(names[key] for key in self.swept_keys)], rows)


def plan_sweep(config: ExperimentConfig, trials: list[Trial]) -> SweepPlan:
    """The listing of a sweep's trials (run ids and swept values), nothing run or written."""
    keys = run_keys(trials)
    return SweepPlan(
        experiment=config.name,
        sweep_id=sweep_id(keys),
        method=config.sweep.method,
        metric=config.sweep.metric,
        goal=config.sweep.goal or default_goal(config.sweep.metric),
        swept_keys=swept_keys(trials),
        trials=[
            PlannedTrial(number=t.number, run_id=run_id(key), overrides=t.overrides)
            for t, key in zip(trials, keys, strict=True)
        ],
    )


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


def default_goal(metric: str) -> Literal["minimize", "maximize"]:
    """Losses and error rates are minimized, everything else maximized."""
    lower = metric in LOWER_IS_BETTER or metric.endswith("loss")
    return "minimize" if lower else "maximize"
