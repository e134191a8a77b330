"""Studies: sweeps over settings × seeds with confidence intervals (`rlgen sweep`), and tuning on Optuna
(`rlgen tune`)."""
