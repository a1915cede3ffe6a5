"""The iQRL agent in JAX: config, FSQ, networks, losses and a jittable update (see REFERENCE.md sections 1-2)."""

from mjx_iqrl.agent.batch import Batch, NStepReturn, nstep_return, valid_mask
from mjx_iqrl.agent.config import AgentConfig
from mjx_iqrl.agent.diagnostics import effective_rank
from mjx_iqrl.agent.losses import LatentTransition, actor_loss, critic_loss, td_target, world_model_loss
from mjx_iqrl.agent.networks import AgentNetworks, WorldModelParams, make_networks
from mjx_iqrl.agent.policy import Policy, PolicyParams, make_policy
from mjx_iqrl.agent.update import WORLD_MODEL_METRICS, Agent, GradientStep, TrainState, gradient_step, make_agent

__all__ = [
    "WORLD_MODEL_METRICS",
    "Agent",
    "AgentConfig",
    "AgentNetworks",
    "Batch",
    "GradientStep",
    "LatentTransition",
    "NStepReturn",
    "Policy",
    "PolicyParams",
    "TrainState",
    "WorldModelParams",
    "actor_loss",
    "critic_loss",
    "effective_rank",
    "gradient_step",
    "make_agent",
    "make_networks",
    "make_policy",
    "nstep_return",
    "td_target",
    "valid_mask",
    "world_model_loss",
]
