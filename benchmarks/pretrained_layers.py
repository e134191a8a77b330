"""Reusing pretrained layers: does an encoder trained without labels help a classifier that has few labels?

1. A stacked autoencoder (configs/fashion_stacked_ae.yaml: 784-300-150, ELU) is trained on all 60,000 training
   images without their labels (`data.validation: 0`).
2. Classifiers of the same shape, 784-300-150 (ELU) → dense 128 (ReLU) → 10, are trained on 600, 6,000 or 60,000
   labelled images (a random subset per seed, the same for every arm), in three arms:
   - scratch: every layer starts random;
   - frozen: the autoencoder's encoder as fixed lower layers, their outputs computed once and cached;
   - fine-tuned: the encoder as starting weights, trained with the rest.
   Every arm trains for the same number of optimizer steps per label count (batch 32, Adam 1e-3 decaying linearly
   to 0) with no validation split (there are no spare labels); the final test accuracy is reported.
3. Prints mean ± std over seeds, and seconds per epoch with 60,000 labels (frozen with cache vs fine-tuned), and
   writes pretrained_layers.csv and pretrained_layers.png into --out.

    .venv/bin/python benchmarks/pretrained_layers.py [--seeds 0 1 2] [--labels 600 6000 60000] [--out runs/study]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlgen import api  # noqa: E402
from rlgen.atomic import atomic_output  # noqa: E402

ENCODER = [{"type": "flatten"}, {"type": "dense", "units": 300, "activation": "elu"},
           {"type": "dense", "units": 150, "activation": "elu"}]
TOP = [{"type": "dense", "units": 128}]
STEPS = 20_000  # optimizer steps per classifier: ~10.7 epochs of 60,000 images at batch 32
ARMS = ("scratch", "frozen", "fine-tuned")


def arm_overrides(arm: str, encoder_run: Path, labels: int, device: str) -> dict:
    epochs = max(1, round(STEPS * 32 / labels))
    common = {"device": device, "data.validation": 0, "data.train_subset": None if labels >= 60_000 else labels,
              "train.epochs": min(epochs, 200), "train.batch_size": 32}
    if arm == "scratch":
        return {**common, "model.layers": ENCODER + TOP}
    return {**common, "model.layers": TOP,
            "pretrained": {"run": str(encoder_run), "module": "encoder", "freeze": arm == "frozen", "cache": True}}


def plot(results: dict, labels: list[int], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for arm in ARMS:
        means = [statistics.mean(results[arm, n]) for n in labels]
        stds = [statistics.pstdev(results[arm, n]) for n in labels]
        ax.errorbar(labels, [100 * m for m in means], yerr=[100 * s for s in stds], marker="o", capsize=3, label=arm)
    ax.set_xscale("log")
    ax.set_xticks(labels, [f"{n:,}" for n in labels])
    ax.set_xlabel("labelled training images")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Fashion-MNIST: classifier on an autoencoder's encoder")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_output(out) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--labels", type=int, nargs="+", default=[600, 6000, 60000])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("runs/study-pretrained"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads; runs in {args.out}")

    encoder_dir = args.out / "encoder"
    if not (encoder_dir / "model.safetensors").is_file():
        api.train(ROOT / "configs" / "fashion_stacked_ae.yaml", {"device": args.device, "data.validation": 0},
                  run_dir=encoder_dir, quiet=True)
    encoder = api.load(encoder_dir)
    print(f"encoder: stacked autoencoder on all 60,000 training images, test MSE "
          f"{encoder.evaluate(device=args.device)['test_mse_per_pixel']:.5f}")

    results: dict[tuple[str, int], list[float]] = {}
    epoch_seconds: dict[str, list[float]] = {arm: [] for arm in ARMS}
    rows = []
    print(f"{'labels':>7} {'arm':<11} {'seed':>4} {'epochs':>6} {'test acc':>8} {'s/epoch':>8}")
    for labels in args.labels:
        for seed in args.seeds:
            for arm in ARMS:
                run_dir = args.out / f"{labels}-{arm}-seed{seed}"
                if (run_dir / "meta.json").is_file():
                    run = api.load(run_dir)
                else:
                    run = api.train(ROOT / "configs" / "fashion_mlp.yaml", arm_overrides(arm, encoder_dir, labels,
                                                                                         args.device),
                                    seed=seed, run_dir=run_dir, quiet=True)
                accuracy = run.evaluate(device=args.device)["test_accuracy"]
                per_epoch = statistics.median(row["time/epoch_seconds"] for row in run.metrics())
                results.setdefault((arm, labels), []).append(accuracy)
                if labels == max(args.labels):
                    epoch_seconds[arm].append(per_epoch)
                rows.append({"labels": labels, "arm": arm, "seed": seed, "epochs": run.config.train.epochs,
                             "test_accuracy": accuracy, "seconds_per_epoch": per_epoch})
                print(f"{labels:>7,} {arm:<11} {seed:>4} {run.config.train.epochs:>6} {accuracy:>8.4f} "
                      f"{per_epoch:>8.2f}", flush=True)

    print(f"\ntest accuracy, mean ± std over seeds {', '.join(map(str, args.seeds))}")
    print(f"{'labels':>7} " + " ".join(f"{arm:>16}" for arm in ARMS))
    for labels in args.labels:
        cells = [f"{100 * statistics.mean(results[arm, labels]):.2f} ± {100 * statistics.pstdev(results[arm, labels]):.2f}"
                 for arm in ARMS]
        print(f"{labels:>7,} " + " ".join(f"{c:>16}" for c in cells))
    frozen, tuned = statistics.median(epoch_seconds["frozen"]), statistics.median(epoch_seconds["fine-tuned"])
    print(f"\nseconds per epoch with {max(args.labels):,} labels: frozen with cache {frozen:.2f}, fine-tuned {tuned:.2f}, "
          f"scratch {statistics.median(epoch_seconds['scratch']):.2f} ({tuned / frozen:.1f}x faster frozen)")
    few = min(args.labels)
    gain = statistics.mean(results["fine-tuned", few]) - statistics.mean(results["scratch", few])
    gain_frozen = statistics.mean(results["frozen", few]) - statistics.mean(results["scratch", few])
    print(f"with {few:,} labels: fine-tuned − scratch = {100 * gain:+.2f} points, frozen − scratch = "
          f"{100 * gain_frozen:+.2f} points")

    with atomic_output(args.out / "pretrained_layers.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(results, args.labels, args.out / "pretrained_layers.png")
    print(f"wrote {args.out / 'pretrained_layers.csv'} and {args.out / 'pretrained_layers.png'}")


if __name__ == "__main__":
    main()
