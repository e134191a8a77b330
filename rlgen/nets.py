"""Network builder, part one: activations, weight initialisation, and the multilayer perceptron from a typed spec
(convolutional stacks are in `rlgen.layers`, built from the same pieces).

Every model in rlgen (policies, critics, encoders, decoders, classifiers) is built from these, so the choice of
activation, weight initialisation, batch norm and dropout means the same thing everywhere.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from rlgen.errors import ConfigError
from rlgen.schema import Strict, Widths

Activation = Literal["relu", "elu", "leaky_relu", "selu", "tanh", "sigmoid", "identity"]
Init = Literal["he_normal", "he_uniform", "xavier_normal", "xavier_uniform", "lecun_normal", "orthogonal", "default"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "selu": nn.SELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


class MLPConfig(Strict):
    """Spec of a multilayer perceptron; input and output sizes come from the model that asks for it."""

    hidden: Widths = Field(default_factory=lambda: [64, 64])
    """Sizes of the hidden layers, in order; [] gives a single linear layer."""
    activation: Activation = "tanh"
    """Non-linearity after each hidden layer."""
    init: Init = "orthogonal"
    """Weight initialisation of hidden layers: he_* (variance 2/fan_in), xavier_* (2/(fan_in+fan_out)),
    lecun_normal (1/fan_in, for SELU), orthogonal (with `gain`), or torch's default."""
    gain: float | None = Field(default=None, gt=0, le=1e3)
    """Gain for orthogonal/xavier init of hidden layers; None uses the activation's recommended gain."""
    output_gain: float | None = Field(default=None, gt=0, le=1e3)
    """Gain for the output layer's init (e.g. 0.01 for a policy head); None uses `gain`'s rule."""
    batch_norm: bool = False
    """Batch norm between each hidden linear layer and its activation (Ioffe & Szegedy, 2015)."""
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Dropout rate after each hidden activation (0 disables)."""
    output_activation: Activation = "identity"
    """Non-linearity applied to the output (identity for logits, values and means)."""


def _gain_for(activation: str) -> float:
    if activation == "identity":
        return 1.0
    if activation == "elu":  # torch has no entry for ELU; He's ReLU gain is the usual choice.
        return math.sqrt(2.0)
    return nn.init.calculate_gain(activation)


WEIGHTED_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
TRANSPOSED_LAYERS = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def fan_in(weight: torch.Tensor) -> int:
    """Inputs feeding each output unit: in_features for a linear layer, in_channels·kernel area for a convolution
    (torch's convention, which transposed convolutions follow with their weight's second dim)."""
    return weight.shape[1] * math.prod(weight.shape[2:])


def init_layer(layer: nn.Module, init: str, activation: str, gain: float | None = None) -> None:
    """Initialise one linear or convolutional layer in place; biases start at zero for every scheme except torch's
    default. The names mean the same for both: he_* (variance 2/fan_in), lecun_normal (1/fan_in), xavier_*
    (2/(fan_in+fan_out)), orthogonal (rows of the flattened weight orthogonal, norm `gain`)."""
    if init == "default":
        return
    w = layer.weight
    fan = fan_in(w)
    if init == "he_normal":
        nn.init.normal_(w, 0.0, math.sqrt(2.0 / fan))
    elif init == "he_uniform":
        bound = math.sqrt(6.0 / fan)
        nn.init.uniform_(w, -bound, bound)
    elif init == "lecun_normal":
        nn.init.normal_(w, 0.0, math.sqrt(1.0 / fan))
    elif init == "xavier_normal":
        nn.init.xavier_normal_(w, gain=gain if gain is not None else 1.0)
    elif init == "xavier_uniform":
        nn.init.xavier_uniform_(w, gain=gain if gain is not None else 1.0)
    elif init == "orthogonal":
        nn.init.orthogonal_(w, gain=gain if gain is not None else _gain_for(activation))
    else:
        raise ValueError(f"unknown init {init!r}")
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


class FeatureBatchNorm(nn.BatchNorm1d):
    """Batch norm of the last dim over every sample, whatever the leading dims: a rollout's (T, N, H) features are
    T·N samples of H features (plain BatchNorm1d would take N for the features of a 3-D input)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return super().forward(x)
        return super().forward(x.reshape(-1, x.shape[-1])).reshape(x.shape)


class TiedLinear(nn.Module):
    """A linear layer whose weight is the transpose of another layer's (tied autoencoders), with its own bias.

    The source layer is referenced, not registered, so its weight is stored once, in the source's state dict."""

    def __init__(self, source: nn.Linear, bias: bool = True):
        super().__init__()
        object.__setattr__(self, "source", source)  # not a submodule: no second copy in state_dict()
        self.in_features, self.out_features = source.out_features, source.in_features
        self.bias = nn.Parameter(torch.zeros(self.out_features)) if bias else None

    @property
    def weight(self) -> torch.Tensor:
        return self.source.weight.T  # a view: same storage as the source's weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.source.weight.T, self.bias)


def build_mlp(spec: MLPConfig, in_features: int, out_features: int, tie_to: nn.Sequential | None = None) -> nn.Sequential:
    """A Sequential of blocks, one per linear layer: Linear → [BatchNorm] → activation → [Dropout] for hidden
    layers, then the output Linear → [output activation].

    `tie_to`: an MLP built by this function whose layers this one mirrors (sizes reversed); each linear layer then
    uses the transposed weight of its mirror image in `tie_to` and only owns its bias.
    """
    sizes = [*spec.hidden, out_features]
    mirror = [m for m in tie_to.modules() if isinstance(m, nn.Linear)][::-1] if tie_to is not None else None
    if mirror is not None and [(m.out_features, m.in_features) for m in mirror] != list(zip([in_features, *sizes[:-1]], sizes)):
        raise ValueError("a tied MLP must mirror the sizes of the MLP it is tied to")
    blocks: list[nn.Sequential] = []
    width = in_features
    for index, size in enumerate(sizes):
        is_output = index == len(sizes) - 1
        norm = spec.batch_norm and not is_output
        if is_output and mirror is None:
            blocks.append(output_head(spec, width, size))
            break
        if mirror is not None:
            linear: nn.Module = TiedLinear(mirror[index], bias=not norm)
        else:  # batch norm's shift makes the bias redundant
            linear = nn.Linear(width, size, bias=not norm)
            init_layer(linear, spec.init, spec.activation, spec.gain)
        layers: list[nn.Module] = [linear]
        if norm:
            layers.append(FeatureBatchNorm(size))
        if not is_output:
            layers.append(ACTIVATIONS[spec.activation]())
            if spec.dropout > 0:
                layers.append(nn.Dropout(spec.dropout))
        elif spec.output_activation != "identity":
            layers.append(ACTIVATIONS[spec.output_activation]())
        blocks.append(nn.Sequential(*layers))
        width = size
    return nn.Sequential(*blocks)


def output_head(spec: MLPConfig, in_features: int, out_features: int) -> nn.Sequential:
    """The MLP's output block: Linear → [output activation], initialised with `output_gain` (else `gain`'s rule)."""
    linear = nn.Linear(in_features, out_features)
    gain = spec.output_gain if spec.output_gain is not None else spec.gain
    init_layer(linear, spec.init, spec.output_activation, gain)
    if spec.output_activation == "identity":
        return nn.Sequential(linear)
    return nn.Sequential(linear, ACTIVATIONS[spec.output_activation]())


MAX_PARAMETERS = 500_000_000  # 2 GB of float32 weights, 6 GB with Adam's moments: more than this machine class trains


def check_size(build, what: str) -> None:
    """Build a model on the meta device (shapes only, no memory) and refuse one too large to train."""
    with torch.device("meta"):
        model = build()
    count = sum(p.numel() for p in model.parameters())
    if count > MAX_PARAMETERS:
        raise ConfigError(f"{what} would have {count:,} parameters, more than rlgen trains ({MAX_PARAMETERS:,}); "
                          f"make its layers smaller")


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def penalized_weights(module: nn.Module) -> list[tuple[torch.Tensor, int]]:
    """The trainable weights that l1/l2 penalties and max-norm act on (biases and norm layers excluded), each with
    the dim that indexes its output units: 0 for linear and convolutional layers, 1 for transposed convolutions.
    A tied layer's weight belongs to its source layer and is listed once."""
    found = []
    for m in module.modules():
        if isinstance(m, WEIGHTED_LAYERS + TRANSPOSED_LAYERS) and m.weight.requires_grad:
            found.append((m.weight, 1 if isinstance(m, TRANSPOSED_LAYERS) else 0))
    return found
