"""The iQRL agent's configuration: one frozen dataclass with the reference defaults, validated on construction."""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from typing import Any

from mjx_iqrl import schema
from mjx_iqrl.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """Hyperparameters of the iQRL agent (defaults: REFERENCE.md section 2, the official code at HEAD).

    Two deliberate corrections of the reference code:
      (a) the latent-consistency loss MAXIMISES cosine similarity (per-step term -cos); the reference at HEAD
          minimises +cos, which anti-aligns predictions with their targets (REFERENCE.md 1.4);
      (b) the TD target is discounted by gamma**n for every n-step length n; the reference uses 1.0 when nstep == 1
          (REFERENCE.md 1.6).
    The derived latent width `latent_dim * len(fsq_levels)` is the property `latent_width`, never a stored field.
    """

    # Architecture.
    mlp_dims: tuple[int, ...] = (512, 512)
    """Hidden widths of the actor, critics, dynamics and the optional reward/projection heads."""
    enc_mlp_dims: tuple[int, ...] = (256,)
    """Hidden widths of the observation encoder."""
    latent_dim: int = 512
    """Number of FSQ groups; the latent has latent_dim * len(fsq_levels) channels (see `latent_width`)."""
    fsq_levels: tuple[int, ...] = (8, 8)
    """FSQ levels of the channels of one group; prod(fsq_levels) codes per group (64 for (8, 8))."""
    num_critics: int = 5
    """Number of independently initialised critics in the ensemble."""
    q_sample_size: int = 2
    """Random distinct critics drawn per call: min over them for the TD target, mean for the actor loss."""
    use_reward_head: bool = False
    """Train a reward head on the rolled-out latents, r_t ~ R(zhat_t, a_t), added to the encoder loss (weight 1).
    The reference feeds the next latent zhat_{t+1} with a_t; we use the latent the action is taken in."""
    use_projection: bool = False
    """Take the consistency loss between projections of the latents (EMA target projection on the target side)."""
    proj_dim: int | None = None
    """Output width of the projection head; None means latent_width // 16."""
    use_cosine: bool = True
    """Per-step consistency term -cos(zhat, zbar) when True, else the mean squared error."""

    # Representation (encoder, dynamics, heads).
    horizon: int = 5
    """Latent rollout length H; replay windows hold H transitions and H + 1 observations."""
    rho: float = 0.9
    """Per-step weight rho**t of the consistency loss."""
    enc_lr: float = 1e-4
    """AdamW learning rate of the encoder, dynamics and heads."""
    enc_weight_decay: float = 0.01
    """AdamW decoupled weight decay of the encoder, dynamics and heads (the PyTorch default)."""
    grad_clip_norm: float = 20.0
    """Global-norm gradient clip of the encoder, dynamics and heads."""
    enc_tau: float = 0.005
    """EMA rate of the target (momentum) encoder and target projection: target += enc_tau * (online - target)."""
    enc_update_freq: int = 1
    """One world-model step (encoder, dynamics, heads, and their momentum targets) every this many updates (the
    reference's enc_update_freq); the RL steps in between use the current encoder."""

    # TD3.
    nstep: int = 1
    """n of the n-step TD target; at most `horizon`."""
    gamma: float = 0.99
    """Discount factor; the bootstrap is discounted by gamma**m for an m-step return (correction (b))."""
    lr: float = 3e-4
    """Adam learning rate of the actor and the critics."""
    tau: float = 0.005
    """Polyak rate of the actor and critic targets."""
    actor_update_freq: int = 2
    """One actor step (and actor-target Polyak update) every this many updates."""
    policy_noise: float = 0.2
    """Std of the target-policy smoothing noise, in units of the action half-range."""
    noise_clip: float = 0.3
    """Clip of the target-policy smoothing noise, in units of the action half-range."""

    # Inputs.
    normalize_observations: bool = False
    """Standardise observations with the running mean and std of all observations collected (brax's SAC and PPO
    do), before the encoder, in updates, acting and evaluation."""

    # Numerics.
    matmul_precision: str = "default"
    """Precision of float32 matrix products in the networks (`jax.default_matmul_precision` while tracing the update
    and the policy): default lets XLA choose (TF32 on Ampere and newer GPUs), high or highest force more."""

    # Diagnostics.
    log_latent_rank: bool = True
    """Report the effective rank (srank) of the latent batch; costs one SVD per update (the trainer computes it
    once per chunk instead, on a fresh batch)."""
    log_code_usage: bool = True
    """Report the FSQ code usage of the latent batch; costs a sort over the batch per update (the trainer computes
    it once per chunk instead, on a fresh batch)."""
    rank_delta: float = 0.01
    """delta of srank_delta (Kumar et al. 2021): smallest k whose top singular values hold 1 - delta of the sum."""

    def __post_init__(self) -> None:
        _check_types(self)
        _check_values(self)

    @property
    def latent_width(self) -> int:
        """Channels of the latent z: latent_dim * len(fsq_levels)."""
        return self.latent_dim * len(self.fsq_levels)

    @property
    def projection_width(self) -> int:
        """Output width of the projection head: proj_dim, or latent_width // 16 when proj_dim is None."""
        return self.proj_dim if self.proj_dim is not None else max(1, self.latent_width // 16)

    @property
    def codebook_size(self) -> int:
        """Codes per FSQ group: prod(fsq_levels)."""
        return math.prod(self.fsq_levels)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> AgentConfig:
        """Builds a config from plain values (e.g. parsed YAML/CLI); lists become tuples, unknown keys fail."""
        return schema.from_mapping(cls, values, "agent")

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-friendly values of every field (tuples become lists)."""
        return schema.to_dict(self)


def _check_types(cfg: AgentConfig) -> None:
    """Raises ConfigError naming the first field whose value has the wrong type."""
    hints = typing.get_type_hints(AgentConfig)
    for field in dataclasses.fields(cfg):
        value, hint = getattr(cfg, field.name), hints[field.name]
        coerced = schema.coerce(value, hint, f"agent.{field.name}")
        # Exactly the annotated type (an int for a float is fine); e.g. 2.0 for an int field or a list is not.
        if not (coerced is value or type(coerced) is type(value) or (hint is float and isinstance(value, int))):
            raise ConfigError(f"agent.{field.name}={value!r} must be {schema.describe(hint)}")


def _check_values(cfg: AgentConfig) -> None:
    """Raises ConfigError with a one-line message for the first invalid value."""

    def fail(name: str, allowed: str) -> None:
        raise ConfigError(f"agent.{name}={getattr(cfg, name)!r} is invalid; {allowed}")

    if not cfg.fsq_levels or any(level < 2 for level in cfg.fsq_levels):
        fail("fsq_levels", "need at least one level and every level an int >= 2")
    for name in ("mlp_dims", "enc_mlp_dims"):
        if any(width < 1 for width in getattr(cfg, name)):
            fail(name, "every hidden width must be >= 1")
    if cfg.latent_dim < 1:
        fail("latent_dim", "must be >= 1")
    if cfg.proj_dim is not None and cfg.proj_dim < 1:
        fail("proj_dim", "must be >= 1 or null")
    if cfg.horizon < 1:
        fail("horizon", "must be >= 1")
    if not 1 <= cfg.nstep <= cfg.horizon:
        fail("nstep", f"need 1 <= nstep <= horizon={cfg.horizon} (horizon < n-step is not allowed)")
    if cfg.num_critics < 1:
        fail("num_critics", "must be >= 1")
    if not 1 <= cfg.q_sample_size <= cfg.num_critics:
        fail("q_sample_size", f"need 1 <= q_sample_size <= num_critics={cfg.num_critics}")
    if not 0.0 < cfg.gamma <= 1.0:
        fail("gamma", "must be in (0, 1]")
    if not 0.0 <= cfg.rho <= 1.0:
        fail("rho", "must be in [0, 1]")
    for name in ("tau", "enc_tau"):
        if not 0.0 < getattr(cfg, name) <= 1.0:
            fail(name, "must be in (0, 1]")
    for name in ("lr", "enc_lr", "grad_clip_norm"):
        if not getattr(cfg, name) > 0.0:
            fail(name, "must be > 0")
    for name in ("enc_weight_decay", "policy_noise", "noise_clip"):
        if not getattr(cfg, name) >= 0.0:
            fail(name, "must be >= 0")
    if cfg.actor_update_freq < 1:
        fail("actor_update_freq", "must be >= 1")
    if cfg.enc_update_freq < 1:
        fail("enc_update_freq", "must be >= 1")
    if cfg.matmul_precision not in ("default", "high", "highest"):
        fail("matmul_precision", "must be default, high or highest")
    if not 0.0 <= cfg.rank_delta < 1.0:
        fail("rank_delta", "must be in [0, 1)")
