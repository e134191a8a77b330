"""Recurrent layers for the layer list (`rlgen.layers`) and for recurrent policies: simple RNN, GRU and LSTM cells
over sequences shaped (batch, steps, features).

Without peepholes or layer norm a layer is torch's own `nn.RNN` / `nn.GRU` / `nn.LSTM` (a fused C++ loop on the
CPU, cuDNN on a GPU). Torch has neither option, so a layer that asks for one runs `LoopedRecurrent`, the same
equations stepped in Python, with the same parameter names and gate layout as torch's modules: with the options
off it computes what `nn.LSTM` computes on the same weights (tested), so the two are interchangeable.

    {type: lstm, units: 128, layers: 2, bidirectional: false, dropout: 0.0, return_sequences: false,
     peephole: false, layer_norm: false}

Initialisation (Keras's defaults, which the course's textbook uses): input weights Glorot-uniform, recurrent
weights orthogonal (Saxe et al., 2014; each gate's block on its own), biases zero except the LSTM's forget gate at 1
(Jozefowicz et al., 2015), so that a fresh cell keeps its memory.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, model_validator
from torch import nn

from rlgen.schema import Strict, Width

CellType = Literal["rnn", "gru", "lstm"]
GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # blocks of `units` rows in torch's weight_ih / weight_hh, in torch's order:
# rnn (h), gru (r, z, n), lstm (i, f, g, o)


class RecurrentLayer(Strict):
    """A stack of recurrent layers of one cell type, reading a sequence (steps, features)."""

    type: CellType
    units: Width
    """Units of each layer's state (per direction)."""
    layers: int = Field(default=1, ge=1, le=64)
    """Layers stacked (a deep RNN): each reads the whole output sequence of the one below."""
    bidirectional: bool = False
    """Also read the sequence backwards; the two directions' outputs are concatenated (2 × units features)."""
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Dropout on the outputs of every layer but the last (torch's `dropout`; needs layers ≥ 2)."""
    return_sequences: bool = False
    """true: the output at every step (steps, units); false: the last step's output only (units,) — for a
    bidirectional layer, the forward direction's last step beside the backward direction's first."""
    activation: Literal["tanh", "relu"] = "tanh"
    """The simple RNN's non-linearity (GRU and LSTM cells have their own)."""
    peephole: bool = False
    """LSTM only: the gates also see the cell state (Gers & Schmidhuber, 2000): the input and forget gates c_{t−1},
    the output gate c_t, each through a learned per-unit weight."""
    layer_norm: bool = False
    """Layer-normalise each gate's pre-activation and, in an LSTM, the cell state before its output tanh (Ba,
    Kiros & Hinton, 2016)."""
    init: Literal["orthogonal", "default"] = "orthogonal"
    """orthogonal: Keras's scheme above; default: torch's uniform(±1/√units) for every weight."""

    @model_validator(mode="after")
    def _options_fit_the_cell(self) -> "RecurrentLayer":
        if self.peephole and self.type != "lstm":
            raise ValueError(f"peephole connections are an LSTM option (this layer is {self.type})")
        if self.activation != "tanh" and self.type != "rnn":
            raise ValueError(f"activation is the simple RNN's option ({self.type} cells have their own)")
        if self.dropout > 0 and self.layers < 2:
            raise ValueError("dropout acts between stacked layers: set layers ≥ 2, or dropout 0")
        return self

    @property
    def looped(self) -> bool:
        """Whether the layer needs rlgen's own cell (torch's modules have no peepholes and no layer norm)."""
        return self.peephole or self.layer_norm

    @property
    def out_features(self) -> int:
        return self.units * (2 if self.bidirectional else 1)


State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # h, or (h, c) for an LSTM; each (layers·directions, B, H)


def _suffixes(layers: int, bidirectional: bool) -> list[str]:
    """torch's parameter-name suffixes, layer by layer and direction by direction: _l0, _l0_reverse, _l1, …"""
    return [f"_l{k}{rev}" for k in range(layers) for rev in (("", "_reverse") if bidirectional else ("",))]


class GateNorm(nn.Module):
    """Layer norm of each gate's pre-activations on its own (its H units' mean and spread), with a gain and shift
    per gate and unit: x (B, gates, H)."""

    def __init__(self, gates: int, hidden_size: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(gates, hidden_size))
        self.bias = nn.Parameter(torch.zeros(gates, hidden_size))

    def forward(self, x: torch.Tensor, first: int = 0) -> torch.Tensor:
        blocks = slice(first, first + x.shape[-2])  # which gates x holds
        return nn.functional.layer_norm(x, x.shape[-1:]) * self.weight[blocks] + self.bias[blocks]


class LoopedRecurrent(nn.Module):
    """`nn.RNN` / `nn.GRU` / `nn.LSTM` (batch_first) stepped in Python, with peepholes and layer norm as options.

    Parameters are named as torch's modules name them (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, …), so
    a state dict moves between this module and torch's; the options add weight_peephole_l0 (3, H: input, forget,
    output gate) and ln_gates_l0 / ln_cell_l0 (LayerNorm) per layer and direction."""

    def __init__(self, cell: CellType, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, nonlinearity: str = "tanh",
                 peephole: bool = False, layer_norm: bool = False):
        super().__init__()
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.bidirectional, self.dropout, self.peephole = bidirectional, dropout, peephole
        self.nonlinearity = torch.tanh if nonlinearity == "tanh" else torch.relu
        self.layer_norm = layer_norm
        gates, directions = GATES[cell], 2 if bidirectional else 1
        for index, suffix in enumerate(_suffixes(num_layers, bidirectional)):
            width = input_size if index < directions else hidden_size * directions
            self.register_parameter(f"weight_ih{suffix}", nn.Parameter(torch.empty(gates * hidden_size, width)))
            self.register_parameter(f"weight_hh{suffix}", nn.Parameter(torch.empty(gates * hidden_size, hidden_size)))
            self.register_parameter(f"bias_ih{suffix}", nn.Parameter(torch.empty(gates * hidden_size)))
            self.register_parameter(f"bias_hh{suffix}", nn.Parameter(torch.empty(gates * hidden_size)))
            if peephole:
                self.register_parameter(f"weight_peephole{suffix}", nn.Parameter(torch.zeros(3, hidden_size)))
            if layer_norm:
                self.add_module(f"ln_gates{suffix}", GateNorm(gates, hidden_size))
                if cell == "lstm":
                    self.add_module(f"ln_cell{suffix}", nn.LayerNorm(hidden_size))
        bound = hidden_size ** -0.5
        for name, p in self.named_parameters():  # torch's default; `init_recurrent` replaces it
            if name.startswith(("weight_ih", "weight_hh", "bias_")):
                nn.init.uniform_(p, -bound, bound)

    def _step(self, suffix: str, x_proj: torch.Tensor, state: State) -> State:
        """One step of one layer and direction: `x_proj` is W_ih·x_t + b_ih, precomputed for every step."""
        H = self.hidden_size
        h = state[0] if self.cell == "lstm" else state
        recurrent = nn.functional.linear(h, getattr(self, f"weight_hh{suffix}"), getattr(self, f"bias_hh{suffix}"))
        if self.cell == "gru":  # torch: r and z from both terms, n = tanh(x_n + r ⊙ (W_hn·h + b_hn))
            rz = x_proj[:, :2 * H] + recurrent[:, :2 * H]
            if self.layer_norm:
                rz = getattr(self, f"ln_gates{suffix}")(rz.unflatten(-1, (2, H)), first=0).flatten(-2)
            r, z = torch.sigmoid(rz[:, :H]), torch.sigmoid(rz[:, H:])
            n = x_proj[:, 2 * H:] + r * recurrent[:, 2 * H:]
            if self.layer_norm:
                n = getattr(self, f"ln_gates{suffix}")(n.unsqueeze(1), first=2).squeeze(1)
            return (1 - z) * torch.tanh(n) + z * h
        pre = x_proj + recurrent
        if self.layer_norm:
            pre = getattr(self, f"ln_gates{suffix}")(pre.unflatten(-1, (GATES[self.cell], H))).flatten(-2)
        if self.cell == "rnn":
            return self.nonlinearity(pre)
        c = state[1]
        i, f, g, o = pre.chunk(4, dim=-1)
        if self.peephole:
            p = getattr(self, f"weight_peephole{suffix}")
            i, f = i + p[0] * c, f + p[1] * c
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if self.peephole:
            o = o + p[2] * c  # the output gate sees the new cell state
        shown = getattr(self, f"ln_cell{suffix}")(c) if self.layer_norm else c
        return torch.sigmoid(o) * torch.tanh(shown), c

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """x: (B, T, F) → (outputs (B, T, H·directions), final state), as torch's batch_first modules."""
        B, T, _ = x.shape
        directions = 2 if self.bidirectional else 1
        if state is None:
            zeros = x.new_zeros(self.num_layers * directions, B, self.hidden_size)
            state = (zeros, zeros.clone()) if self.cell == "lstm" else zeros
        suffixes = _suffixes(self.num_layers, self.bidirectional)
        finals: list[State] = []
        for layer in range(self.num_layers):
            outputs = []
            for d in range(directions):
                index = layer * directions + d
                suffix = suffixes[index]
                s: State = (state[0][index], state[1][index]) if self.cell == "lstm" else state[index]
                # (B, T, G·H): the input projection of every step in one matrix product
                x_proj = nn.functional.linear(x, getattr(self, f"weight_ih{suffix}"), getattr(self, f"bias_ih{suffix}"))
                steps = range(T - 1, -1, -1) if d == 1 else range(T)
                seq: list[torch.Tensor] = []
                for t in steps:
                    s = self._step(suffix, x_proj[:, t], s)
                    seq.append(s[0] if self.cell == "lstm" else s)
                if d == 1:
                    seq.reverse()
                outputs.append(torch.stack(seq, dim=1))
                finals.append(s)
            x = torch.cat(outputs, dim=-1) if directions == 2 else outputs[0]
            if self.dropout > 0 and layer < self.num_layers - 1:
                x = nn.functional.dropout(x, self.dropout, self.training)
        if self.cell == "lstm":
            return x, (torch.stack([f[0] for f in finals]), torch.stack([f[1] for f in finals]))
        return x, torch.stack(finals)


TORCH_MODULES = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def build_cell_stack(spec: RecurrentLayer, input_size: int) -> nn.Module:
    """The recurrent module of a spec: torch's own where it has the options, else `LoopedRecurrent`; initialised."""
    if spec.looped:
        module: nn.Module = LoopedRecurrent(spec.type, input_size, spec.units, spec.layers, spec.bidirectional,
                                            spec.dropout, spec.activation, spec.peephole, spec.layer_norm)
    else:
        extra = {"nonlinearity": spec.activation} if spec.type == "rnn" else {}
        module = TORCH_MODULES[spec.type](input_size, spec.units, spec.layers, batch_first=True,
                                          dropout=spec.dropout, bidirectional=spec.bidirectional, **extra)
    if spec.init == "orthogonal":
        init_recurrent(module, spec.type, spec.units)
    return module


def init_recurrent(module: nn.Module, cell: CellType, units: int) -> None:
    """Keras's initialisation: Glorot-uniform input weights, orthogonal recurrent weights (per gate block), zero
    biases, and an LSTM's forget-gate bias at 1 (in bias_ih; bias_hh stays 0, so their sum is 1)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.startswith("weight_ih"):
                for block in p.split(units):
                    nn.init.xavier_uniform_(block)
            elif name.startswith("weight_hh"):
                for block in p.split(units):
                    nn.init.orthogonal_(block)
            elif name.startswith("bias_"):
                nn.init.zeros_(p)
                if cell == "lstm" and name.startswith("bias_ih"):
                    p[units:2 * units] = 1.0


class Recurrent(nn.Module):
    """A recurrent layer in a layer list: (B, T, F) → (B, T, H·directions), or the last step's (B, H·directions)."""

    def __init__(self, spec: RecurrentLayer, input_size: int):
        super().__init__()
        self.rnn = build_cell_stack(spec, input_size)
        self.return_sequences, self.bidirectional = spec.return_sequences, spec.bidirectional
        self.units = spec.units

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.rnn(x)  # (B, T, H·D)
        if self.return_sequences:
            return outputs
        if not self.bidirectional:
            return outputs[:, -1]
        # forward direction after the last step, backward direction after reading back to the first
        return torch.cat([outputs[:, -1, : self.units], outputs[:, 0, self.units:]], dim=-1)
