"""Typed configs of agent runs: one section per component, one run config per algorithm."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rlgen.agents.a2c import A2CConfig
from rlgen.agents.ppo import PPOConfig
from rlgen.agents.reinforce import ReinforceConfig
from rlgen.envs.make import EnvConfig
from rlgen.agents.distributions import ActorNetConfig
from rlgen.agents.memory import PolicyNetConfig
from rlgen.optim import OptimizerConfig
from rlgen.schema import RunBase, Strict, Widths


class EvalScheduleConfig(Strict):
    """Budget and evaluation schedule, the same for every agent (rlgen's and stable-baselines3's)."""

    total_steps: int = Field(default=300_000, ge=1, le=10**12)
    """Environment steps (real transitions) to train for at most."""
    eval_every_steps: int = Field(default=10_000, ge=1, le=10**12)
    """Evaluate greedily after at least this many environment steps since the last evaluation."""
    eval_episodes: int = Field(default=100, ge=1, le=10**6)
    """Episodes per periodic evaluation (on gymnasium's own env)."""
    eval_seed_offset: int = Field(default=10_000, ge=0, le=2**31)
    """Evaluation episode k resets with seed + eval_seed_offset + k, away from the training envs' seeds."""
    target_return: float | None = 475.0
    """Stop once a periodic evaluation's mean return reaches this (None: train the whole budget)."""


class AgentTrainConfig(EvalScheduleConfig):
    """The schedule plus the rollout shape of rlgen's on-policy loop."""

    rollout: Literal["episodes", "steps"] = "episodes"
    """episodes: each iteration plays one fresh episode per env copy; steps: `rollout_steps` steps per copy, with
    episodes carrying on between iterations."""
    rollout_steps: int = Field(default=128, ge=1, le=10**6)
    """Steps per env copy per iteration when `rollout` is steps."""
    tensorboard_images: bool = True
    """At the end of training, one greedy episode of the best weights as a GIF in TensorBoard's Images tab (not
    for batched --seeds); false saves the second it takes to play and draw it."""


class AgentRunConfig(RunBase):
    """Fields shared by every rlgen agent run."""

    env: EnvConfig = Field(default_factory=EnvConfig)
    policy: ActorNetConfig = Field(default_factory=lambda: ActorNetConfig(output_gain=0.01))
    """The policy network (observation → a categorical's logits, or a Gaussian's mean and log-std for a Box action
    space), feed-forward or with a recurrent core."""
    value: PolicyNetConfig = Field(default_factory=lambda: PolicyNetConfig(output_gain=1.0))
    """The value network (observation → V(s)), built only when the algorithm uses a critic."""
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    train: AgentTrainConfig = Field(default_factory=AgentTrainConfig)
    normalize_observations: bool = False
    """Every network reads running-normalised observations, clip((x − μ)/√(σ² + 1e-8), ±observation_clip), as
    SB3's VecNormalize gives them; the statistics are learned from the rollouts and saved with the weights
    (agents/obs_norm.py)."""
    observation_clip: float = Field(default=10.0, gt=0.0, le=1e6)
    """The bound of normalised observations (VecNormalize's clip_obs)."""
    scale_rewards: bool = False
    """The updates learn on rewards divided by the running standard deviation of each copy's discounted return
    (VecNormalize's norm_reward; agents/obs_norm.py's RewardScale); reported returns stay the env's."""
    reward_clip: float = Field(default=10.0, gt=0.0, le=1e6)
    """The bound of scaled rewards (VecNormalize's clip_reward)."""


class ReinforceRunConfig(AgentRunConfig):
    algo: Literal["reinforce"]
    reinforce: ReinforceConfig = Field(default_factory=ReinforceConfig)


class A2CRunConfig(AgentRunConfig):
    algo: Literal["a2c"]
    a2c: A2CConfig = Field(default_factory=A2CConfig)


class PPORunConfig(AgentRunConfig):
    algo: Literal["ppo"]
    ppo: PPOConfig = Field(default_factory=PPOConfig)


class SB3Config(Strict):
    """stable-baselines3 hyperparameters (defaults: rl-baselines3-zoo's PPO for CartPole-v1; SAC's own fields have
    SB3's defaults)."""

    n_steps: int = Field(default=32, ge=1, le=10**6)
    """Steps per env copy per rollout."""
    batch_size: int = Field(default=256, ge=1, le=10**7)
    """PPO: minibatch size; SAC: transitions per gradient step."""
    n_epochs: int = Field(default=20, ge=1, le=10**4)
    """PPO: passes over each rollout."""
    gamma: float = Field(default=0.98, ge=0.0, le=1.0)
    gae_lambda: float = Field(default=0.8, ge=0.0, le=1.0)
    ent_coef: float | Literal["auto"] | None = None
    """Entropy coefficient. None: the algorithm's default (0 for PPO and A2C, auto for SAC); auto (SAC only): tuned
    towards a target entropy of −(action dimensions), as SB3's SAC does by default."""
    vf_coef: float = Field(default=0.5, ge=0.0, le=1e3)
    learning_rate: float = Field(default=1e-3, gt=0.0, le=1e6)
    lr_schedule: Literal["constant", "linear"] = "linear"
    """linear: decays to 0 over total_steps, as the zoo's `lin_` schedules."""
    clip_range: float = Field(default=0.2, gt=0.0, le=1e3)
    """PPO: clip range ε."""
    clip_schedule: Literal["constant", "linear"] = "linear"
    max_grad_norm: float = Field(default=0.5, gt=0.0, le=1e9)
    net_arch: Widths = Field(default_factory=lambda: [64, 64])
    """Hidden layers of SB3's MlpPolicy (policy and value networks alike; after the LSTM in sb3_recurrent_ppo)."""
    activation: Literal["tanh", "relu"] = "tanh"
    """The networks' activation (SB3's activation_fn; its default is tanh)."""
    ortho_init: bool = True
    """SB3's orthogonal initialisation of the networks (its default)."""
    lstm_hidden_size: int = Field(default=256, ge=1, le=65536)
    """sb3_recurrent_ppo: units of the LSTM (sb3-contrib's default 256)."""
    enable_critic_lstm: bool = True
    """sb3_recurrent_ppo: the critic has an LSTM of its own (sb3-contrib's default)."""
    use_sde: bool = False
    """Generalized state-dependent exploration for Box action spaces (SB3's use_sde; the zoo's Pendulum PPO)."""
    sde_sample_freq: int = Field(default=-1, ge=-1, le=10**6)
    """With use_sde: draw new exploration noise every this many steps (-1: once per rollout)."""
    buffer_size: int = Field(default=1_000_000, ge=1, le=10**9)
    """SAC: transitions kept in the replay buffer."""
    learning_starts: int = Field(default=100, ge=0, le=10**12)
    """SAC: env steps of random actions before the first gradient step."""
    tau: float = Field(default=0.005, gt=0.0, le=1.0)
    """SAC: the target critics move this fraction of the way to the critics after each gradient step."""
    train_freq: int = Field(default=1, ge=1, le=10**6)
    """SAC: env steps (per copy) between updates."""
    gradient_steps: int = Field(default=1, ge=1, le=10**6)
    """SAC: gradient steps per update."""
    log_std_init: float | None = Field(default=None, ge=-20.0, le=2.0)
    """Box actions: the Gaussian's initial log standard deviation (None: SB3's default, 0); the zoo's gSDE recipes
    start low (MountainCarContinuous: −3.29)."""
    normalize_rewards: bool = False
    """Train on rewards scaled by VecNormalize (its norm_reward, discounted with `gamma`); reported returns and
    evaluations stay the env's."""
    normalize_observations: bool = False
    """Wrap the training envs in SB3's VecNormalize (observations only, not rewards); its statistics are saved with
    the weights and normalise evaluation and rendering alike."""


class SB3RunConfig(RunBase):
    """Train stable-baselines3's PPO, A2C or SAC, or sb3-contrib's RecurrentPPO, through rlgen's command line and run
    directory."""

    algo: Literal["sb3_ppo", "sb3_a2c", "sb3_recurrent_ppo", "sb3_sac"]
    env: EnvConfig = Field(default_factory=EnvConfig)
    sb3: SB3Config = Field(default_factory=SB3Config)
    train: EvalScheduleConfig = Field(default_factory=EvalScheduleConfig)

    @model_validator(mode="after")
    def _auto_entropy_is_sac(self) -> SB3RunConfig:
        coef = self.sb3.ent_coef
        if coef == "auto" and self.algo != "sb3_sac":
            raise ValueError(f"sb3.ent_coef auto is SAC's (sb3_sac); {self.algo} takes a number")
        if isinstance(coef, float) and not 0.0 <= coef <= 1e3:
            raise ValueError(f"sb3.ent_coef must be from 0 to 1000 (got {coef})")
        return self


RL_CONFIGS: dict[str, type[AgentRunConfig]] = {"reinforce": ReinforceRunConfig, "a2c": A2CRunConfig,
                                                "ppo": PPORunConfig}
SB3_CONFIGS: dict[str, type[SB3RunConfig]] = {"sb3_ppo": SB3RunConfig, "sb3_a2c": SB3RunConfig,
                                               "sb3_recurrent_ppo": SB3RunConfig, "sb3_sac": SB3RunConfig}
