"""Environment construction for rlgen agents."""

from envs.make import EnvConfig, check_spaces, make_env, make_vec_env

__all__ = ["EnvConfig", "check_spaces", "make_env", "make_vec_env"]
