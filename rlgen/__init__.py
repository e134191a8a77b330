"""rlgen: policy-gradient agents, autoencoders and classifiers on one small PyTorch core.

    import rlgen
    run = rlgen.train("fashion_mlp", overrides={"train.epochs": 3})  # a shipped config's name, or a YAML path
    run.evaluate()
    rlgen.shipped_configs()  # name → one-line description of every shipped config, sweep and search space
"""

__version__ = "0.2.0"
__all__ = ["__version__", "load", "resume", "shipped_configs", "summary", "sweep", "train", "train_seeds",
           "tune"]


def __getattr__(name: str):
    """The API functions, imported on first use (the CLI's `--version` should not wait for torch)."""
    if name in ("train", "train_seeds", "load", "resume", "summary"):
        from rlgen import api

        return getattr(api, name)
    if name in ("sweep", "tune"):  # studies: rlgen.studies.api
        from rlgen.studies import api as studies

        return getattr(studies, name)
    if name == "shipped_configs":
        from rlgen.shipped import shipped_configs

        return shipped_configs
    raise AttributeError(f"module 'rlgen' has no attribute {name!r}")
