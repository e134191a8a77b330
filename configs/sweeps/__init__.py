"""The shipped sweeps and search spaces (package data of rlgen.configs.sweeps)."""
