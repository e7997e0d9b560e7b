"""The experiment config: YAML, overrides, errors that name the key path and file, sweeps."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ftkit.cli import app
from ftkit.config import load_config
from ftkit.errors import ConfigError
from ftkit.sweeps.search import expand_sweep

MINIMAL = "name: demo\ndata:\n  source: data/train.jsonl\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_fill_every_section(tmp_path: Path) -> None:
    """A minimal config gets the local provider, the jobs dialect and an 80/10/10 split."""
    config = load_config(write(tmp_path, MINIMAL))
    assert config.provider.kind == "local"
    assert config.provider.dialect == "jobs"
    assert (config.data.split.train, config.data.split.validation, config.data.split.test) == (
        0.8,
        0.1,
        0.1,
    )
    assert config.job.hyperparameters.n_epochs is None


def test_yaml_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    """data.source written in the YAML resolves against the YAML's folder, not the cwd."""
    config = load_config(write(tmp_path, MINIMAL))
    assert (tmp_path / "data" / "train.jsonl").resolve() == config.data.source


def test_override_paths_are_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path given on the command line means what the shell user typed."""
    monkeypatch.chdir(tmp_path)
    config = load_config(write(tmp_path, MINIMAL), ["data.source=other.jsonl"])
    assert tmp_path.resolve() / "other.jsonl" == config.data.source


def test_overrides_are_type_checked(tmp_path: Path) -> None:
    """Override values are parsed as YAML and coerced by the field types."""
    config = load_config(
        write(tmp_path, MINIMAL),
        [
            "job.hyperparameters.n_epochs=2",
            "job.hyperparameters.learning_rate_multiplier=0.1",
            "job.classification.betas=[0.5, 2]",
            "evaluate.baseline=null",
        ],
    )
    assert config.job.hyperparameters.n_epochs == 2
    assert config.job.hyperparameters.learning_rate_multiplier == 0.1
    assert config.job.classification.betas == [0.5, 2.0]
    assert config.evaluate.baseline is None


def test_every_problem_is_reported_with_file_and_key_path(tmp_path: Path) -> None:
    """A typo and a bad value are both listed, each with its dotted path, and the file named."""
    path = write(
        tmp_path, MINIMAL + "job:\n  hyperparameters:\n    n_epoch: 3\n    batch_size: 0\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert str(path) in text
    assert "job.hyperparameters.n_epoch: unknown key" in text
    assert "job.hyperparameters.batch_size: Input should be greater than or equal to 1" in text
    assert "2 problems" in text


def test_bad_override_value_names_the_key(tmp_path: Path) -> None:
    """An override with the wrong type fails with the key path."""
    with pytest.raises(ConfigError, match=r"job\.hyperparameters\.n_epochs"):
        load_config(write(tmp_path, MINIMAL), ["job.hyperparameters.n_epochs=many"])


@pytest.mark.parametrize("override", ["n_epochs", "=3", "a..b=1"])
def test_malformed_override_is_rejected(tmp_path: Path, override: str) -> None:
    """Overrides must be key.path=value."""
    with pytest.raises(ConfigError, match=r"must look like key\.path=value"):
        load_config(write(tmp_path, MINIMAL), [override])


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    """Broken YAML says where."""
    with pytest.raises(ConfigError, match=r"exp\.yaml: line \d+, column \d+: not valid YAML"):
        load_config(write(tmp_path, "name: demo\ndata: [\n"))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A missing config file is a clear error, not a traceback."""
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_split_fractions_must_add_up(tmp_path: Path) -> None:
    """0.8 + 0.3 + 0.1 is not a split."""
    with pytest.raises(ConfigError, match="add up to 1"):
        load_config(write(tmp_path, MINIMAL), ["data.split.validation=0.3"])


def test_api_key_cannot_be_written_into_the_config(tmp_path: Path) -> None:
    """api_key_env names a variable; a pasted key is rejected."""
    with pytest.raises(ConfigError, match="name of an environment variable"):
        load_config(write(tmp_path, MINIMAL), ["provider.api_key_env=sk-abc-123"])


def test_schedule_timezone_is_an_iana_name(tmp_path: Path) -> None:
    """A cron schedule's time zone is checked at load, naming the key."""
    with pytest.raises(ConfigError, match=r"schedule\.timezone: .*unknown time zone 'Mars/Base'"):
        load_config(
            write(tmp_path, MINIMAL), ["schedule.cron=0 3 * * *", "schedule.timezone=Mars/Base"]
        )


def test_deployment_parameters_resolve_to_the_same_config(tmp_path: Path) -> None:
    """A deployment's `config` parameter may be the YAML path or the config itself; the
    overrides apply on top of either."""
    from ftkit.config import resolve_config

    path = write(tmp_path, MINIMAL)
    by_path = resolve_config(str(path), ["job.seed=3"])
    by_value = resolve_config(load_config(path).model_dump(mode="json"), ["job.seed=3"])
    assert by_path == by_value and by_path.job.seed == 3


def test_sweep_expands_to_the_grid(tmp_path: Path) -> None:
    """Two values times two values is four trials, each a valid config."""
    text = MINIMAL + (
        "sweep:\n  parameters:\n    job.hyperparameters.n_epochs: [1, 2]\n"
        "    job.hyperparameters.learning_rate_multiplier: [0.05, 0.1]\n"
    )
    trials = expand_sweep(load_config(write(tmp_path, text)))
    assert len(trials) == 4
    assert {(1, 0.05), (1, 0.1), (2, 0.05), (2, 0.1)} == {
        (
            t.config.job.hyperparameters.n_epochs,
            t.config.job.hyperparameters.learning_rate_multiplier,
        )
        for t in trials
    }


def test_cli_validate_prints_errors_without_traceback(tmp_path: Path) -> None:
    """`ftkit config validate` exits 2 with the problems on stderr."""
    path = write(tmp_path, MINIMAL + "jobs: {}\n")
    result = CliRunner().invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 2
    assert "jobs: unknown key" in result.stderr
    assert "Traceback" not in result.output


def test_every_shipped_config_is_valid() -> None:
    """Each YAML under configs/ loads against the schema."""
    for path in sorted(Path(__file__).parent.parent.glob("configs/**/*.yaml")):
        load_config(path)
