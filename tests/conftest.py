import os
from pathlib import Path

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame renders off-screen in tests

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


@pytest.fixture
def tiny_agent_overrides() -> list[str]:
    """A budget small enough for smoke tests: a couple of iterations and one short evaluation."""
    return [
        "train.total_steps=600",
        "train.eval_every_steps=300",
        "train.eval_episodes=3",
        "train.target_return=null",
        "env.num_envs=4",
    ]


def fix_threads(monkeypatch) -> None:
    """One thread for every run of a test that compares runs bit for bit: a data kind otherwise picks its threads
    from the machine's load before every epoch, and another thread count sums floats in another order."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def train_interrupted_at_epoch_two(train, monkeypatch) -> None:
    """Call `train` (an epoch-trained run) with a Ctrl-C right after epoch 2 is logged; expect TrainingInterrupted."""
    from rlgen.errors import TrainingInterrupted
    from rlgen.metrics import MetricsLogger

    original = MetricsLogger.log

    def crash_at_epoch_two(self, step, metrics):
        original(self, step, metrics)
        if step == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(MetricsLogger, "log", crash_at_epoch_two)
    with pytest.raises(TrainingInterrupted):
        train()
    monkeypatch.setattr(MetricsLogger, "log", original)


def assert_resume_equals_uninterrupted(config: Path, overrides: list[str], tmp_path: Path, monkeypatch) -> None:
    """Train `config` whole, then again with a Ctrl-C after epoch 2 and `rlgen resume`: the two runs' best weights
    and final checkpoints must be equal bit for bit (the epoch trainer's resume, on the CPU)."""
    import torch
    from safetensors.torch import load_file

    from rlgen import api

    fix_threads(monkeypatch)
    whole = api.train(config, overrides, run_dir=tmp_path / "whole", quiet=True)
    # the same precision as the whole run's (`auto` measures at each run's creation, and could choose otherwise)
    chosen = "bf16" if whole.meta.info["precision"] == "torch.bfloat16" else "fp32"
    overrides = [*overrides, f"train.precision={chosen}"]
    train_interrupted_at_epoch_two(lambda: api.train(config, overrides, run_dir=tmp_path / "broken", quiet=True),
                                   monkeypatch)
    api.resume(tmp_path / "broken", quiet=True)
    for name in ("model.safetensors", "checkpoint.safetensors"):
        a, b = load_file(tmp_path / "whole" / name), load_file(tmp_path / "broken" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def leave_and_exit() -> None:
    """The end of an `mp.spawn` worker that joined a gloo group: leave the group, then exit at once. CI once saw a
    worker abort in the interpreter's teardown ("terminate called without an active exception", SIGABRT) after its
    work was done and saved; skipping the teardown keeps that from failing a test whose result is already written."""
    import sys

    from rlgen.distributed import leave

    leave()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
