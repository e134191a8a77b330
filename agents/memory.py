"""Recurrent policies and critics: observation encoder → LSTM or GRU → head, with the state carried across steps.

    obs (…, D) → encoder (the spec's hidden layers) → recurrent core (units) → head (linear) → logits or V(s)

The state of N env copies is one tensor (K, layers, N, H): K = 2 for an LSTM (h, c), 1 for a GRU (h).

How episodes meet the state. `starts[t, n]` is true when obs[t, n] is the first observation of an episode; the
state is zeroed right before such a step is read, so no episode sees another's memory. With gymnasium's next-step
autoreset (agents/rollout.py) an episode that ends at step t (terminated or truncated alike) returns its final
observation there; step t + 1 is the reset step, which reads that final observation with the ended episode's state
still in place (its action is ignored, and the value it gives is V(final observation) with the episode's memory,
what GAE bootstraps a truncated episode from); step t + 2 reads the new episode's first observation, so
`starts[t + 2]` is true. Terminated and truncated episodes reset the state the same way: truncation changes the
bootstrap, never the memory.

Two ways through the same network: `step` (one step of every copy, for acting) and `sequence` (a whole (T, N)
rollout from the state it started in, for the update), which cuts the T steps wherever some copy starts an episode
and runs torch's LSTM / GRU once over each span of all N copies (zeroing the state of the copies that start), so
that an update replays exactly the sequences the rollout saw (tested against `step`). On the CPU this costs 1.2–3×
less than packing each copy's episode segments into one `PackedSequence` (benchmarks/recurrent.py's figures in
the README): torch's packed kernels are slow on small batches, and an episode start somewhere cuts few spans.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from rlgen.nets import MLPConfig, build_mlp, output_head
from rlgen.recurrent import RecurrentLayer, build_cell_stack
from rlgen.schema import Strict, Width


class MemoryConfig(Strict):
    """The recurrent core of a policy or critic, between its encoder (the `hidden` layers) and its head."""

    type: Literal["lstm", "gru"] = "lstm"
    units: Width = 64
    """Units of the state (h, and c for an LSTM)."""
    layers: int = Field(default=1, ge=1, le=8)
    """Stacked recurrent layers."""


class PolicyNetConfig(MLPConfig):
    """A policy or value network: the MLP, with an optional recurrent core after its hidden layers."""

    recurrent: MemoryConfig | None = None
    """An LSTM or GRU between the encoder (the hidden layers) and the output layer (None: a feed-forward net).
    REINFORCE, A2C and PPO all train it; see agents/memory.py for how the state meets episode ends."""


class MemoryNet(nn.Module):
    """Encoder → recurrent core → head, one network of a recurrent actor-critic."""

    def __init__(self, spec: PolicyNetConfig, in_features: int, out_features: int):
        super().__init__()
        core = spec.recurrent
        self.encoder = build_mlp(spec, in_features, 1)[:-1]  # the hidden blocks; the head comes after the core
        width = spec.hidden[-1] if spec.hidden else in_features
        self.core = build_cell_stack(RecurrentLayer(type=core.type, units=core.units, layers=core.layers), width)
        self.head = output_head(spec, core.units, out_features)
        self.lstm = core.type == "lstm"
        self.state_shape = (2 if self.lstm else 1, core.layers, core.units)  # (K, layers, H) per copy

    def initial_state(self, copies: int, device: torch.device | str) -> torch.Tensor:
        k, layers, units = self.state_shape
        return torch.zeros(k, layers, copies, units, device=device)

    def _unpack(self, state: torch.Tensor):
        return (state[0].contiguous(), state[1].contiguous()) if self.lstm else state[0].contiguous()

    def _pack(self, state) -> torch.Tensor:
        return torch.stack(state) if self.lstm else state.unsqueeze(0)

    def step(self, obs: torch.Tensor, state: torch.Tensor, start: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of N copies: obs (N, D), state (K, layers, N, H), start (N,) → outputs (N, out), new state."""
        state = state * (~start).to(state.dtype)[None, None, :, None]
        out, new = self.core(self.encoder(obs).unsqueeze(1), self._unpack(state))  # a sequence of one step
        return self.head(out[:, 0]), self._pack(new)

    def sequence(self, obs: torch.Tensor, starts: torch.Tensor, state: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """A rollout: obs (T, N, D), starts (T, N), the copies' state before step 0 (K, layers, N, H) → outputs
        (T, N, out) and the state after step T − 1, as stepping `step` through it would give."""
        T = starts.shape[0]
        features = self.encoder(obs).transpose(0, 1)  # (N, T, F)
        # the steps where some copy starts an episode cut the rollout into spans that no episode start interrupts
        cuts = [0, *(starts[1:].any(1).nonzero().squeeze(1) + 1).tolist(), T]  # one host sync
        outputs = []
        for begin, end in zip(cuts[:-1], cuts[1:]):
            state = state * (~starts[begin]).to(state.dtype)[None, None, :, None]
            out, new = self.core(features[:, begin:end], self._unpack(state))
            outputs.append(out)
            state = self._pack(new)
        return self.head(torch.cat(outputs, dim=1).transpose(0, 1)), state
