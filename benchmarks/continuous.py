"""Pendulum-v1, continuous actions: stable-baselines3's PPO and rlgen's Gaussian PPO side by side in one run.

Time-to-solve: training seconds until a 100-episode greedy evaluation on gymnasium's Pendulum-v1 reaches a mean
return ≥ −200, evaluating every 10,000 environment steps for every contender (evaluation time excluded); also the
environment steps used. Contenders, taking turns seed by seed:

- stable-baselines3's PPO with rl-baselines3-zoo's Pendulum-v1 hyperparameters (configs/pendulum_sb3_ppo.yaml:
  4 envs × 1024 steps, batch 64, 10 epochs, γ 0.9, λ 0.95, lr 1e-3, clip 0.2, gSDE resampled every 4 steps),
  trained through rlgen's SB3 bridge on gymnasium's Pendulum, with up to 200k steps (the zoo trains 100k);
- stable-baselines3's SAC with the zoo's Pendulum-v1 settings (configs/pendulum_sb3_sac.yaml: lr 1e-3, SB3's
  defaults otherwise), what SB3's users pick for continuous control, on the same schedule;
- rlgen's PPO (configs/pendulum_ppo.yaml) on its torch Pendulum.

    .venv/bin/python benchmarks/continuous.py [--seeds 0 1 2] [--device cpu] [--skip-sb3] [--skip-sac]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cartpole import print_medians, print_schedule, solve_in_turns  # noqa: E402

SB3 = "pendulum_sb3_ppo"
SAC = "pendulum_sb3_sac"
OURS = "pendulum_ppo"
TARGET = -200.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--device", default="cpu", help="rlgen's device (SB3 trains on the CPU, as the zoo)")
    parser.add_argument("--skip-sb3", action="store_true", help="only rlgen's contender")
    parser.add_argument("--skip-sac", action="store_true", help="without SB3's SAC (about 100 s a seed here)")
    args = parser.parse_args()
    print_schedule(args.device, "gymnasium's Pendulum-v1", TARGET)
    contenders = {} if args.skip_sb3 else {SB3: (SB3, "cpu", [])}
    if not (args.skip_sb3 or args.skip_sac):
        contenders[SAC] = (SAC, "cpu", [])
    contenders[OURS] = (OURS, args.device, [])
    medians = print_medians(solve_in_turns(contenders, args.seeds, 20, TARGET), SB3, "sb3_ppo", 20)
    for name, label in ((SB3, "PPO"), (SAC, "SAC")):
        if name in medians:
            print(f"rlgen's PPO is {medians[name] / medians[OURS]:.1f}x faster to solve than stable-baselines3's "
                  f"{label}")


if __name__ == "__main__":
    main()
