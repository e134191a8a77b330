import math

import pytest
import torch
from torch import nn

from rlgen.nets import ACTIVATIONS, MLPConfig, build_mlp, count_parameters, init_linear


def test_parameter_count_matches_textbook():
    net = build_mlp(MLPConfig(hidden=[128, 128], activation="relu", init="he_normal"), 784, 10)
    assert count_parameters(net) == 118_282  # 784·128+128 + 128·128+128 + 128·10+10


def test_layer_order_with_batch_norm_and_dropout():
    net = build_mlp(MLPConfig(hidden=[8], activation="elu", batch_norm=True, dropout=0.2), 4, 2)
    kinds = [type(m) for m in net]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ELU, nn.Dropout, nn.Linear]
    assert net[0].bias is None  # batch norm's shift makes the bias redundant


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_builds_and_runs(activation):
    net = build_mlp(MLPConfig(hidden=[5], activation=activation, init="xavier_uniform"), 3, 2)
    assert net(torch.randn(7, 3)).shape == (7, 2)


def test_output_activation_is_applied():
    net = build_mlp(MLPConfig(hidden=[5], output_activation="sigmoid"), 3, 4)
    out = net(torch.randn(100, 3) * 10)
    assert ((out > 0) & (out < 1)).all()


@pytest.mark.parametrize(
    "init, expected_var",
    [
        ("he_normal", 2 / 400),
        ("he_uniform", 2 / 400),
        ("lecun_normal", 1 / 400),
        ("xavier_normal", 2 / (400 + 600)),
        ("xavier_uniform", 2 / (400 + 600)),
    ],
)
def test_init_variance(init, expected_var):
    torch.manual_seed(0)
    layer = nn.Linear(400, 600)  # fan_in 400, fan_out 600: 240,000 weights, so the variance is tight
    init_linear(layer, init, "relu")
    assert layer.weight.var().item() == pytest.approx(expected_var, rel=0.02)
    assert layer.weight.mean().abs().item() < 0.01 * math.sqrt(expected_var) * 10
    assert torch.count_nonzero(layer.bias) == 0


def test_orthogonal_init_with_gain():
    layer = nn.Linear(64, 32)
    init_linear(layer, "orthogonal", "tanh", gain=2.0)
    w = layer.weight  # (32, 64): rows are orthogonal with norm = gain
    assert torch.allclose(w @ w.T, 4.0 * torch.eye(32), atol=1e-5)


def test_orthogonal_default_gain_follows_activation():
    layer = nn.Linear(16, 16)
    init_linear(layer, "orthogonal", "relu")
    assert torch.allclose(layer.weight @ layer.weight.T, 2.0 * torch.eye(16), atol=1e-5)
