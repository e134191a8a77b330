"""A hint in a run's final line when it learnt nothing: a classifier at chance level, an agent whose greedy policy
never did better than its first, untrained, episodes. Each names the setting most likely to blame."""

from __future__ import annotations

import math

LR_SANE = (1e-6, 1.0)  # learning rates outside this range are the usual cause of a run that learns nothing


def likely_setting(lr: float, budget: str, amount: int) -> str:
    """The setting to look at first: a learning rate far outside the usual range, else the budget and then the rate."""
    low, high = LR_SANE
    if not low <= lr <= high:
        return f"optimizer.lr={lr:g} is the likely cause (the shipped configs use 1e-4 to 0.1)"
    return f"check {budget} ({amount:,}) and optimizer.lr ({lr:g})"


def chance_hint(best: float | None, classes: int, lr: float, epochs: int) -> str | None:
    """A classifier whose best validation accuracy is within a few points of guessing (1/classes)."""
    chance = 1.0 / classes
    if best is None or math.isnan(best) or best > chance + 0.05:
        return None
    return (f"accuracy {best:.1%} is chance level for {classes} classes ({chance:.0%}): nothing was learnt; "
            f"{likely_setting(lr, 'train.epochs', epochs)}")


def random_policy_hint(best: float | None, first_return: float | None, lr: float, total_steps: int) -> str | None:
    """An agent whose best greedy evaluation is no better than the mean return of its first training episodes (a
    near-uniform random policy's), within 10 % of that return's size."""
    if best is None or first_return is None or math.isnan(first_return) or math.isinf(best):
        return None
    if best > first_return + 0.1 * abs(first_return):
        return None
    return (f"the greedy policy never beat its first, random episodes (best evaluation {best:.4g}, first episodes "
            f"{first_return:.4g}): {likely_setting(lr, 'train.total_steps', total_steps)}")


def first_finite(rows: list[dict[str, float]], key: str) -> float | None:
    """The first value of a metric that is a number (rollouts that finished no episode log NaN)."""
    for row in rows:
        value = row.get(key)
        if value is not None and not math.isnan(value):
            return value
    return None
