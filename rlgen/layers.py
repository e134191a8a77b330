"""Network builder, part two: a stack of layers from a typed list — convolutional, recurrent or dense — for models
that see images or sequences (classifiers, forecasters, convolutional encoders). Each entry of `layers` is one layer
with a `type`:

    model:
      activation: relu            # after every conv and dense layer unless the layer names its own
      init: he_normal
      layers:
        - {type: conv, channels: 32, kernel: 3, padding: 1, batch_norm: true}
        - {type: max_pool, kernel: 2}
        - {type: dropout, rate: 0.25}
        - {type: flatten}
        - {type: dense, units: 128}

    layers:                       # an image read row by row: 28 steps of 28 features
        - {type: sequence}
        - {type: lstm, units: 128, layers: 2}
        - {type: dense, units: 64}

Shapes are worked out layer by layer from the input shape, so a mistake (a dense layer on an image, a kernel larger
than its input, a recurrent layer on an image that was not made a sequence) is one line naming the layer. A
sequence has the shape (steps, features); dense layers, batch norm and dropout act on each step of one, as Keras's
Dense does on a 3-D input; `conv1d` convolves along the steps (`padding: causal` for WaveNet-style stacks); the
recurrent layers are in `rlgen.recurrent`.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

import torch
from pydantic import Field, model_validator
from torch import nn

from rlgen.errors import ConfigError
from rlgen.nets import ACTIVATIONS, Activation, FeatureBatchNorm, Init, init_layer
from rlgen.recurrent import Recurrent, RecurrentLayer
from rlgen.schema import Strict, Width

Shape = tuple[int, ...]


class ConvLayer(Strict):
    type: Literal["conv"]
    channels: int = Field(ge=1, le=4096)
    """Output channels (filters)."""
    kernel: int = Field(default=3, ge=1, le=1024)
    stride: int = Field(default=1, ge=1, le=1024)
    padding: int | Literal["same"] = 0
    """Zero padding on each side; "same" keeps height and width (stride 1 only)."""
    batch_norm: bool = False
    """Batch norm between the convolution and its activation (the convolution then has no bias)."""
    activation: Activation | None = None
    """None: the net's activation."""

    @model_validator(mode="after")
    def _same_needs_stride_one(self) -> "ConvLayer":
        if self.padding == "same" and self.stride != 1:
            raise ValueError("padding 'same' needs stride 1")
        if isinstance(self.padding, int) and self.padding < 0:
            raise ValueError("padding must be ≥ 0")
        return self


class PoolLayer(Strict):
    type: Literal["max_pool", "avg_pool"]
    kernel: int = Field(default=2, ge=1, le=1024)
    stride: int | None = Field(default=None, ge=1, le=1024)
    """None: the kernel size (non-overlapping windows)."""


class DenseLayer(Strict):
    type: Literal["dense"]
    units: Width
    batch_norm: bool = False
    """Batch norm between the linear map and its activation (the linear map then has no bias)."""
    activation: Activation | None = None
    """None: the net's activation."""


class DropoutLayer(Strict):
    type: Literal["dropout"]
    rate: float = Field(default=0.5, ge=0.0, lt=1.0)


class BatchNormLayer(Strict):
    type: Literal["batch_norm"]


class FlattenLayer(Strict):
    type: Literal["flatten"]


class SequenceLayer(Strict):
    """Read the input as a sequence (steps, features): an image (C, H, W) as H steps of its rows' C·W pixels, a
    vector (F,) as F steps of one feature."""

    type: Literal["sequence"]


class Conv1dLayer(Strict):
    """A 1-D convolution along a sequence's steps (features are its channels)."""

    type: Literal["conv1d"]
    channels: int = Field(ge=1, le=4096)
    kernel: int = Field(default=2, ge=1, le=1024)
    stride: int = Field(default=1, ge=1, le=1024)
    dilation: int = Field(default=1, ge=1, le=4096)
    """Gap between the kernel's taps (WaveNet doubles it layer by layer: 1, 2, 4, 8, …)."""
    padding: Literal["causal", "same", "valid"] = "causal"
    """causal: zeros on the left only, so step t sees steps ≤ t and the length is kept (at stride 1); same: both
    sides (stride 1); valid: none."""
    activation: Activation | None = None
    """None: the net's activation."""

    @model_validator(mode="after")
    def _same_needs_stride_one(self) -> "Conv1dLayer":
        if self.padding == "same" and self.stride != 1:
            raise ValueError("padding 'same' needs stride 1")
        return self


LayerSpec = Annotated[
    Union[ConvLayer, PoolLayer, DenseLayer, DropoutLayer, BatchNormLayer, FlattenLayer, SequenceLayer, Conv1dLayer,
          RecurrentLayer],
    Field(discriminator="type"),
]


class NetConfig(Strict):
    """A stack of layers; the model that asks for it adds its own output layer."""

    layers: list[LayerSpec] = Field(default_factory=list)
    activation: Activation = "relu"
    """Non-linearity after each conv and dense layer (a layer's own `activation` overrides it)."""
    init: Init = "he_normal"
    """Weight initialisation of conv and dense layers (the same names as the MLP's)."""


def _conv_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _block(linear: nn.Module, features: int, conv: bool, batch_norm: bool, activation: str) -> nn.Sequential:
    layers = [linear]
    if batch_norm:  # of the last dim for vectors and sequences alike
        layers.append(nn.BatchNorm2d(features) if conv else FeatureBatchNorm(features))
    layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class ImageRows(nn.Module):
    """(B, C, H, W) images as (B, H, C·W) sequences of rows; (B, F) vectors as (B, F, 1)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return x.unsqueeze(-1)
        return x.permute(0, 2, 1, 3).flatten(2)


class SequenceConv(nn.Module):
    """nn.Conv1d on (B, T, F) sequences, with causal (left) padding as an option: (B, T, F) → (B, T', channels)."""

    def __init__(self, conv: nn.Conv1d, left: int, right: int):
        super().__init__()
        self.conv, self.left, self.right = conv, left, right

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)  # (B, F, T): channels first, as Conv1d wants
        if self.left or self.right:
            x = nn.functional.pad(x, (self.left, self.right))
        return self.conv(x).transpose(1, 2)


SEQUENCE_TYPES = ("rnn", "gru", "lstm", "conv1d")


def _shape_problem(layer, shape: Shape) -> str | None:
    """Why `layer` cannot take inputs of `shape` (None when it can)."""
    kind = layer.type
    if kind in ("conv", "max_pool", "avg_pool") and len(shape) != 3:
        return f"needs an image input (channels, height, width), got shape {shape}"
    if kind in SEQUENCE_TYPES and len(shape) != 2:
        if len(shape) == 3:
            return (f"needs a sequence (steps, features), got the image shape {shape}; put a {{type: sequence}} "
                    f"layer before it to read the image row by row")
        return (f"needs a sequence (steps, features), got the vector shape {shape}; put a {{type: sequence}} layer "
                f"before it to read the vector as steps of one feature")
    if kind == "sequence" and len(shape) not in (1, 3):
        return f"reads an image (channels, height, width) or a vector as a sequence; its input is already {shape}"
    if kind == "dense" and len(shape) == 3:
        return f"needs a vector or a sequence, got the image shape {shape}; put a flatten layer before it"
    return None


def build_layers(spec: NetConfig, input_shape: Shape, where: str = "model.layers") -> tuple[nn.Sequential, Shape]:
    """The layers of `spec` for inputs of `input_shape` (without the batch dim); returns them and their output shape."""
    modules: list[nn.Module] = []
    shape = tuple(input_shape)
    for i, layer in enumerate(spec.layers):
        here = f"{where}[{i}] ({layer.type})"
        problem = _shape_problem(layer, shape)
        if problem is not None:
            raise ConfigError(f"{here} {problem}")
        if layer.type == "conv":
            padding = layer.kernel // 2 if layer.padding == "same" else layer.padding
            height, width = (_conv_size(s, layer.kernel, layer.stride, padding) for s in shape[1:])
            if min(height, width) < 1:
                raise ConfigError(f"{here}: kernel {layer.kernel} does not fit its input of shape {shape}")
            conv = nn.Conv2d(shape[0], layer.channels, layer.kernel, layer.stride, layer.padding,
                             bias=not layer.batch_norm)
            activation = layer.activation or spec.activation
            init_layer(conv, spec.init, activation)
            modules.append(_block(conv, layer.channels, True, layer.batch_norm, activation))
            shape = (layer.channels, height, width)
        elif layer.type in ("max_pool", "avg_pool"):
            stride = layer.stride or layer.kernel
            height, width = (_conv_size(s, layer.kernel, stride, 0) for s in shape[1:])
            if min(height, width) < 1:
                raise ConfigError(f"{here}: window {layer.kernel} does not fit its input of shape {shape}")
            pool = nn.MaxPool2d if layer.type == "max_pool" else nn.AvgPool2d
            modules.append(pool(layer.kernel, stride))
            shape = (shape[0], height, width)
        elif layer.type == "dense":  # on a sequence: the same map at every step
            linear = nn.Linear(shape[-1], layer.units, bias=not layer.batch_norm)
            activation = layer.activation or spec.activation
            init_layer(linear, spec.init, activation)
            modules.append(_block(linear, layer.units, False, layer.batch_norm, activation))
            shape = (*shape[:-1], layer.units)
        elif layer.type == "dropout":
            modules.append(nn.Dropout(layer.rate))  # element-wise on images too, as Keras's Dropout
        elif layer.type == "batch_norm":
            modules.append(FeatureBatchNorm(shape[-1]) if len(shape) < 3 else nn.BatchNorm2d(shape[0]))
        elif layer.type == "sequence":
            modules.append(ImageRows())
            shape = (shape[0], 1) if len(shape) == 1 else (shape[1], shape[0] * shape[2])
        elif layer.type == "conv1d":
            reach = layer.dilation * (layer.kernel - 1)  # how far back the kernel's first tap sits
            left, right = {"causal": (reach, 0), "same": (reach // 2, reach - reach // 2), "valid": (0, 0)}[layer.padding]
            steps = (shape[0] + left + right - reach - 1) // layer.stride + 1
            if steps < 1:
                raise ConfigError(f"{here}: kernel {layer.kernel} at dilation {layer.dilation} does not fit a "
                                  f"sequence of {shape[0]} steps")
            conv = nn.Conv1d(shape[1], layer.channels, layer.kernel, layer.stride, dilation=layer.dilation)
            activation = layer.activation or spec.activation
            init_layer(conv, spec.init, activation)
            modules.append(nn.Sequential(SequenceConv(conv, left, right), ACTIVATIONS[activation]()))
            shape = (steps, layer.channels)
        elif layer.type in ("rnn", "gru", "lstm"):
            modules.append(Recurrent(layer, shape[1]))
            shape = (shape[0], layer.out_features) if layer.return_sequences else (layer.out_features,)
        else:  # flatten
            modules.append(nn.Flatten())
            shape = (math.prod(shape),)
    return nn.Sequential(*modules), shape


def output_layer(spec: NetConfig, in_features: int, out_features: int) -> nn.Linear:
    """The model's own last linear layer (logits): initialised by the net's scheme with the identity's gain."""
    layer = nn.Linear(in_features, out_features)
    init_layer(layer, spec.init, "identity")
    return layer
