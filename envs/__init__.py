"""Environment construction for rlgen agents."""

from rlgen.envs.make import EnvConfig, check_spaces, make_env, make_vec_env
from rlgen.envs import torch_pendulum
from rlgen.envs.torch_cartpole import TorchCartPoleVectorEnv, register

register()  # gymnasium.make("rlgen/CartPole-v1") / make_vec(..., vectorization_mode="vector_entry_point")
torch_pendulum.register()  # and "rlgen/Pendulum-v1"

__all__ = ["EnvConfig", "TorchCartPoleVectorEnv", "check_spaces", "make_env", "make_vec_env"]
