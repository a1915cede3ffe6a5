"""AgentConfig: reference defaults, derived widths, validation and construction from plain dicts."""

import dataclasses

import pytest

from mjx_iqrl.agent import AgentConfig
from mjx_iqrl.errors import ConfigError


def test_defaults_match_reference_table():
    cfg = AgentConfig()
    assert cfg.mlp_dims == (512, 512)
    assert cfg.enc_mlp_dims == (256,)
    assert (cfg.latent_dim, cfg.fsq_levels, cfg.horizon, cfg.rho, cfg.nstep) == (512, (8, 8), 5, 0.9, 1)
    assert (cfg.gamma, cfg.tau, cfg.enc_tau, cfg.lr, cfg.enc_lr) == (0.99, 0.005, 0.005, 3e-4, 1e-4)
    assert (cfg.enc_weight_decay, cfg.grad_clip_norm) == (0.01, 20.0)
    assert (cfg.num_critics, cfg.q_sample_size, cfg.actor_update_freq) == (5, 2, 2)
    assert (cfg.policy_noise, cfg.noise_clip) == (0.2, 0.3)
    assert not cfg.use_reward_head and not cfg.use_projection and cfg.proj_dim is None and cfg.use_cosine


def test_derived_widths_are_computed_not_stored():
    cfg = AgentConfig()
    # 512 groups x 2 channels; projection 1024 // 16; 8 * 8 codes per group.
    assert (cfg.latent_width, cfg.projection_width, cfg.codebook_size) == (1024, 64, 64)
    assert "latent_width" not in {f.name for f in dataclasses.fields(cfg)}
    small = AgentConfig(latent_dim=4, fsq_levels=(8, 5, 5), proj_dim=7)
    assert (small.latent_width, small.projection_width, small.codebook_size) == (12, 7, 200)


def test_frozen_and_hashable():
    cfg = AgentConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.gamma = 0.5  # type: ignore[misc]
    assert hash(cfg) == hash(AgentConfig())


def test_from_dict_turns_lists_into_tuples():
    cfg = AgentConfig.from_dict({"mlp_dims": [64, 64], "fsq_levels": [8, 6, 5], "grad_clip_norm": 10, "nstep": 3})
    assert cfg.mlp_dims == (64, 64) and cfg.fsq_levels == (8, 6, 5)
    assert cfg.grad_clip_norm == 10 and cfg.nstep == 3
    assert AgentConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"fsq_levels": (8, 1)}, "fsq_levels"),
        ({"fsq_levels": ()}, "fsq_levels"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"horizon": 2, "nstep": 3}, "nstep"),
        ({"nstep": 0}, "nstep"),
        ({"q_sample_size": 6}, "q_sample_size"),
        ({"q_sample_size": 0}, "q_sample_size"),
        ({"gamma": 0.0}, "gamma"),
        ({"gamma": 1.5}, "gamma"),
        ({"rho": -0.1}, "rho"),
        ({"tau": 0.0}, "tau"),
        ({"enc_tau": 2.0}, "enc_tau"),
        ({"lr": 0.0}, "lr"),
        ({"enc_lr": -1e-4}, "enc_lr"),
        ({"actor_update_freq": 0}, "actor_update_freq"),
        ({"mlp_dims": (512, 0)}, "mlp_dims"),
        ({"proj_dim": 0}, "proj_dim"),
        ({"gamma": float("nan")}, "gamma"),
    ],
)
def test_invalid_values_raise_one_line_config_error(overrides, field):
    with pytest.raises(ConfigError) as info:
        AgentConfig(**overrides)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"agent.{field}=")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"fsq_levels": [8, 2.5]}, "fsq_levels"),
        ({"fsq_levels": "88"}, "fsq_levels"),
        ({"latent_dim": "512"}, "latent_dim"),
        ({"num_critics": 5.0}, "num_critics"),
        ({"use_cosine": 1}, "use_cosine"),
        ({"gamma": "0.99"}, "gamma"),
        ({"horizon": True}, "horizon"),
    ],
)
def test_wrong_types_raise_config_error(values, field):
    with pytest.raises(ConfigError) as info:
        AgentConfig.from_dict(values)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(f"agent.{field}")


def test_unknown_key_names_the_key():
    with pytest.raises(ConfigError) as info:
        AgentConfig.from_dict({"latent_dimm": 3, "gamma": 0.9})
    message = str(info.value)
    assert "latent_dimm" in message and "\n" not in message
    assert "latent_dim" in message.split("known under agent:")[1]


def test_direct_construction_rejects_lists():
    with pytest.raises(ConfigError, match=r"^agent.mlp_dims="):
        AgentConfig(mlp_dims=[512, 512])  # type: ignore[arg-type]
