"""`rlgen export`: every kind's model leaves rlgen as ONNX and TorchScript and answers as rlgen does (the command
checks it; these tests check again, on inputs of other batch sizes, outside rlgen: onnxruntime and gymnasium only);
bad requests are one line and never leave a file."""

import gymnasium as gym
import numpy as np
import onnxruntime
import pytest
import torch

import rlgen
from rlgen.errors import RlgenError
from tests.test_cli import assert_one_line_error, invoke

AGENT = {"train.total_steps": 2000, "train.eval_every_steps": 1000, "train.eval_episodes": 2,
         "train.target_return": None, "device": "cpu"}
DATA = {"data.limit": 600, "data.validation": 100, "train.epochs": 1, "device": "cpu"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    made = {}
    for name, config, overrides in [("ppo", "cartpole_ppo", AGENT), ("pendulum", "pendulum_ppo", AGENT),
                                    ("sb3", "cartpole_sb3_ppo", AGENT),
                                    ("cvae", "fashion_cvae", {**DATA, "vae.nll_samples": 2}),
                                    ("mlp", "fashion_mlp", DATA)]:
        made[name] = rlgen.train(config, overrides, run_dir=root / name, quiet=True)
    return made


def play(act, seed: int = 0) -> float:
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(act(obs))
        total, done = total + reward, terminated or truncated
    return total


def test_an_exported_cartpole_policy_plays_in_plain_gymnasium_as_rlgen_does(runs, tmp_path):
    out = tmp_path / "cartpole.onnx"
    report = runs["ppo"].export(out)
    assert report["max_abs_diff"] == 0 and report["signature"] == "obs (N, 4) float32 → action (N,) int64"
    # the README's lines: onnxruntime and gymnasium only
    policy = onnxruntime.InferenceSession(str(out))
    exported = play(lambda obs: int(policy.run(None, {"obs": obs[None].astype(np.float32)})[0][0]))
    ours = rlgen.load(runs["ppo"].path)
    from rlgen.agents.algorithms import load_policy
    from rlgen.agents.evaluate import policy_actor

    actor = policy_actor(load_policy(ours.run, ours.config, torch.device("cpu")), torch.device("cpu"))
    assert exported == play(lambda obs: int(actor(obs[None])[0]))
    batch = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)  # another batch size than traced
    assert policy.run(None, {"obs": batch})[0].shape == (7,)


def test_torchscript_and_onnx_agree_on_a_gaussian_policy(runs, tmp_path):
    runs["pendulum"].export(tmp_path / "p.onnx")
    runs["pendulum"].export(tmp_path / "p.pt", format="torchscript")
    obs = np.random.default_rng(1).uniform(-1, 1, size=(33, 3)).astype(np.float32)
    a = onnxruntime.InferenceSession(str(tmp_path / "p.onnx")).run(None, {"obs": obs})[0]
    with torch.no_grad():
        b = torch.jit.load(str(tmp_path / "p.pt"))(torch.from_numpy(obs)).numpy()
    assert a.shape == (33, 1) and np.abs(a - b).max() < 1e-5 and (np.abs(a) <= 2.0).all()


def test_a_stable_baselines3_policy_exports_as_predict_acts(runs, tmp_path):
    report = runs["sb3"].export(tmp_path / "sb3.onnx")
    assert report["max_abs_diff"] == 0 and report["part"] == "policy"
    obs = np.random.default_rng(2).normal(size=(5, 4)).astype(np.float32)
    from rlgen.agents.sb3_bridge import load_sb3_model

    model = load_sb3_model(runs["sb3"].run, runs["sb3"].config, torch.device("cpu"))
    got = onnxruntime.InferenceSession(str(tmp_path / "sb3.onnx")).run(None, {"obs": obs})[0]
    assert (got == model.predict(obs, deterministic=True)[0]).all()


def test_a_conditional_decoder_draws_the_class_it_is_given(runs, tmp_path):
    cvae = runs["cvae"]
    cvae.export(tmp_path / "dec.pt", format="torchscript", part="decoder")
    cvae.export(tmp_path / "enc.onnx", part="encoder")
    decoder = torch.jit.load(str(tmp_path / "dec.pt"))
    z, labels = torch.randn(3, cvae.config.model.latent), torch.tensor([8, 8, 1])
    model = cvae.kind.load_model(cvae.run, cvae.config, torch.device("cpu"))
    with torch.no_grad():
        images = decoder(z, labels)
        assert torch.allclose(images, model.decode(z, labels), atol=1e-5) and images.shape == (3, 1, 28, 28)
    codings = onnxruntime.InferenceSession(str(tmp_path / "enc.onnx")).run(
        None, {"images": images.numpy(), "labels": labels.numpy()})[0]
    assert codings.shape == (3, cvae.config.model.latent)


def test_a_classifier_exports_its_logits(runs, tmp_path):
    result = invoke("export", runs["mlp"].path, "--format", "torchscript", "--out", tmp_path / "mlp.pt")
    assert result.exit_code == 0 and "logits (N, 10) float32" in result.output, result.output
    x = torch.rand(4, 1, 28, 28)
    model = runs["mlp"].kind.load_model(runs["mlp"].run, runs["mlp"].config, torch.device("cpu"))
    with torch.no_grad():
        assert torch.allclose(torch.jit.load(str(tmp_path / "mlp.pt"))(x), model(x), atol=1e-5)


def test_bad_requests_are_one_line_and_leave_no_file(runs, tmp_path):
    assert_one_line_error(invoke("export", runs["mlp"].path, "--format", "torchscript", "--out", tmp_path / "m.onnx"),
                          1, ".pt")
    assert_one_line_error(invoke("export", runs["cvae"].path, "--out", tmp_path / "c.onnx"), 1, "--part decoder")
    assert_one_line_error(invoke("export", runs["mlp"].path, "--part", "decoder", "--out", tmp_path / "m.onnx"), 1,
                          "--part classifier")
    assert_one_line_error(invoke("export", runs["ppo"].path, "--out", tmp_path / "missing" / "p.onnx"), 1,
                          "does not exist")
    assert list(tmp_path.iterdir()) == []


def test_a_recurrent_policy_is_refused(tmp_path):
    run = rlgen.train("cartpole_masked_ppo", {**AGENT, "train.total_steps": 300}, run_dir=tmp_path / "r", quiet=True)
    with pytest.raises(RlgenError, match="recurrent policy"):
        run.export(tmp_path / "r.onnx")
    assert not (tmp_path / "r.onnx").exists()


def test_a_failed_check_keeps_the_old_file(runs, tmp_path, monkeypatch):
    import rlgen.export

    out = tmp_path / "policy.pt"
    out.write_bytes(b"the user's own file")

    def off(*args):
        raise RlgenError("the exported action differs from rlgen's in 1 of 64 values")

    monkeypatch.setattr(rlgen.export, "compare", off)
    with pytest.raises(RlgenError, match="differs"):
        runs["ppo"].export(out, format="torchscript")
    assert out.read_bytes() == b"the user's own file" and list(tmp_path.iterdir()) == [out]
