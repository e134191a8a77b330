"""rlgen: policy-gradient agents and autoencoders on one small PyTorch core."""

__version__ = "0.1.0"
