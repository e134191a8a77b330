"""Forecasting time series: the `forecaster` kind of run (generated series, naive and learned forecasters)."""
