"""rlgen: policy-gradient agents, autoencoders and classifiers on one small PyTorch core.

    import rlgen
    run = rlgen.train("fashion_mlp", overrides={"train.epochs": 3})  # a shipped config's name, or a YAML path
    run.evaluate()
    rlgen.shipped_configs()  # name → one-line description of every shipped config, sweep and search space
"""

__version__ = "0.2.0"

# name → the module that holds it, imported on first use (the CLI's `--version` should not wait for torch)
_LAZY = {
    "train": "rlgen.api", "train_seeds": "rlgen.api", "load": "rlgen.api", "resume": "rlgen.api",
    "summary": "rlgen.api", "plot_runs": "rlgen.api", "Run": "rlgen.api",
    "evaluate_file": "rlgen.api", "render_file": "rlgen.api",
    "sweep": "rlgen.studies.api", "tune": "rlgen.studies.api", "sweep_report": "rlgen.studies.api",
    "shipped_configs": "rlgen.shipped",
    "TrainResult": "rlgen.runstate",
    "RlgenError": "rlgen.errors", "ConfigError": "rlgen.errors", "TrainingInterrupted": "rlgen.errors",
}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'rlgen' has no attribute {name!r}")


def __dir__() -> list[str]:
    """What tab completion offers: the public names, though most are imported only when first used."""
    return sorted(set(globals()) | set(__all__))
