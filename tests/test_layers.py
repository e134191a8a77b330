"""The layer-list builder: shapes, parameter counts, initialisation of conv layers, and one-line mistakes."""

import math

import pytest
import torch
from torch import nn

from rlgen.errors import ConfigError
from rlgen.layers import NetConfig, build_layers
from rlgen.nets import count_parameters, init_layer

IMAGE = (1, 28, 28)


def net(*layers, **kw):
    return NetConfig(layers=list(layers), **kw)


def test_shapes_and_counts_of_a_small_cnn():
    spec = net({"type": "conv", "channels": 8, "kernel": 3, "padding": 1, "batch_norm": True},
               {"type": "max_pool", "kernel": 2}, {"type": "conv", "channels": 4, "kernel": 5, "stride": 2},
               {"type": "avg_pool", "kernel": 2, "stride": 1}, {"type": "dropout", "rate": 0.3},
               {"type": "flatten"}, {"type": "dense", "units": 16, "activation": "tanh"})
    layers, shape = build_layers(spec, IMAGE)
    assert shape == (16,)
    # conv 8 same → 28×28, pool → 14×14, conv 5 stride 2 → 5×5, avg 2 stride 1 → 4×4
    assert layers(torch.rand(3, *IMAGE)).shape == (3, 16)
    conv1 = 8 * 1 * 9 + 2 * 8  # no bias under batch norm; γ and β
    conv2 = 4 * 8 * 25 + 4
    dense = 4 * 4 * 4 * 16 + 16
    assert count_parameters(layers) == conv1 + conv2 + dense
    assert isinstance(layers[0][2], nn.ReLU) and isinstance(layers[-1][1], nn.Tanh)


def test_same_padding_keeps_the_size():
    layers, shape = build_layers(net({"type": "conv", "channels": 2, "kernel": 5, "padding": "same"}), IMAGE)
    assert shape == (2, 28, 28) and layers(torch.rand(1, *IMAGE)).shape == (1, 2, 28, 28)


@pytest.mark.parametrize("layers, message", [
    ([{"type": "dense", "units": 4}], r"\[0\] \(dense\) needs a vector or a sequence, got the image shape \(1, 28, 28\); put a flatten layer before it"),
    ([{"type": "flatten"}, {"type": "conv", "channels": 2}], r"\[1\] \(conv\) needs an image input"),
    ([{"type": "conv", "channels": 2, "kernel": 29}], r"kernel 29 does not fit its input"),
    ([{"type": "max_pool", "kernel": 2}] * 5 + [{"type": "max_pool", "kernel": 2}], r"window 2 does not fit"),
])
def test_mistakes_name_the_layer(layers, message):
    with pytest.raises(ConfigError, match=message):
        build_layers(net(*layers), IMAGE)


def test_same_padding_needs_stride_one():
    with pytest.raises(ValueError, match="padding 'same' needs stride 1"):
        net({"type": "conv", "channels": 2, "padding": "same", "stride": 2})


@pytest.mark.parametrize("init, expected_var", [("he_normal", 2 / 288), ("lecun_normal", 1 / 288),
                                                ("he_uniform", 2 / 288)])
def test_conv_init_uses_channels_times_kernel_area_as_fan_in(init, expected_var):
    torch.manual_seed(0)
    conv = nn.Conv2d(32, 256, 3)  # fan_in 32·3·3 = 288; 73,728 weights
    init_layer(conv, init, "relu")
    assert conv.weight.var().item() == pytest.approx(expected_var, rel=0.03)
    assert torch.count_nonzero(conv.bias) == 0


def test_orthogonal_conv_init_has_orthogonal_filters():
    conv = nn.Conv2d(4, 8, 3)  # 8 filters of 36 weights
    init_layer(conv, "orthogonal", "relu")
    w = conv.weight.flatten(1)
    assert torch.allclose(w @ w.T, 2.0 * torch.eye(8), atol=1e-5)


def test_layers_in_yaml_form_validate_with_clear_errors():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="units"):
        NetConfig.model_validate({"layers": [{"type": "dense"}]})
    with pytest.raises(ValidationError, match="'conv', 'max_pool'"):
        NetConfig.model_validate({"layers": [{"type": "convolution"}]})
    assert math.isclose(NetConfig.model_validate({"layers": [{"type": "dropout", "rate": 0.1}]}).layers[0].rate, 0.1)
