"""The `rlgen export` command (rlgen/export.py does the work; rlgen.cli adds it to `rlgen`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rlgen.cli_options import RUN_DIR


@click.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--format", "fmt", type=click.Choice(["onnx", "torchscript"]), default="onnx", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="FILE.onnx, or FILE.pt for TorchScript.")
@click.option("--part", type=click.Choice(["policy", "encoder", "decoder", "classifier", "forecaster"]),
              help="What to export: an autoencoder's encoder or decoder (the other kinds have one part).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def export(run_dir: Path, fmt: str, out: Path, part: str | None, as_json: bool):
    """Export a trained model to ONNX or TorchScript, checked against rlgen's own model in the same command.

    Agents export their greedy policy (observations → the actions the environment takes), autoencoders their
    encoder (images → codings) or decoder (codings → images; a conditional VAE's take labels too), classifiers
    images → logits, forecasters windows → forecasts. The batch size stays free. The file is loaded again
    (onnxruntime, or torch.jit.load), run on sample inputs and compared with rlgen's answers (integers exactly,
    floats within 1e-4 + 1e-4·|value|) before it replaces anything at FILE.

    \b
    Examples:
      rlgen export runs/cartpole --out cartpole.onnx
      rlgen export runs/vae --part decoder --out decoder.onnx
      rlgen export runs/cnn --format torchscript --out cnn.pt
    """
    from rlgen import api
    from rlgen.export import describe

    report = api.load(run_dir).export(out, format=fmt, part=part)
    click.echo(json.dumps(report) if as_json else describe(report))
