#!/usr/bin/env bash
# What `make wheel-check` runs once it has built the wheel and installed it into a fresh virtual environment:
# a user with only the wheel, in a folder that is not the clone, lists, shows, trains every kind of run (by the
# shipped configs' names), evaluates, samples, renders and exports. Usage: .ci/wheel-check.sh WHEEL_DIR (holding venv/ and
# the wheel; the commands run there).
set -euo pipefail
cd "$1"
bin=venv/bin
export SDL_VIDEODRIVER="${SDL_VIDEODRIVER:-dummy}"

# one top-level package: every file of the wheel is under rlgen/ or its .dist-info
$bin/python - rlgen-*.whl <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
tops = sorted({n.split("/")[0] for n in names})
info = [t for t in tops if t.endswith(".dist-info")]
assert tops == ["rlgen", *info] and len(info) == 1, f"the wheel puts more than rlgen in site-packages: {tops}"
top_level = [n for n in names if n.endswith("top_level.txt")]
assert not top_level or zipfile.ZipFile(sys.argv[1]).read(top_level[0]).split() == [b"rlgen"]
for needed in ("rlgen/agents/loop.py", "rlgen/envs/torch_cartpole.py", "rlgen/configs/cartpole_ppo.yaml",
               "rlgen/configs/sweeps/fashion_optimizers.yaml"):
    assert needed in names, f"{needed} is missing from the wheel"
print(f"wheel check: {len(names)} files, all under rlgen/ and {info[0]}")
EOF
$bin/python -m pip check

$bin/rlgen configs > configs.txt && head -3 configs.txt && grep -q "^sweeps/tune_cartpole_ppo" configs.txt
$bin/rlgen configs show cartpole_ppo > my_ppo.yaml
$bin/rlgen train my_ppo.yaml --check
tiny_data=(--set data.limit=600 --set data.validation=100 --set train.epochs=1)
tiny_agent=(--set train.total_steps=512 --set train.eval_every_steps=256 --set train.eval_episodes=2
            --set train.target_return=null)
$bin/rlgen train cartpole_reinforce --run-dir agent --quiet "${tiny_agent[@]}"
$bin/rlgen train cartpole_sb3_ppo --run-dir sb3 --quiet "${tiny_agent[@]}"
$bin/rlgen train fashion_stacked_ae --run-dir ae --quiet "${tiny_data[@]}"
$bin/rlgen train fashion_vae --run-dir vae --quiet "${tiny_data[@]}" --set vae.nll_samples=2
$bin/rlgen train fashion_mlp --run-dir mlp --quiet "${tiny_data[@]}"
$bin/rlgen train series_linear --run-dir series --quiet --set data.series=300 --set data.train=200 \
    --set data.validation=50 --set train.epochs=1
$bin/rlgen evaluate agent --episodes 2
$bin/rlgen evaluate sb3 --episodes 2
$bin/rlgen evaluate series
$bin/rlgen render agent --out agent.gif
$bin/rlgen sample vae --out samples.png
$bin/rlgen export agent --out agent.onnx
$bin/rlgen export vae --part decoder --format torchscript --out decoder.pt
$bin/rlgen export mlp --out mlp.onnx
$bin/python - <<'EOF'
# the README's lines: an exported CartPole policy in a plain gymnasium loop, without rlgen
import gymnasium as gym, onnxruntime
policy, env = onnxruntime.InferenceSession("agent.onnx"), gym.make("CartPole-v1")
obs, _ = env.reset(seed=0)
for step in range(500):
    obs, reward, terminated, truncated, _ = env.step(int(policy.run(None, {"obs": obs[None]})[0][0]))
    if terminated or truncated:
        break
print(f"wheel check: the exported policy played {step + 1} steps")
EOF
$bin/python - <<'EOF'
import rlgen
assert "site-packages" in rlgen.__file__, rlgen.__file__
print("wheel check: rlgen", rlgen.__version__, "from", rlgen.__file__)
print(rlgen.load("ae").evaluate(device="cpu"))
print(rlgen.load("mlp").evaluate(device="cpu"))
print(rlgen.load("agent").evaluate(episodes=2))
EOF
test -s agent.gif && test -s samples.png && test -s decoder.pt && test -s mlp.onnx
echo "wheel check: passed"
