"""The shipped configs: one YAML per ready-to-run experiment (installed as package data of rlgen.configs)."""
