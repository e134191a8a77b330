"""The classifier: optional pretrained lower layers, the config's layers (`body`), and the output layer (`head`).

    logits = head(body(lower(x)))          x: (B, 1, 28, 28) images in [0, 1]; logits: (B, classes)

With frozen, cached lower layers the trainer feeds lower(x) directly (`features_cached`), so each epoch runs only
body and head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rlgen.epochs import EpochModel, Losses
from rlgen.errors import ConfigError
from rlgen.layers import NetConfig, build_layers, output_layer


@torch.no_grad()
def output_shape(module: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    was_training = module.training
    module.eval()
    shape = tuple(module(torch.zeros(1, *input_shape)).shape[1:])
    module.train(was_training)
    return shape


class Classifier(EpochModel):
    monitor = ("accuracy", "max")  # the validation accuracy picks the best weights

    def __init__(self, net: NetConfig, input_shape: tuple[int, ...], num_classes: int,
                 lower: nn.Module | None = None, freeze_lower: bool = False):
        super().__init__()
        self.lower = lower
        self.freeze_lower = lower is not None and freeze_lower
        if self.freeze_lower:
            lower.requires_grad_(False)
        features = output_shape(lower, input_shape) if lower is not None else tuple(input_shape)
        self.body, shape = build_layers(net, features)
        if len(shape) != 1:
            raise ConfigError(f"model.layers end in shape {shape}; the output layer needs vectors: end with a flatten "
                              f"layer, or a recurrent layer with return_sequences false")
        self.head = output_layer(net, shape[0], num_classes)
        self.features_cached = False

    def train(self, mode: bool = True) -> "Classifier":
        super().train(mode)
        if self.freeze_lower:
            self.lower.eval()  # frozen layers compute the same function in training as in evaluation
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """What the body sees: the lower layers' output, or the images themselves."""
        return self.lower(x) if self.lower is not None else x

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.features_cached else self.features(x)
        return self.head(self.body(h))  # (B, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x)

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> Losses:
        logits = self.logits(x).float()  # float32 loss under bf16 autocast too
        loss = F.cross_entropy(logits, y)
        with torch.no_grad():
            accuracy = (logits.argmax(-1) == y).float().mean()
        return {"loss": loss, "accuracy": accuracy}
