"""A stable-baselines3 model a user brings as SB3's own `.zip` (`model.save(...)`): loaded with SB3's loader, then
judged and filmed on gymnasium's environment exactly as rlgen's runs are (`rlgen evaluate model.zip --env ID`).

A `.zip` holds pickled Python objects that run code when loaded; unlike rlgen's own files (safetensors and JSON) it
is loaded only after a one-line warning, and only a file the user names."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import torch

from rlgen.agents.sb3_bridge import SB3Actor
from rlgen.envs.make import EnvConfig, make_env
from rlgen.errors import RlgenError

WARNING = ("rlgen: warning: a stable-baselines3 .zip holds pickled objects that run code when loaded; load only "
           "files you trust")
# the policy class's module (in the zip's `data` JSON) → the algorithm that saved it; PPO and A2C share a policy
# class, and either loads it to act alike
ALGOS = {"stable_baselines3.sac": "SAC", "stable_baselines3.td3": "TD3", "stable_baselines3.dqn": "DQN",
         "sb3_contrib.common.recurrent": "RecurrentPPO", "stable_baselines3.common.policies": "PPO"}
CLASSES = {"PPO": "stable_baselines3", "A2C": "stable_baselines3", "SAC": "stable_baselines3",
           "TD3": "stable_baselines3", "DDPG": "stable_baselines3", "DQN": "stable_baselines3",
           "RecurrentPPO": "sb3_contrib"}


def saved_algo(path: Path) -> str:
    """The algorithm that saved the zip, from the policy class it names (read as JSON: nothing is unpickled)."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise RlgenError(f"{path} is not a stable-baselines3 model file ({exc})") from None
    module = str(data.get("policy_class", {}).get("__module__", ""))
    for prefix, algo in ALGOS.items():
        if module.startswith(prefix):
            return algo
    raise RlgenError(f"{path}: cannot tell which algorithm saved it (policy class from {module or 'nowhere'}); "
                     f"give --algo ({', '.join(CLASSES)})")


def load_zip(path: Path, env_id: str, device: torch.device, algo: str | None = None):
    """SB3's model object, checked against the environment it is to play."""
    path = Path(path)
    if not path.is_file():
        raise RlgenError(f"{path} does not exist")
    algo = algo or saved_algo(path)
    if algo not in CLASSES:
        raise RlgenError(f"--algo {algo!r} is not one of {', '.join(CLASSES)}")
    import importlib

    env = make_env(env_id)
    print(WARNING, file=sys.stderr)
    try:
        model = getattr(importlib.import_module(CLASSES[algo]), algo).load(path, device=device)
    except Exception as exc:  # whatever unpickling or SB3's checks raise: one line naming the file
        raise RlgenError(f"cannot load {path} as a stable-baselines3 {algo} model: {exc}") from None
    for what, theirs, ours in (("observation", model.observation_space, env.observation_space),
                               ("action", model.action_space, env.action_space)):
        if theirs.shape != ours.shape or type(theirs) is not type(ours):
            raise RlgenError(f"{path} was trained with {type(theirs).__name__} {what}s of shape {theirs.shape}; "
                             f"{env_id} has {type(ours).__name__} {what}s of shape {ours.shape}")
    env.close()
    return model


def zip_actor(path: Path, env_id: str, device: torch.device, greedy: bool, algo: str | None = None) -> SB3Actor:
    return SB3Actor(load_zip(path, env_id, device, algo), greedy, None)


def zip_env(env_id: str) -> EnvConfig:
    return EnvConfig(id=env_id)
