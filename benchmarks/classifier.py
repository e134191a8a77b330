"""One epoch of the lab's classifier (Flatten → Dense 128 ReLU → Dense 128 ReLU → Dense 10, batch 32, Adam 1e-3) on
all 60,000 Fashion-MNIST training images, trained several ways side by side in one process:

- dataset items: a plain PyTorch loop: a per-item Dataset that turns each uint8 image into a float tensor in [0, 1]
  the way torchvision's FashionMNIST + transforms.ToTensor() do (through a PIL image), torch's DataLoader with
  shuffling, nn.CrossEntropyLoss and torch.optim.Adam;
- tensor dataset: the same loop over a TensorDataset of float images (no per-item conversion), a stricter
  comparison;
- rlgen fp32 and rlgen at the default `train.precision: auto`: what `rlgen train configs/fashion_mlp.yaml` runs (the
  model built from that config, uint8 tensors sliced from a shuffled copy, the core's optimizer).

Contenders take turns epoch by epoch after one untimed round, and the median epoch of each is reported, so that the
shared machine's noise hits all of them.

    .venv/bin/python benchmarks/classifier.py [--repeats 5] [--device cpu] [--batch 32]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlgen.classifiers.kind import KIND  # noqa: E402
from rlgen.config import load_config  # noqa: E402
from rlgen.data import IMAGE_SHAPE, NUM_CLASSES, Split  # noqa: E402
from rlgen.idx_data import load_image_set  # noqa: E402
from rlgen.optim import TrainingOptimizer  # noqa: E402
from benchmarks.turns import print_ratios, rlgen_epochs, take_turns  # noqa: E402
from rlgen.registry import schemas  # noqa: E402


class ToTensorItems(Dataset):
    """One image at a time: uint8 array → PIL image → float tensor (1, H, W) in [0, 1], as torchvision does."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images, self.labels = images.view(-1, *IMAGE_SHAPE[1:]).numpy(), labels.numpy()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        from PIL import Image

        picture = Image.fromarray(self.images[i], mode="L")
        pixels = torch.from_numpy(np.array(picture, np.uint8, copy=True)).unsqueeze(0)
        return pixels.float().div(255), int(self.labels[i])


def lab_model() -> nn.Module:
    pixels = int(np.prod(IMAGE_SHAPE))
    return nn.Sequential(nn.Flatten(), nn.Linear(pixels, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, NUM_CLASSES))


def plain_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, loader: DataLoader, device: torch.device) -> None:
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="epochs timed per contender (alternating)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    data = load_image_set(validation=1)
    images, labels = torch.cat([data.train_x, data.val_x]), torch.cat([data.train_y, data.val_y])  # all 60,000

    contenders = {}
    datasets = {"dataset items": ToTensorItems(images, labels),
                "tensor dataset": TensorDataset(images.float().div(255), labels)}
    for name, dataset in datasets.items():
        model = lab_model().to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        loader = DataLoader(dataset, batch_size=args.batch, shuffle=True)
        contenders[name] = lambda m=model, o=optimizer, ld=loader: plain_epoch(m, o, ld, device)
    split = Split(images.to(device), labels.to(device))

    def build(precision: str):
        cfg = load_config(ROOT / "configs" / "fashion_mlp.yaml", ["optimizer.schedule=constant",
                                                                  f"train.precision={precision}"], schemas())
        model = KIND.build_model(cfg).to(device)
        return model, TrainingOptimizer(model, cfg.optimizer)

    contenders.update(rlgen_epochs(build, split, args.batch, device))
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, {len(images):,} images, "
          f"batch {args.batch}")
    print_ratios(take_turns(contenders, args.repeats), ("dataset items", "tensor dataset"))


if __name__ == "__main__":
    main()
