"""The velocity-masked CartPole (cart position and pole angle only), recurrent policies side by side in one run.

Time-to-solve: training seconds until a 100-episode greedy evaluation on gymnasium's CartPole-v1, with the same
mask, reaches a mean return ≥ 475, evaluating every 10,000 environment steps for every contender (evaluation time
excluded); also the environment steps used. Contenders, taking turns seed by seed:

- sb3-contrib's RecurrentPPO with rl-baselines3-zoo's hyperparameters for the masked CartPole
  (configs/cartpole_masked_sb3_recurrent_ppo.yaml: 8 envs × 32 steps, batch 256, 20 epochs, γ 0.98, λ 0.8, linear
  lr 1e-3 and clip 0.2, LSTM 64 with a separate critic LSTM, VecNormalize), trained through rlgen's SB3 bridge;
- rlgen's PPO, A2C and REINFORCE with recurrent policies (configs/cartpole_masked_{ppo,a2c,reinforce}.yaml);
- each of those configs without memory (its `recurrent` cores null), which should not solve it: with the
  velocities hidden, memory is what matters. Each control runs its config's own budget.

    .venv/bin/python benchmarks/recurrent.py [--seeds 0 1 2 3 4] [--device cpu] [--skip-sb3] [--skip-controls]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))

from cartpole import TARGET, print_medians, print_schedule, solve_in_turns  # noqa: E402

SB3 = "cartpole_masked_sb3_recurrent_ppo"
OURS = {"cartpole_masked_ppo": ["policy.recurrent=null", "value.recurrent=null"],
        "cartpole_masked_a2c": ["policy.recurrent=null", "value.recurrent=null"],
        "cartpole_masked_reinforce": ["policy.recurrent=null"]}  # config → its feed-forward control's overrides
NO_MEMORY = ", no memory"
WIDTH = 40  # the contender column


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                        help="seeds, each contender taking its turn per seed (five: one seed's steps to solve vary 7x)")
    parser.add_argument("--device", default="cpu", help="rlgen's device (sb3-contrib trains on the CPU, as the zoo)")
    parser.add_argument("--sb3-budget", type=int, default=100_000, help="RecurrentPPO's step budget (the zoo's)")
    parser.add_argument("--skip-controls", action="store_true", help="no feed-forward controls")
    parser.add_argument("--skip-sb3", action="store_true", help="only rlgen's contenders")
    args = parser.parse_args()
    print_schedule(args.device, "gymnasium's CartPole-v1 with velocities hidden", TARGET)

    contenders = {} if args.skip_sb3 else {SB3: (SB3, "cpu", [f"train.total_steps={args.sb3_budget}"])}
    for name, feed_forward in OURS.items():
        contenders[name] = (name, args.device, [])
        if not args.skip_controls:
            contenders[name + NO_MEMORY] = (name, args.device, feed_forward)
    results = solve_in_turns(contenders, args.seeds, WIDTH)
    medians = print_medians(results, SB3, "RecurrentPPO", WIDTH, unrated=tuple(name + NO_MEMORY for name in OURS))
    baseline = medians.get(SB3)
    for name in OURS:
        if baseline and name in results:
            unsolved = [n for n in (SB3, name) if not all(r[0] for r in results[n])]
            note = f" (not solved by every seed: {', '.join(unsolved)}; their seconds are the whole budget)" \
                if unsolved else ""
            print(f"{name} is {baseline / medians[name]:.1f}x faster to solve than sb3-contrib's RecurrentPPO{note}")


if __name__ == "__main__":
    main()
