"""Each optimizer's first steps against its update rule, on f(w) = ½·Σ a·w² whose gradient is a·w."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from rlgen.optim import OptimizerConfig, ParamGroup, TrainingOptimizer, scheduled_lr

A = np.array([1.0, 4.0, 0.5])
W0 = np.array([1.0, -2.0, 3.0])


def quadratic_module() -> nn.Linear:
    m = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(W0[None]))
    return m.double()


def loss_of(m: nn.Linear) -> torch.Tensor:
    return 0.5 * (torch.tensor(A) * m.weight[0] ** 2).sum()


def reference(name: str, cfg: OptimizerConfig, steps: int) -> list[np.ndarray]:
    """The textbook update rules, written out."""
    w, lr, mu, eps = W0.copy(), cfg.lr, cfg.momentum, cfg.eps
    b1, b2 = cfg.betas
    v = np.zeros(3)
    s = np.zeros(3)
    mu_product = 1.0
    out = []
    for t in range(1, steps + 1):
        g = A * w
        if name == "sgd":
            w = w - lr * g
        elif name == "momentum":  # v ← μv + g; w ← w − ηv
            v = mu * v + g
            w = w - lr * v
        elif name == "nesterov":  # look-ahead gradient: w ← w − η(g + μv) after v ← μv + g
            v = mu * v + g
            w = w - lr * (g + mu * v)
        elif name == "adagrad":  # s ← s + g²; w ← w − ηg/(√s + ε)
            s = s + g * g
            w = w - lr * g / (np.sqrt(s) + eps)
        elif name == "rmsprop":  # s ← ρs + (1−ρ)g²; w ← w − ηg/(√s + ε)
            s = cfg.rho * s + (1 - cfg.rho) * g * g
            w = w - lr * g / (np.sqrt(s) + eps)
        elif name in ("adam", "adamw"):
            if name == "adamw":
                w = w * (1 - lr * cfg.weight_decay)
            v = b1 * v + (1 - b1) * g
            s = b2 * s + (1 - b2) * g * g
            w = w - lr * (v / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
        elif name == "nadam":  # Dozat (2016) with torch's momentum schedule μ_t = β1(1 − ½·0.96^(0.004t))
            mu_t = b1 * (1 - 0.5 * 0.96 ** (t * 0.004))
            mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * 0.004))
            mu_product *= mu_t
            v = b1 * v + (1 - b1) * g
            s = b2 * s + (1 - b2) * g * g
            denom = np.sqrt(s / (1 - b2**t)) + eps
            w = w - lr * (1 - mu_t) / (1 - mu_product) * g / denom
            w = w - lr * mu_next / (1 - mu_product * mu_next) * v / denom
        out.append(w.copy())
    return out


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam"])
def test_first_steps_follow_update_rule(name):
    cfg = OptimizerConfig(name=name, lr=0.1, weight_decay=0.01 if name == "adamw" else 0.0)
    m = quadratic_module()
    opt = TrainingOptimizer(m, cfg)
    expected = reference(name, cfg, 3)
    for step in range(3):
        opt.step(loss_of(m))
        np.testing.assert_allclose(m.weight.detach().numpy()[0], expected[step], rtol=1e-6, atol=1e-9)


def test_schedules():
    linear = OptimizerConfig(lr=1.0, schedule="linear", lr_final=0.1)
    assert scheduled_lr(linear, 0, 0.0) == 1.0
    assert scheduled_lr(linear, 5, 0.5) == pytest.approx(0.55)
    assert scheduled_lr(linear, 20, 2.0) == pytest.approx(0.1)  # held at lr_final after the end
    expo = OptimizerConfig(lr=0.01, schedule="exponential", decay=0.1, decay_steps=20)
    assert scheduled_lr(expo, 20, 0.0) == pytest.approx(0.001)
    assert scheduled_lr(expo, 10, 0.0) == pytest.approx(0.01 * 0.1**0.5)
    inv = OptimizerConfig(lr=0.01, schedule="inverse_time", decay=0.5)
    assert scheduled_lr(inv, 4, 0.0) == pytest.approx(0.01 / 3)
    assert scheduled_lr(OptimizerConfig(lr=0.3), 1000, 1.0) == 0.3


def test_schedule_drives_the_optimizer():
    cfg = OptimizerConfig(name="sgd", lr=0.1, schedule="inverse_time", decay=1.0)
    m = quadratic_module()
    opt = TrainingOptimizer(m, cfg)
    lrs = []
    for _ in range(3):
        opt.step(loss_of(m))
        lrs.append(opt.lr)
    assert lrs == pytest.approx([0.1, 0.05, 0.1 / 3])  # lr used at steps t = 0, 1, 2


def test_gradient_norm_clipping():
    cfg = OptimizerConfig(name="sgd", lr=1.0, max_grad_norm=0.5)
    m = quadratic_module()
    opt = TrainingOptimizer(m, cfg)
    before = m.weight.detach().clone()
    norm = opt.step(loss_of(m))
    assert norm.item() == pytest.approx(np.linalg.norm(A * W0))
    assert (m.weight.detach() - before).norm().item() == pytest.approx(0.5)


def test_max_norm_constraint_on_incoming_weights():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(10, 6), nn.Tanh(), nn.Linear(6, 2))
    with torch.no_grad():
        m[0].weight.mul_(20)
    opt = TrainingOptimizer(m, OptimizerConfig(name="sgd", lr=0.01, max_norm=1.0))
    opt.step(m(torch.randn(4, 10)).sum())
    for layer in (m[0], m[2]):
        assert (layer.weight.norm(dim=1) <= 1.0 + 1e-5).all()  # one row = one unit's incoming weights
    assert m[0].weight.norm(dim=1).max().item() == pytest.approx(1.0, rel=1e-4)


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_penalties_add_their_gradient(kind):
    m = nn.Linear(3, 1)
    with torch.no_grad():
        m.weight.copy_(torch.tensor([[0.5, -1.0, 2.0]]))
        m.bias.fill_(3.0)
    coef = 0.1
    opt = TrainingOptimizer(m, OptimizerConfig(name="sgd", lr=1.0, **{kind: coef}))
    w0 = m.weight.detach().clone()
    opt.step(torch.zeros((), requires_grad=True) + 0.0 * m.weight.sum())
    grad = coef * torch.sign(w0) if kind == "l1" else 2 * coef * w0
    assert torch.allclose(m.weight.detach(), w0 - grad)
    assert m.bias.item() == 3.0  # biases are not penalised
    assert float(opt.penalty().detach()) == pytest.approx(
        coef * (m.weight.abs().sum().item() if kind == "l1" else m.weight.square().sum().item())
    )


def test_bad_betas_rejected():
    with pytest.raises(ValueError):
        OptimizerConfig(betas=(0.9, 1.5))


def test_state_round_trip_through_a_checkpoint_continues_identically(tmp_path):
    from rlgen.checkpoint import load_state, save_state

    cfg = OptimizerConfig(name="adam", lr=0.05)
    m1 = quadratic_module()
    o1 = TrainingOptimizer(m1, cfg)
    for _ in range(3):
        o1.step(loss_of(m1))
    m2 = quadratic_module()
    m2.load_state_dict(m1.state_dict())
    o2 = TrainingOptimizer(m2, cfg)
    save_state(tmp_path / "opt.safetensors", o1.state_dict())
    o2.load_state_dict(load_state(tmp_path / "opt.safetensors"))
    o1.step(loss_of(m1))
    o2.step(loss_of(m2))
    assert torch.equal(m1.weight, m2.weight)
    assert math.isclose(o1.lr, o2.lr)


def test_max_norm_and_penalties_reach_conv_filters():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(2, 4, 3), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    with torch.no_grad():
        m[0].weight.mul_(30)
    opt = TrainingOptimizer(m, OptimizerConfig(name="sgd", lr=1e-3, max_norm=1.0, l2=0.1))
    expected = 0.1 * (m[0].weight.square().sum() + m[2].weight.square().sum())
    assert float(opt.penalty().detach()) == pytest.approx(float(expected.detach()))
    opt.step(m(torch.randn(3, 2, 6, 6)).sum())
    assert (m[0].weight.flatten(1).norm(dim=1) <= 1.0 + 1e-5).all()  # each filter: one unit's incoming weights


def test_frozen_parameters_are_left_out():
    from rlgen.errors import RlgenError

    m = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1))
    m[0].requires_grad_(False)
    frozen = m[0].weight.detach().clone()
    opt = TrainingOptimizer(m, OptimizerConfig(name="adam", lr=0.1, l2=0.5))
    assert sum(len(g["params"]) for g in opt.optimizer.param_groups) == 2  # the second layer's weight and bias
    assert float(opt.penalty().detach()) == pytest.approx(0.5 * float(m[1].weight.square().sum().detach()))
    opt.step(m(torch.randn(5, 3)).sum())
    assert torch.equal(m[0].weight, frozen)
    with pytest.raises(RlgenError, match="every parameter of the model is frozen"):
        TrainingOptimizer(m[0], OptimizerConfig())


@pytest.mark.parametrize("schedule", ["linear", "exponential", "inverse_time"])
def test_parameter_groups_keep_their_ratio_through_the_schedule(schedule):
    from rlgen.optim import ParamGroup

    lower, upper = nn.Linear(3, 3), nn.Linear(3, 1)
    cfg = OptimizerConfig(name="sgd", lr=0.2, schedule=schedule, lr_final=0.01, decay=0.5)
    opt = TrainingOptimizer([ParamGroup(lower, 0.1), ParamGroup(upper)], cfg, total_steps=4)
    seen = []
    for step in range(4):
        opt.step(upper(lower(torch.randn(2, 3))).sum())
        rates = [g["lr"] for g in opt.optimizer.param_groups]
        assert rates[0] == pytest.approx(0.1 * rates[1]) and rates[1] == pytest.approx(scheduled_lr(cfg, step, step / 4))
        seen.append(rates[1])
    assert seen[-1] < seen[0]


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_fast_clip_and_fused_step_equal_torch_bit_for_bit(name):
    """rlgen/optim_kernels.py's clipping and fused Adam step against torch's own clip_grad_norm_ and step: two
    parameter groups, a linear schedule, a parameter without gradient on one step, and a state loaded midway."""
    torch.manual_seed(0)
    ours_net = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
    torch_net = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
    torch_net.load_state_dict(ours_net.state_dict())
    cfg = OptimizerConfig(name=name, lr=0.05, schedule="linear", max_grad_norm=0.3, weight_decay=0.01)
    ours = TrainingOptimizer([ParamGroup(ours_net[0]), ParamGroup(ours_net[2], 0.5)], cfg, total_steps=12)
    assert ours._fused is not None and ours._same_kind
    kind = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    groups = [{"params": list(torch_net[0].parameters()), "lr_scale": 1.0},
              {"params": list(torch_net[2].parameters()), "lr_scale": 0.5}]
    theirs = kind(groups, lr=0.05, weight_decay=0.01 if name == "adamw" else 0.0, fused=True)
    x, y = torch.randn(32, 5), torch.randn(32, 3)
    for step in range(12):
        if step == 6:  # through a saved state, as a resumed run
            ours.load_state_dict({k: v for k, v in ours.state_dict().items()})
        no_bias = step == 3  # one step where a parameter gets no gradient: torch's own step takes it

        def loss(net):
            out = net(x) if not no_bias else nn.functional.linear(net[1](net[0](x)), net[2].weight)
            return (out - y).square().mean()

        ours_norm = ours.step(loss(ours_net))
        lr = 0.05 * (1 - step / 12)
        for g in theirs.param_groups:
            g["lr"] = lr * g["lr_scale"]
        theirs.zero_grad(set_to_none=True)
        loss(torch_net).backward()
        their_norm = nn.utils.clip_grad_norm_(list(torch_net.parameters()), 0.3, foreach=True)
        theirs.step()
        assert torch.equal(ours_norm, their_norm)
        for a, b in zip(ours_net.parameters(), torch_net.parameters()):
            assert torch.equal(a, b), f"step {step}"
