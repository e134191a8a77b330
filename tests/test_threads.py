"""Thread counts chosen on purpose: a request wins, then OMP_NUM_THREADS, then the kind of run; models trained on
data follow the cores other processes leave free; the choice is recorded in meta.json."""

import subprocess
import sys
import time

import pytest
import torch

from rlgen import api
from rlgen.errors import RlgenError
from rlgen.threads import LoadMeter, ThreadPolicy, cpu_count
from tests.conftest import CONFIGS


@pytest.fixture(autouse=True)
def keep_torch_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_a_request_wins_then_the_environment_then_the_kind(monkeypatch):
    assert ThreadPolicy(3, adaptive=True).describe()["threads_from"] == "--threads"
    assert torch.get_num_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert (ThreadPolicy(None, adaptive=False).count, ThreadPolicy(None, adaptive=False).source) == (2, "OMP_NUM_THREADS")
    assert ThreadPolicy(1, adaptive=False).count == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "lots")
    with pytest.raises(RlgenError, match="OMP_NUM_THREADS='lots' is not a thread count"):
        ThreadPolicy(None, adaptive=True)
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert ThreadPolicy(None, adaptive=False).count == 1  # agents


def busy():
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.5)
    return proc


def test_the_load_meter_sees_a_busy_neighbour():
    meter = LoadMeter()
    proc = busy()
    try:
        meter.others()
        time.sleep(0.5)
        seen = meter.others()
    finally:
        proc.kill()
        proc.wait()
    assert seen is not None and seen >= 0.5  # about one core's worth


@pytest.mark.skipif(cpu_count() != 2, reason="checks the 2-core machine's choice")
def test_beside_a_busy_process_data_models_take_the_free_core_only():
    proc = busy()
    try:
        assert ThreadPolicy(None, adaptive=True).count == 1
    finally:
        proc.kill()
        proc.wait()


def test_the_choice_is_recorded(tmp_path, tiny_agent_overrides):
    agent = api.train(CONFIGS / "cartpole_a2c.yaml", tiny_agent_overrides, run_dir=tmp_path / "a", quiet=True)
    assert agent.meta.info["threads"] == 1 and agent.meta.info["threads_from"] == "one thread for this kind of run"
    model = api.train(CONFIGS / "fashion_stacked_ae.yaml", {"data.limit": 600, "data.validation": 100,
                                                          "train.epochs": 1}, run_dir=tmp_path / "b", quiet=True,
                      threads=2)
    assert model.meta.info["threads"] == 2 and model.metrics()[-1]["time/threads"] == 2


def test_the_callers_thread_count_is_restored(tmp_path, tiny_agent_overrides):
    torch.set_num_threads(2)
    api.train(CONFIGS / "cartpole_a2c.yaml", tiny_agent_overrides, run_dir=tmp_path / "a", quiet=True)
    assert torch.get_num_threads() == 2


def test_evaluation_chooses_its_threads_too_and_gives_the_callers_back(tmp_path, tiny_agent_overrides, monkeypatch):
    agent = api.train(CONFIGS / "cartpole_a2c.yaml", tiny_agent_overrides, run_dir=tmp_path / "a", quiet=True)
    seen = []
    evaluate = agent.kind.evaluate
    monkeypatch.setattr(agent.kind, "evaluate", lambda *a, **k: seen.append(torch.get_num_threads()) or evaluate(*a, **k))
    torch.set_num_threads(2)
    agent.evaluate(episodes=2, device="cpu")  # an agent: one thread
    agent.evaluate(episodes=2, device="cpu", threads=3)
    assert seen == [1, 3] and torch.get_num_threads() == 2
    with pytest.raises(RlgenError, match="--threads 0"):
        agent.evaluate(episodes=2, threads=0)
    assert torch.get_num_threads() == 2
