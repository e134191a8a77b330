"""Recurrent layers (rlgen/recurrent.py) and sequences in the layer list (rlgen/layers.py): rlgen's own cell against
torch's modules and against the equations, initialisation, shapes, causality, and one-line errors."""

import re

import pytest
import torch
from pydantic import TypeAdapter, ValidationError
from torch import nn

from rlgen.errors import ConfigError
from rlgen.layers import LayerSpec, NetConfig, build_layers
from rlgen.recurrent import LoopedRecurrent, RecurrentLayer, build_cell_stack

TORCH = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def net(*layers) -> NetConfig:
    return NetConfig(layers=list(layers))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, True)])
def test_the_looped_cell_computes_what_torch_computes_on_the_same_weights(cell, layers, bidirectional):
    torch.manual_seed(0)
    reference = TORCH[cell](5, 7, layers, batch_first=True, bidirectional=bidirectional)
    looped = LoopedRecurrent(cell, 5, 7, layers, bidirectional)
    looped.load_state_dict(reference.state_dict())  # the same names and gate layout
    x = torch.randn(3, 6, 5)
    directions = 2 if bidirectional else 1
    h0 = torch.randn(layers * directions, 3, 7)
    state = (h0, torch.randn_like(h0)) if cell == "lstm" else h0
    want, want_state = reference(x, state)
    got, got_state = looped(x, state)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    for g, w in zip(got_state if cell == "lstm" else [got_state], want_state if cell == "lstm" else [want_state]):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)


def test_a_peephole_lstm_with_zero_peepholes_is_torchs_lstm_and_its_gates_see_the_cell_state():
    torch.manual_seed(1)
    reference = nn.LSTM(3, 4, batch_first=True)
    looped = LoopedRecurrent("lstm", 3, 4, peephole=True)
    looped.load_state_dict({**reference.state_dict(), "weight_peephole_l0": torch.zeros(3, 4)})
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(looped(x)[0], reference(x)[0], rtol=1e-5, atol=1e-6)

    with torch.no_grad():
        looped.weight_peephole_l0.copy_(torch.randn(3, 4))
    got, (h_n, c_n) = looped(x)
    # Gers & Schmidhuber (2000), with torch's gate order i, f, g, o:
    #   i = σ(W_i x + U_i h + p_i ⊙ c_{t−1} + b_i)      f = σ(W_f x + U_f h + p_f ⊙ c_{t−1} + b_f)
    #   c_t = f ⊙ c_{t−1} + i ⊙ tanh(W_g x + U_g h + b_g)
    #   o = σ(W_o x + U_o h + p_o ⊙ c_t + b_o)           h_t = o ⊙ tanh(c_t)
    W, U = looped.weight_ih_l0, looped.weight_hh_l0
    b = looped.bias_ih_l0 + looped.bias_hh_l0
    p = looped.weight_peephole_l0
    h = c = torch.zeros(2, 4)
    for t in range(5):
        a = x[:, t] @ W.T + h @ U.T + b
        i = torch.sigmoid(a[:, 0:4] + p[0] * c)
        f = torch.sigmoid(a[:, 4:8] + p[1] * c)
        c = f * c + i * torch.tanh(a[:, 8:12])
        o = torch.sigmoid(a[:, 12:16] + p[2] * c)
        h = o * torch.tanh(c)
        torch.testing.assert_close(got[:, t], h, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(c_n[0], c, rtol=1e-5, atol=1e-6)
    assert looped(x)[0].sub(reference(x)[0]).abs().max() > 1e-3  # the peepholes changed something


def layer_norm(x: torch.Tensor) -> torch.Tensor:
    return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + 1e-5)


def test_layer_norm_normalises_each_gates_pre_activation_and_the_lstm_cell_state():
    torch.manual_seed(2)
    looped = LoopedRecurrent("lstm", 3, 4, layer_norm=True)
    with torch.no_grad():  # gains and shifts away from 1 and 0, so that they are tested too
        looped.ln_gates_l0.weight.copy_(torch.rand(4, 4) + 0.5)
        looped.ln_gates_l0.bias.copy_(torch.randn(4, 4))
    x = torch.randn(2, 3, 3)
    got, _ = looped(x)
    W, U = looped.weight_ih_l0, looped.weight_hh_l0
    b = looped.bias_ih_l0 + looped.bias_hh_l0
    gain, shift = looped.ln_gates_l0.weight, looped.ln_gates_l0.bias
    h = c = torch.zeros(2, 4)
    for t in range(3):
        a = (x[:, t] @ W.T + h @ U.T + b).reshape(2, 4, 4)
        i, f, g, o = (layer_norm(a) * gain + shift).unbind(1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(layer_norm(c) * looped.ln_cell_l0.weight + looped.ln_cell_l0.bias)
        torch.testing.assert_close(got[:, t], h, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_layer_norm_on_gru_and_rnn_cells_trains(cell):
    torch.manual_seed(3)
    looped = LoopedRecurrent(cell, 2, 6, layer_norm=True)
    out, _ = looped(torch.randn(4, 5, 2))
    out.square().mean().backward()
    assert looped.ln_gates_l0.weight.grad.abs().sum() > 0
    assert out.shape == (4, 5, 6)


@pytest.mark.parametrize("looped", [False, True])
def test_recurrent_weights_start_orthogonal_and_the_forget_gate_open(looped):
    spec = RecurrentLayer(type="lstm", units=8, peephole=looped)
    module = build_cell_stack(spec, 5)
    assert isinstance(module, LoopedRecurrent) == looped
    for block in module.weight_hh_l0.split(8):
        torch.testing.assert_close(block @ block.T, torch.eye(8), atol=1e-5, rtol=0)
    bias = module.bias_ih_l0 + module.bias_hh_l0
    assert torch.equal(bias[8:16], torch.ones(8)) and not bias[:8].any() and not bias[16:].any()


def test_an_image_read_row_by_row_and_the_shapes_layer_by_layer():
    layers, shape = build_layers(net({"type": "sequence"}, {"type": "lstm", "units": 16, "return_sequences": True},
                                     {"type": "dense", "units": 5},
                                     {"type": "gru", "units": 3, "bidirectional": True}), (1, 28, 28))
    assert shape == (6,)
    images = torch.rand(2, 1, 28, 28)
    assert layers[0](images).shape == (2, 28, 28)
    torch.testing.assert_close(layers[0](images)[:, 4], images[:, 0, 4])  # step 4 is row 4
    assert layers[:2](images).shape == (2, 28, 16)
    assert layers[:3](images).shape == (2, 28, 5)  # a dense layer maps every step
    assert layers(images).shape == (2, 6)
    _, shape = build_layers(net({"type": "sequence"}), (3, 4, 5))
    assert shape == (4, 15)  # rows of all channels
    _, shape = build_layers(net({"type": "sequence"}, {"type": "rnn", "units": 4, "layers": 3, "dropout": 0.1}), (9,))
    assert shape == (4,)


def test_a_bidirectional_layers_last_output_is_forward_after_the_end_and_backward_after_the_start():
    layers, _ = build_layers(net({"type": "lstm", "units": 4, "bidirectional": True}), (6, 2))
    x = torch.randn(3, 6, 2)
    everything, _ = layers[0].rnn(x)
    out = layers(x)
    torch.testing.assert_close(out[:, :4], everything[:, -1, :4])
    torch.testing.assert_close(out[:, 4:], everything[:, 0, 4:])


def test_causal_dilated_convolutions_keep_the_length_and_never_see_the_future():
    layers, shape = build_layers(net(*[{"type": "conv1d", "channels": 8, "kernel": 2, "dilation": d} for d in
                                       (1, 2, 4, 8)]), (50, 1))
    assert shape == (50, 8)
    x = torch.randn(2, 50, 1)
    changed = x.clone()
    changed[:, 30:] = torch.randn(2, 20, 1)
    torch.testing.assert_close(layers(changed)[:, :30], layers(x)[:, :30])  # steps before 30 ignore steps from 30 on
    assert not torch.allclose(layers(changed)[:, 30], layers(x)[:, 30])
    # a receptive field of 1 + 1 + 2 + 4 + 8 = 16 steps: step 20 depends on step 5, not on step 4
    for earlier, seen in ((5, True), (4, False)):
        nudged = x.clone()
        nudged[:, earlier] += 1.0
        assert torch.allclose(layers(nudged)[:, 20], layers(x)[:, 20]) != seen
    _, shape = build_layers(net({"type": "conv1d", "channels": 3, "kernel": 4, "stride": 2, "padding": "valid"}),
                            (50, 1))
    assert shape == (24, 3)


@pytest.mark.parametrize("layers, input_shape, message", [
    ([{"type": "lstm", "units": 8}], (1, 28, 28), "model.layers[0] (lstm) needs a sequence (steps, features), got the "
                                                  "image shape (1, 28, 28); put a {type: sequence} layer before it"),
    ([{"type": "flatten"}, {"type": "gru", "units": 8}], (1, 28, 28), "model.layers[1] (gru) needs a sequence"),
    ([{"type": "sequence"}, {"type": "sequence"}], (1, 28, 28), "model.layers[1] (sequence) reads an image"),
    ([{"type": "conv1d", "channels": 2, "kernel": 9, "padding": "valid"}], (5, 1),
     "model.layers[0] (conv1d): kernel 9 at dilation 1 does not fit a sequence of 5 steps"),
    ([{"type": "sequence"}, {"type": "conv", "channels": 2}], (1, 28, 28),
     "model.layers[1] (conv) needs an image input (channels, height, width), got shape (28, 28)"),
])
def test_a_layer_that_cannot_read_its_input_is_one_line_naming_it(layers, input_shape, message):
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        build_layers(NetConfig(layers=layers), input_shape)


@pytest.mark.parametrize("layer, message", [
    ({"type": "lstm", "units": 0}, "greater than or equal to 1"),
    ({"type": "gru", "units": 4, "peephole": True}, "peephole connections are an LSTM option"),
    ({"type": "lstm", "units": 4, "dropout": 0.2}, "dropout acts between stacked layers"),
    ({"type": "lstm", "units": 4, "activation": "relu"}, "activation is the simple RNN's option"),
    ({"type": "rnn", "units": 4, "layers": 0}, "greater than or equal to 1"),
    ({"type": "conv1d", "channels": 4, "stride": 2, "padding": "same"}, "padding 'same' needs stride 1"),
])
def test_recurrent_settings_that_make_no_sense_are_refused(layer, message):
    with pytest.raises(ValidationError, match=message):
        TypeAdapter(LayerSpec).validate_python(layer)
