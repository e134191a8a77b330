import math

import pytest
import torch
from torch import nn

from rlgen.nets import ACTIVATIONS, FeatureBatchNorm, MLPConfig, build_mlp, count_parameters, init_layer


def test_parameter_count_matches_textbook():
    net = build_mlp(MLPConfig(hidden=[128, 128], activation="relu", init="he_normal"), 784, 10)
    assert count_parameters(net) == 118_282  # 784·128+128 + 128·128+128 + 128·10+10


def test_layer_order_with_batch_norm_and_dropout():
    net = build_mlp(MLPConfig(hidden=[8], activation="elu", batch_norm=True, dropout=0.2), 4, 2)
    kinds = [[type(m) for m in block] for block in net]  # one block per linear layer
    assert kinds == [[nn.Linear, FeatureBatchNorm, nn.ELU, nn.Dropout], [nn.Linear]]
    assert net[0][0].bias is None  # batch norm's shift makes the bias redundant


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
    init_layer(layer, init, "relu")
    assert layer.weight.var().item() == pytest.approx(expected_var, rel=0.02)
    assert layer.weight.mean().abs().item() < 0.01 * math.sqrt(expected_var) * 10
    assert torch.count_nonzero(layer.bias) == 0


def test_orthogonal_init_with_gain():
    layer = nn.Linear(64, 32)
    init_layer(layer, "orthogonal", "tanh", gain=2.0)
    w = layer.weight  # (32, 64): rows are orthogonal with norm = gain
    assert torch.allclose(w @ w.T, 4.0 * torch.eye(32), atol=1e-5)


def test_orthogonal_default_gain_follows_activation():
    layer = nn.Linear(16, 16)
    init_layer(layer, "orthogonal", "relu")
    assert torch.allclose(layer.weight @ layer.weight.T, 2.0 * torch.eye(16), atol=1e-5)


def test_tied_mlp_shares_storage_and_owns_biases():
    spec = MLPConfig(hidden=[300], activation="elu", init="he_normal", output_activation="elu")
    encoder = build_mlp(spec, 784, 150)
    decoder = build_mlp(MLPConfig(hidden=[300], activation="elu"), 150, 784, tie_to=encoder)
    enc = [m for m in encoder.modules() if isinstance(m, nn.Linear)]
    dec = [block[0] for block in decoder]
    assert dec[0].weight.data_ptr() == enc[1].weight.data_ptr() and dec[0].weight.shape == (300, 150)
    assert dec[1].weight.data_ptr() == enc[0].weight.data_ptr() and dec[1].weight.shape == (784, 300)
    # parameters: the encoder's weights and biases plus the decoder's own biases only
    assert count_parameters(nn.ModuleList([encoder, decoder])) == 784 * 300 + 300 + 300 * 150 + 150 + 300 + 784
    assert set(decoder.state_dict()) == {"0.0.bias", "1.0.bias"}
    x = torch.rand(5, 784)
    expected = torch.nn.functional.elu(encoder(x) @ enc[1].weight + dec[0].bias) @ enc[0].weight + dec[1].bias
    assert torch.allclose(decoder(encoder(x)), expected, atol=1e-5)
    with torch.no_grad():
        enc[0].weight.mul_(2)  # a change to the encoder is seen by the decoder
    assert torch.equal(dec[1].weight, enc[0].weight.T)


def test_tied_mlp_must_mirror_sizes():
    encoder = build_mlp(MLPConfig(hidden=[300]), 784, 150)
    with pytest.raises(ValueError, match="mirror"):
        build_mlp(MLPConfig(hidden=[200]), 150, 784, tie_to=encoder)


def test_batch_norm_normalises_over_samples_whatever_the_leading_dims():
    torch.manual_seed(0)
    net = build_mlp(MLPConfig(hidden=[16], batch_norm=True), 4, 2)  # width 16, rollouts of 5 × 7 copies
    rollout = torch.randn(5, 7, 4) * 3 + 1
    net.train()
    batched, flat = net(rollout), net(rollout.reshape(35, 4))
    assert torch.allclose(batched, flat.reshape(5, 7, 2), atol=1e-6)
    hidden = net[0][:2](rollout)  # linear → batch norm, (T, N, H)
    assert torch.allclose(hidden.mean((0, 1)), torch.zeros(16), atol=1e-5)  # per feature, over all T·N samples
    net.eval()
    assert torch.allclose(net(rollout), net(rollout.reshape(35, 4)).reshape(5, 7, 2), atol=1e-6)


@pytest.mark.parametrize("algo", ["cartpole_reinforce", "cartpole_ppo"])
def test_policies_with_batch_norm_train_with_any_number_of_copies(tmp_path, tiny_agent_overrides, algo):
    from rlgen import api
    from tests.conftest import CONFIGS

    overrides = tiny_agent_overrides + ["env.num_envs=3", "policy.batch_norm=true", "value.batch_norm=true",
                                        "device=cpu"]
    run = api.train(CONFIGS / f"{algo}.yaml", overrides, run_dir=tmp_path / "run", quiet=True)
    assert run.result.progress >= 600 and run.evaluate(episodes=2, device="cpu")["mean_return"] > 0
