"""One seed for Python, NumPy and torch; environments are seeded from the same number by their builders."""

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed the global generators and return a torch generator for code that wants its own stream."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
