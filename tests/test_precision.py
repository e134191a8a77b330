"""precision: auto measures bf16 against float32 on the run's own model at creation, records both timings, keeps the
choice on --resume, and leaves the model and the RNG states as they were."""

import pytest
import torch
from torch import nn

import rlgen
from rlgen.errors import RlgenError
from rlgen.precision import PROBE_MARGIN, choose_precision, probe
from tests.conftest import train_interrupted_at_epoch_two

CPU = torch.device("cpu")


def never(*_):
    raise AssertionError("the probe ran")


@pytest.mark.parametrize("fp32, bf16, chosen", [(10.0, 8.0, torch.bfloat16), (10.0, 9.5, None), (10.0, 14.0, None)])
def test_auto_picks_bf16_only_when_clearly_faster(fp32, bf16, chosen, monkeypatch):
    monkeypatch.setattr("rlgen.precision.bf16_native", lambda device: True)
    dtype, info = choose_precision("auto", CPU, None, lambda: {"fp32": fp32 / 1e3, "bf16": bf16 / 1e3})
    assert dtype == chosen and (bf16 < PROBE_MARGIN * fp32) == (dtype is not None)
    assert info["precision_probe"] == {"fp32_ms": fp32, "bf16_ms": bf16}
    assert info["precision"] == str(chosen or torch.float32)


def test_no_probe_without_native_bf16_nor_when_asked_or_resumed(monkeypatch):
    monkeypatch.setattr("rlgen.precision.bf16_native", lambda device: False)
    assert choose_precision("auto", CPU, None, never) == (None, {"precision": "torch.float32",
                                                                "precision_from": "auto: cpu has no native bf16"})
    assert choose_precision("bf16", CPU, None, never)[0] == torch.bfloat16
    assert choose_precision("auto", CPU, {"precision": "torch.bfloat16"}, never) == (torch.bfloat16, {})
    with pytest.raises(RlgenError, match="info.precision"):
        choose_precision("auto", CPU, {"precision": "float16"}, never)


def test_the_probe_changes_neither_the_model_nor_the_random_streams():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.5), nn.Linear(16, 1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randn(32, 8), torch.randn(32)
    rng = torch.get_rng_state()
    seconds = probe(model, lambda m, xs, ys: {"loss": (m(xs).squeeze(-1) - ys).square().mean()}, x, y, CPU)
    assert set(seconds) == {"fp32", "bf16"} and all(s > 0 for s in seconds.values())
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_a_run_records_its_choice_and_keeps_it_on_resume(tmp_path, monkeypatch):
    monkeypatch.setattr("rlgen.precision.bf16_native", lambda device: True)
    monkeypatch.setattr("rlgen.dataset_kind.probe", lambda *args: {"fp32": 0.010, "bf16": 0.004})
    tiny = {"data.limit": 600, "data.validation": 100, "train.epochs": 3, "device": "cpu"}
    train_interrupted_at_epoch_two(lambda: rlgen.train("fashion_stacked_ae", tiny, run_dir=tmp_path / "ae", quiet=True),
                                   monkeypatch)
    info = rlgen.load(tmp_path / "ae").meta.info
    assert info["precision"] == "torch.bfloat16" and info["precision_probe"] == {"fp32_ms": 10.0, "bf16_ms": 4.0}
    monkeypatch.setattr("rlgen.dataset_kind.probe", never)  # the resumed run keeps the choice, without measuring
    monkeypatch.setattr("rlgen.precision.bf16_native", lambda device: False)
    resumed = rlgen.resume(tmp_path / "ae", quiet=True)
    assert resumed.result.progress == 3 and resumed.meta.info["precision"] == "torch.bfloat16"
