"""CartPole-v1, all contenders in one process on one machine.

1. Time-to-solve: wall seconds of training until a 100-episode greedy evaluation on gymnasium's CartPole-v1 reaches a
   mean return ≥ 475, evaluating every 10,000 environment steps for every contender (evaluation time excluded);
   also the environment steps used. Contenders: stable-baselines3 PPO with the rl-baselines3-zoo CartPole-v1
   hyperparameters (configs/cartpole_sb3_ppo.yaml: 8 envs, n_steps 32, batch 256, gae_lambda 0.8, gamma 0.98,
   20 epochs, ent_coef 0, linear lr 1e-3, linear clip 0.2), trained through rlgen's SB3 bridge, and rlgen's shipped
   REINFORCE, A2C and PPO configs. Seeds 0, 1, 2 by default.
2. Raw environment throughput: steps/s of rlgen's torch CartPole (eager, and compiled with torch.compile) and of
   gymnasium's numpy CartPole vector env with 4096 copies and random actions, taking turns.

    .venv/bin/python benchmarks/cartpole.py [--seeds 0 1 2] [--device cpu] [--skip-sb3] [--envs 4096]
    .venv/bin/python benchmarks/cartpole.py --throughput-only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlgen.envs.torch_cartpole import TorchCartPoleVectorEnv  # noqa: E402
from rlgen import api  # noqa: E402
from rlgen.errors import RlgenError  # noqa: E402

EVAL_EVERY = 10_000
EVAL_EPISODES = 100
TARGET = 475.0
OURS = ("cartpole_reinforce", "cartpole_a2c", "cartpole_ppo")
SB3 = "cartpole_sb3_ppo"  # stable-baselines3 PPO with the zoo's CartPole-v1 hyperparameters


def time_to_solve(config: str, seed: int, device: str, extra: list[str], target: float = TARGET
                  ) -> tuple[bool, int, float]:
    """Train a shipped config (rlgen's loop, or SB3 through rlgen's bridge: the same evaluation schedule code)."""
    overrides = [f"seed={seed}", f"device={device}", f"train.eval_every_steps={EVAL_EVERY}",
                 f"train.eval_episodes={EVAL_EPISODES}", f"train.target_return={target}", *extra]
    with tempfile.TemporaryDirectory() as tmp:
        result = api.train(ROOT / "configs" / f"{config}.yaml", overrides, run_dir=Path(tmp) / "run", quiet=True).result
    return result.solved, result.progress, result.train_seconds


def throughput(num_envs: int, device: str, steps: int = 300, rounds: int = 5) -> tuple[dict[str, float], float]:
    """Median steps/s (env steps = copies × calls) of rlgen's torch CartPole, eager and compiled, and of gymnasium's
    numpy vector env, taking turns; also the seconds the compiled env's first step took (compilation)."""
    import gymnasium as gym

    eager = TorchCartPoleVectorEnv(num_envs, device)
    compiled = TorchCartPoleVectorEnv(num_envs, device, compile=True)
    theirs = gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")
    for env in (eager, compiled, theirs):
        env.reset(seed=0)
    started = time.perf_counter()
    try:
        compiled.step(torch.zeros(num_envs, dtype=torch.int64, device=device))
    except RlgenError as exc:  # no C++ compiler, say: measure the others
        print(f"torch compiled: skipped ({exc})")
        compiled = None
    compile_seconds = time.perf_counter() - started
    rng = np.random.default_rng(0)
    generator = torch.Generator(device=device).manual_seed(0)

    def run_torch(env: TorchCartPoleVectorEnv) -> float:
        started = time.perf_counter()
        for _ in range(steps):
            env.step(torch.randint(0, 2, (num_envs,), device=device, generator=generator))
        if env.device.type == "cuda":
            torch.cuda.synchronize()
        return num_envs * steps / (time.perf_counter() - started)

    def run_gymnasium() -> float:
        started = time.perf_counter()
        for _ in range(steps):
            theirs.step(rng.integers(0, 2, num_envs))
        return num_envs * steps / (time.perf_counter() - started)

    contenders = {"torch eager": lambda: run_torch(eager), "torch compiled": lambda: run_torch(compiled),
                  "gymnasium numpy": run_gymnasium}
    if compiled is None:
        del contenders["torch compiled"]
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for round_ in range(rounds + 1):  # round 0 warms up
        for name, run in contenders.items():
            rate = run()
            if round_:
                samples[name].append(rate)
    return {name: statistics.median(rates) for name, rates in samples.items()}, compile_seconds


Outcome = tuple[bool, int, float]  # solved, env steps, training seconds


def print_schedule(device: str, task: str, target: float) -> None:
    """The two header lines of a time-to-solve table: where it runs and what "solved" means."""
    print(f"device {device}, torch {torch.__version__}; training threads: rlgen's choice (one for agents)")
    print(f"solved = greedy {EVAL_EPISODES}-episode mean ≥ {target:.0f} on {task}, evaluated every {EVAL_EVERY:,} "
          "steps, evaluation excluded")


def solve_in_turns(contenders: dict[str, tuple[str, str, list[str]]], seeds: list[int], width: int,
                   target: float = TARGET) -> dict[str, list[Outcome]]:
    """Each contender (name → config, device, overrides) trains once per seed, taking turns seed by seed; one row
    printed per run."""
    results: dict[str, list[Outcome]] = {name: [] for name in contenders}
    print(f"{'contender':<{width}} {'seed':>4} {'solved':>6} {'env steps':>10} {'train s':>8}")
    for seed in seeds:
        for name, (config, device, extra) in contenders.items():
            outcome = time_to_solve(config, seed, device, extra, target)
            results[name].append(outcome)
            print(f"{name:<{width}} {seed:>4} {str(outcome[0]):>6} {outcome[1]:>10,} {outcome[2]:>8.2f}", flush=True)
    return results


def print_medians(results: dict[str, list[Outcome]], baseline: str, label: str, width: int,
                  unrated: tuple[str, ...] = ()) -> dict[str, float]:
    """Solved counts, median steps and seconds, and the baseline's median seconds over each contender's (none for
    the baseline's absence or a name in `unrated`) under the heading "`label` s / this"; returns the medians."""
    label = f"{label} s / this"
    print(f"\n{'contender':<{width}} {'solved':>6} {'median steps':>13} {'median s':>9} {label:>{len(label) + 1}}")
    medians = {name: statistics.median(r[2] for r in rows) for name, rows in results.items()}
    for name, rows in results.items():
        solved = sum(r[0] for r in rows)
        steps = statistics.median(r[1] for r in rows)
        rated = baseline in medians and name not in unrated
        ratio = f"{medians[baseline] / medians[name]:.1f}x" if rated else "-"
        print(f"{name:<{width}} {solved:>4}/{len(rows)} {steps:>13,.0f} {medians[name]:>9.2f} "
              f"{ratio:>{len(label) + 1}}")
    return medians


def time_to_solve_table(args: argparse.Namespace) -> None:
    print(f"solved = greedy {EVAL_EPISODES}-episode mean ≥ {TARGET:.0f}, evaluated every {EVAL_EVERY:,} steps, "
          "evaluation excluded")
    # SB3 on the CPU, as in the zoo; its budget from --sb3-budget
    contenders = {} if args.skip_sb3 else {SB3: (SB3, "cpu", [f"train.total_steps={args.sb3_budget}"])}
    contenders.update({name: (name, args.device, []) for name in OURS})
    print_medians(solve_in_turns(contenders, args.seeds, 20), SB3, "sb3_ppo", 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--envs", type=int, default=4096, help="copies for the throughput test")
    parser.add_argument("--sb3-budget", type=int, default=300_000, help="SB3 PPO's step budget")
    parser.add_argument("--skip-sb3", action="store_true", help="only rlgen's agents and the throughput test")
    parser.add_argument("--throughput-only", action="store_true", help="only the raw environment throughput")
    args = parser.parse_args()
    print(f"device {args.device}, torch {torch.__version__}; training threads: rlgen's choice (one for agents)")
    if not args.throughput_only:
        time_to_solve_table(args)

    rates, compile_seconds = throughput(args.envs, args.device)
    compiled_note = ""
    if "torch compiled" in rates:
        compiled_note = f" (torch compiled: first step compiled in {compile_seconds:.1f} s)"
    print(f"\nthroughput, {args.envs} envs, random actions, {torch.get_num_threads()} threads, median of 5 turns"
          f"{compiled_note}")
    print(f"{'env':<38} {'steps/s':>12} {'/ gymnasium':>12}")
    labels = {"torch eager": f"rlgen torch CartPole ({args.device})",
              "torch compiled": f"rlgen torch CartPole ({args.device}, compiled)",
              "gymnasium numpy": "gymnasium CartPoleVectorEnv (numpy)"}
    for name, rate in rates.items():
        print(f"{labels[name]:<38} {rate:>12,.0f} {rate / rates['gymnasium numpy']:>11.2f}x")


if __name__ == "__main__":
    main()
