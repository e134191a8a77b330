"""The GPU paths, run by `make gpu-check` on a machine with CUDA (skipped without one): autoencoders and the
classifier with bf16 autocast, the torch CartPole, an agent and a batch of seeds on the GPU, CPU = GPU for the
environment, and data-parallel training on NCCL where there is more than one GPU."""

import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from rlgen import api
from tests.conftest import CONFIGS

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
TINY_DATA = {"data.limit": 2000, "data.validation": 500, "train.epochs": 2}


@pytest.mark.parametrize("config", ["fashion_vae", "fashion_conv_vae", "fashion_cvae", "fashion_cnn"])
def test_data_models_train_on_the_gpu_in_bf16(config, tmp_path):
    run = api.train(CONFIGS / f"{config}.yaml", {**TINY_DATA, "train.precision": "bf16"}, device="cuda",
                    run_dir=tmp_path / "run", quiet=True)
    assert run.result.progress == 2 and run.meta.info["precision"] == "torch.bfloat16"
    rows = run.metrics()
    assert rows[-1]["train/loss"] < rows[0]["train/loss"] or config == "fashion_cnn"
    report = run.evaluate(device="cuda", nll_samples=10)
    assert all(v == v for v in report.values() if isinstance(v, float))  # no NaN


def test_the_torch_cartpole_steps_alike_on_cpu_and_gpu():
    from rlgen.envs.torch_cartpole import TorchCartPoleVectorEnv

    cpu, gpu = TorchCartPoleVectorEnv(64, "cpu"), TorchCartPoleVectorEnv(64, "cuda")
    obs_cpu, _ = cpu.reset(seed=3)
    obs_gpu, _ = gpu.reset(seed=3)
    assert torch.allclose(torch.as_tensor(obs_cpu), torch.as_tensor(obs_gpu).cpu(), atol=1e-6)
    for _ in range(50):
        actions = torch.randint(0, 2, (64,))
        a = cpu.step(actions)
        b = gpu.step(actions.cuda())
        assert torch.allclose(torch.as_tensor(a[0]), torch.as_tensor(b[0]).cpu(), atol=1e-4)


def test_an_agent_solves_on_the_gpu(tmp_path):
    run = api.train(CONFIGS / "cartpole_a2c.yaml", device="cuda", run_dir=tmp_path / "a2c", quiet=True)
    assert run.result.status == "solved"


def test_batched_seeds_solve_on_the_gpu(tmp_path):
    runs = api.train_seeds(CONFIGS / "cartpole_reinforce.yaml", list(range(8)), device="cuda", run_dir=tmp_path,
                           quiet=True)
    assert sum(run.result.status == "solved" for run in runs) >= 7


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="data parallelism on NCCL needs two GPUs")
def test_two_gpus_on_nccl_reach_the_weights_of_one(tmp_path):
    args = ["--set", "data.limit=600", "--set", "data.validation=88", "--set", "train.batch_size=64", "--set",
            "train.epochs=2", "--set", "model.layers=[{type: flatten}, {type: dense, units: 32}]", "--quiet",
            "--device", "cuda"]
    for name, nproc in (("one", 1), ("two", 2)):
        done = subprocess.run([sys.executable, "-m", "rlgen", "train", str(CONFIGS / "fashion_mlp.yaml"), *args,
                               "--run-dir", str(tmp_path / name), "--nproc", str(nproc)], capture_output=True,
                              text=True, check=False)
        assert done.returncode == 0, done.stderr
    a, b = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)
