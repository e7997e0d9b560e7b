"""The sweep folder: runs/<experiment>/sweeps/<sweep-id>/ with sweep.json (the plan),
flow_run.json (the parent flow run working on it) and the leaderboard (leaderboard.json, .md, .html, plots/*.png). The trials' own folders stay where
every run's folder is, runs/<experiment>/<run-id>/."""

from __future__ import annotations

from pathlib import Path

from ftkit.config import ExperimentConfig
from ftkit.errors import ConfigError
from ftkit.runs.atomic import read_json, write_bytes_atomic, write_json_atomic
from ftkit.sweeps.leaderboard import Leaderboard, build_leaderboard
from ftkit.sweeps.pages import PLOTS_DIR, render_html, render_markdown, render_plots
from ftkit.sweeps.search import SweepPlan, expand_sweep, plan_sweep

SWEEPS_DIR = "sweeps"


class SweepFolder:
    """One sweep's folder under the runs directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    plan_json = property(lambda self: self.path / "sweep.json")
    flow_run_json = property(lambda self: self.path / "flow_run.json")
    leaderboard_json = property(lambda self: self.path / "leaderboard.json")
    leaderboard_md = property(lambda self: self.path / "leaderboard.md")
    leaderboard_html = property(lambda self: self.path / "leaderboard.html")

    @property
    def runs_dir(self) -> Path:
        """The runs directory (runs/<experiment>/sweeps/<id> → runs)."""
        return self.path.parent.parent.parent

    @classmethod
    def for_plan(cls, runs_dir: Path, plan: SweepPlan) -> SweepFolder:
        """Create (or reuse) the folder of this sweep and write its plan."""
        folder = cls((runs_dir / plan.experiment / SWEEPS_DIR / plan.sweep_id).resolve())
        write_json_atomic(folder.plan_json, plan.model_dump(mode="json"))
        return folder

    @classmethod
    def of_config(cls, config: ExperimentConfig) -> SweepFolder:
        """The folder of the sweep this config asks for (its trials' run keys name it)."""
        plan = plan_sweep(config, expand_sweep(config))
        folder = cls((config.runs_dir / plan.experiment / SWEEPS_DIR / plan.sweep_id).resolve())
        if not folder.plan_json.is_file():
            msg = f"sweep {plan.sweep_id} of this config has not run yet (no {folder.plan_json})."
            raise ConfigError(msg)
        return folder

    @classmethod
    def open(cls, ref: str, runs_dir: Path = Path("runs")) -> SweepFolder:
        """A sweep by folder path, id (or a unique prefix), or experiment/id."""
        if (Path(ref) / "sweep.json").is_file():
            return cls(Path(ref).resolve())
        experiment, _, prefix = ref.rpartition("/")
        pattern = f"{experiment or '*'}/{SWEEPS_DIR}/{prefix}*/sweep.json"
        matches = sorted(runs_dir.glob(pattern))
        if not matches:
            msg = f"no sweep {ref!r} under {runs_dir}; the sweep id is printed by `ftkit run`."
            raise ConfigError(msg)
        if len(matches) > 1:
            names = ", ".join(f"{p.parent.parent.parent.name}/{p.parent.name}" for p in matches)
            msg = f"sweep {ref!r} is ambiguous ({names}); give more of the id."
            raise ConfigError(msg)
        return cls(matches[0].parent.resolve())

    def flow_run_id(self) -> str | None:
        """The parent flow run that last worked on this sweep, if any."""
        if not self.flow_run_json.is_file():
            return None
        return str(read_json(self.flow_run_json)["flow_run_id"])

    def record_flow_run(self, flow_run_id: str) -> None:
        """Remember the parent flow run now working on this sweep."""
        write_json_atomic(self.flow_run_json, {"flow_run_id": flow_run_id})

    def load_plan(self) -> SweepPlan:
        """sweep.json as a SweepPlan."""
        return SweepPlan.model_validate(read_json(self.plan_json))

    def leaderboard(self) -> Leaderboard:
        """The leaderboard as the trials' run folders say now (nothing written)."""
        return build_leaderboard(self.load_plan(), self.runs_dir)

    def write_leaderboard(self, board: Leaderboard) -> None:
        """leaderboard.json, .md and .html (with its plots, also under plots/)."""
        images = render_plots(board, self.runs_dir)
        for name, png in images.items():
            write_bytes_atomic(self.path / PLOTS_DIR / f"{name}.png", png)
        write_json_atomic(self.leaderboard_json, board.model_dump(mode="json"))
        write_bytes_atomic(self.leaderboard_md, render_markdown(board, images).encode())
        write_bytes_atomic(self.leaderboard_html, render_html(board, images).encode())
