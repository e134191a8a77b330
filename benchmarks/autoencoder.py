"""One epoch of the same 784-400-20 VAE trained several ways, side by side in one process, on the same data:

- examples: a loop in the style of the PyTorch examples: a per-item Dataset converting each uint8 image to a float
  tensor the way torchvision's FashionMNIST + transforms.ToTensor() do (uint8 array → PIL image → float tensor),
  torch's DataLoader, batch 128, the examples' VAE module, summed BCE + KL loss and Adam;
- lean items: the same loop with a leaner per-item conversion (torch.from_numpy(...).float() / 255, no PIL), a
  stricter comparison than what the examples run;
- rlgen fp32 and rlgen at the default `train.precision: auto` (bf16 matrix multiplies where the hardware runs them
  natively): the training path of `rlgen train` (uint8 tensors on the device, shuffled index batches, the core's
  optimizer), with the model built by rlgen from a config.

All use batch 128, Adam lr 1e-3, ReLU, torch's default init and the full 60,000 training images. Contenders take
turns epoch by epoch and the median epoch time of each is reported, so machine noise hits all of them. Also prints
rlgen's achieved GFLOP/s (exact count of the epoch's matrix multiplies) next to plain matrix multiplies measured on
this machine.

    .venv/bin/python benchmarks/autoencoder.py [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlgen.autoencoders.build import build_autoencoder  # noqa: E402
from rlgen.autoencoders.config import VAERunConfig  # noqa: E402
from rlgen.data import IMAGE_SHAPE, Split  # noqa: E402
from rlgen.optim import TrainingOptimizer  # noqa: E402
from benchmarks.turns import print_ratios, rlgen_epochs, take_turns, training_images  # noqa: E402

BATCH = 128
PIXELS = int(np.prod(IMAGE_SHAPE))
SIZES = [(PIXELS, 400), (400, 20), (400, 20), (20, 400), (400, PIXELS)]  # fc1, mean, logvar, fc3, fc4


# ---- reference: the PyTorch examples' way -------------------------------------------------------------------------
class ItemDataset(Dataset):
    """One image at a time, converted from uint8 to a float tensor in [0, 1] (what ToTensor does)."""

    def __init__(self, images: torch.Tensor):
        self.images = images.view(-1, *IMAGE_SHAPE[1:]).numpy()  # (N, H, W), as torchvision holds them

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.images[i]).float().div(255).unsqueeze(0)  # (1, H, W)


class PILItemDataset(ItemDataset):
    """As torchvision's datasets do: each uint8 array becomes a PIL image, which ToTensor turns into floats."""

    def __getitem__(self, i: int) -> torch.Tensor:
        from PIL import Image

        picture = Image.fromarray(self.images[i], mode="L")
        pixels = torch.from_numpy(np.array(picture, np.uint8, copy=True)).view(*IMAGE_SHAPE[1:], 1).permute(2, 0, 1)
        return pixels.contiguous().float().div(255)


class ExampleVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(PIXELS, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, PIXELS)

    def forward(self, x):
        h1 = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def reference_epoch(model, optimizer, loader, device) -> float:
    model.train()
    for data in loader:
        data = data.to(device)
        optimizer.zero_grad()
        recon, mu, logvar = model(data.view(-1, PIXELS))
        bce = F.binary_cross_entropy(recon, data.view(-1, PIXELS), reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        (bce + kld).backward()
        optimizer.step()
    return float((bce + kld).item()) / len(data)


# ---- rlgen ----------------------------------------------------------------------------------------------------------
def rlgen_setup(device, precision: str = "auto"):
    cfg = VAERunConfig.model_validate({
        "algo": "vae", "model": {"hidden": [400], "latent": 20, "activation": "relu", "init": "default"},
        "optimizer": {"name": "adam", "lr": 1e-3}, "train": {"batch_size": BATCH, "precision": precision},
    })
    model = build_autoencoder(cfg).to(device)
    return model, TrainingOptimizer(model, cfg.optimizer)


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def matmul_gflops(device, m: int, k: int, n: int, seconds: float = 1.0) -> float:
    a, b = torch.randn(m, k, device=device), torch.randn(k, n, device=device)
    for _ in range(3):
        a @ b
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        count += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * m * k * n * count / (time.perf_counter() - started) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="epochs timed per contender (alternating)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    images = training_images()  # all 60,000, uint8 (N, 1, 28, 28)
    on_device = Split(images.to(device), torch.zeros(len(images), dtype=torch.int64, device=device))

    contenders = {}
    for name, dataset in (("examples", PILItemDataset(images)), ("lean items", ItemDataset(images))):
        ref_model = ExampleVAE().to(device)
        ref_opt = torch.optim.Adam(ref_model.parameters(), lr=1e-3)
        loader = DataLoader(dataset, batch_size=BATCH, shuffle=True)
        contenders[name] = lambda m=ref_model, o=ref_opt, ld=loader: reference_epoch(m, o, ld, device)
    contenders.update(rlgen_epochs(lambda precision: rlgen_setup(device, precision), on_device, BATCH, device))

    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{len(images):,} images, batch {BATCH}")
    median = take_turns(contenders, args.repeats)
    print_ratios(median, ("examples", "lean items"))
    ours = [name for name in median if name.startswith("rlgen")]
    our_s = median[ours[-1]]

    macs = sum(i * o for i, o in SIZES)  # multiply-adds of the forward pass, per image
    first = SIZES[0][0] * SIZES[0][1]  # backward: weight grads of every layer, input grads of all but the first
    epoch_flop = 2 * (macs + macs + macs - first) * len(images)
    achieved = epoch_flop / our_s / 1e9
    small = matmul_gflops(device, BATCH, PIXELS, 400)
    large = matmul_gflops(device, 2048, 2048, 2048)
    print(f"{ours[-1]} achieved {achieved:.1f} GFLOP/s ({epoch_flop / 1e9:.0f} GFLOP per epoch); plain matmul on this "
          f"machine: {small:.1f} GFLOP/s at {BATCH}x{PIXELS} @ {PIXELS}x400, {large:.1f} GFLOP/s at 2048^3 "
          f"({100 * achieved / small:.0f}% of the same-shape matmul)")


if __name__ == "__main__":
    main()
