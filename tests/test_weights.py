"""Weights by name: loading the part under a prefix into part of a model, strict errors that name the keys, and no
wrapper prefix in any file."""

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from rlgen.checkpoint import save_tensors
from rlgen.errors import RlgenError
from rlgen.weights import load_module_state, module_state, select_prefix, unwrap


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


class Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder, self.decoder = mlp(), nn.Linear(2, 4)


def test_select_prefix_takes_whole_module_names():
    tensors = {"encoder.0.weight": 1, "encoder.0.bias": 2, "encoder2.weight": 3, "decoder.weight": 4}
    assert select_prefix(tensors, "encoder") == {"0.weight": 1, "0.bias": 2}
    assert select_prefix(tensors, "encoder.0.") == {"weight": 1, "bias": 2}
    assert select_prefix(tensors, "") == tensors


def test_load_a_prefix_into_part_of_a_model():
    source, target = Pair(), mlp()
    load_module_state(target, source.state_dict(), "source", prefix="encoder")
    for name, value in target.state_dict().items():
        assert torch.equal(value, source.encoder.state_dict()[name])


def test_strict_load_names_missing_and_unexpected_keys():
    source = Pair().state_dict()
    wider = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.Linear(2, 2))
    with pytest.raises(RlgenError, match=r"missing keys: 3\.bias, 3\.weight"):
        load_module_state(wider, source, "source.safetensors", prefix="encoder")
    with pytest.raises(RlgenError, match=r"does not fit the model: unexpected keys: decoder\.extra$"):
        load_module_state(Pair(), {**source, "decoder.extra": torch.ones(1)}, "x")


def test_non_strict_load_keeps_what_is_missing():
    wider = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.Linear(2, 2))
    kept = wider[3].weight.detach().clone()
    load_module_state(wider, Pair().state_dict(), "x", prefix="encoder", strict=False)
    assert torch.equal(wider[3].weight, kept)


def test_shape_mismatch_and_empty_prefix_are_named():
    source = Pair().state_dict()
    with pytest.raises(RlgenError, match=r"0\.bias is torch.float32 \(3,\), the model needs torch.float32 \(5,\)"):
        load_module_state(nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2)), source, "x", prefix="encoder")
    with pytest.raises(RlgenError, match="no name starts with 'trunk'"):
        load_module_state(mlp(), source, "x", prefix="trunk")


@pytest.mark.parametrize("wrap", [nn.DataParallel, torch.compile], ids=["data-parallel", "compiled"])
def test_no_wrapper_prefix_reaches_a_file(tmp_path, wrap):
    model = Pair()
    wrapped = wrap(model)
    assert any(k.startswith(("module.", "_orig_mod.")) for k in wrapped.state_dict())  # what the wrapper would write
    assert unwrap(wrapped) is model
    save_tensors(tmp_path / "w.safetensors", module_state(wrapped))
    saved = load_file(tmp_path / "w.safetensors")
    assert set(saved) == set(model.state_dict())
    fresh = Pair()
    load_module_state(wrap(fresh), saved, "w")  # and a wrapped model loads bare names
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))
