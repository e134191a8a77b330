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
