"""Network builder, part two: a stack of layers from a typed list, convolutional or dense, for models that see images
(classifiers, convolutional encoders). Each entry of `layers` is one layer with a `type`:

    model:
      activation: relu            # after every conv and dense layer unless the layer names its own
      init: he_normal
      layers:
        - {type: conv, channels: 32, kernel: 3, padding: 1, batch_norm: true}
        - {type: max_pool, kernel: 2}
        - {type: dropout, rate: 0.25}
        - {type: flatten}
        - {type: dense, units: 128}

Shapes are worked out layer by layer from the input shape, so a mistake (a dense layer on an image, a kernel larger
than its input) is one line naming the layer.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

from pydantic import Field, model_validator
from torch import nn

from rlgen.errors import ConfigError
from rlgen.nets import ACTIVATIONS, Activation, Init, init_layer
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


LayerSpec = Annotated[
    Union[ConvLayer, PoolLayer, DenseLayer, DropoutLayer, BatchNormLayer, FlattenLayer], Field(discriminator="type")
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
    if batch_norm:
        layers.append(nn.BatchNorm2d(features) if conv else nn.BatchNorm1d(features))
    layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def build_layers(spec: NetConfig, input_shape: Shape, where: str = "model.layers") -> tuple[nn.Sequential, Shape]:
    """The layers of `spec` for inputs of `input_shape` (without the batch dim); returns them and their output shape."""
    modules: list[nn.Module] = []
    shape = tuple(input_shape)
    for i, layer in enumerate(spec.layers):
        here = f"{where}[{i}] ({layer.type})"
        if layer.type in ("conv", "max_pool", "avg_pool") and len(shape) != 3:
            raise ConfigError(f"{here} needs an image input (channels, height, width), got shape {shape}")
        if layer.type == "dense" and len(shape) != 1:
            raise ConfigError(f"{here} needs a vector input, got shape {shape}; put a flatten layer before it")
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
        elif layer.type == "dense":
            linear = nn.Linear(shape[0], layer.units, bias=not layer.batch_norm)
            activation = layer.activation or spec.activation
            init_layer(linear, spec.init, activation)
            modules.append(_block(linear, layer.units, False, layer.batch_norm, activation))
            shape = (layer.units,)
        elif layer.type == "dropout":
            modules.append(nn.Dropout(layer.rate))  # element-wise on images too, as Keras's Dropout
        elif layer.type == "batch_norm":
            modules.append(nn.BatchNorm1d(shape[0]) if len(shape) == 1 else nn.BatchNorm2d(shape[0]))
        else:  # flatten
            modules.append(nn.Flatten())
            shape = (math.prod(shape),)
    return nn.Sequential(*modules), shape


def output_layer(spec: NetConfig, in_features: int, out_features: int) -> nn.Linear:
    """The model's own last linear layer (logits): initialised by the net's scheme with the identity's gain."""
    layer = nn.Linear(in_features, out_features)
    init_layer(layer, spec.init, "identity")
    return layer
