"""Without asking for a language model, nothing imports torch (the `lm` extra stays optional)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_the_fast_backend_trains_and_serves_without_importing_torch(tmp_path: Path) -> None:
    """A fast-learner job trained and a completion served in one process: torch never loads."""
    rows = "".join(
        f'{{"prompt": "review {i} {"good" if i % 2 else "bad"} ->", "completion": " {"pos" if i % 2 else "neg"}"}}\n'
        for i in range(20)
    )
    (tmp_path / "train.jsonl").write_text(rows)
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from ftkit.backend import training
        from ftkit.backend.app import create_app
        from ftkit.backend.settings import BackendSettings
        create_app(BackendSettings(data_dir=Path({str(tmp_path / "data")!r})))
        hp = training.resolve_hyperparameters(20, n_epochs=1)
        request = training.TrainingRequest(
            train_path=Path({str(tmp_path / "train.jsonl")!r}), base_model="babbage-002",
            hyperparameters=hp,
        )
        outcome = training.train(request, out_dir=Path({str(tmp_path)!r}))
        training.load_model(outcome.model_path).complete(["review 3 good ->"], max_tokens=2)
        print(sorted(m for m in ("torch", "transformers", "peft") if m in sys.modules))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
