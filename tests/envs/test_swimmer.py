"""The swimmer's N-link chain, built with MjSpec, compiles to exactly dm_control's lxml-generated model."""

from __future__ import annotations

import pytest

from envs import physics
from envs.domains import swimmer
from tests.envs import oracle


@pytest.mark.parametrize("n_bodies", [3, 6, 15])
def test_chain_compiles_to_dm_control_model(n_bodies):
    """Every array of the compiled model (bodies, joints, geoms, actuators, sensors, cameras, names) is dm_control's."""
    from dm_control import mujoco as dm_mujoco
    from dm_control.suite import swimmer as dm_swimmer

    spec = physics.load_spec(swimmer.Swimmer.XML)
    swimmer.build_chain(spec, n_bodies)
    ours = spec.compile()
    theirs = dm_mujoco.Physics.from_xml_string(*dm_swimmer.get_model_and_assets(n_bodies)).model.ptr
    assert (ours.nbody, ours.njnt, ours.nu, ours.nsensor) == (theirs.nbody, theirs.njnt, theirs.nu, theirs.nsensor)
    assert ours.nbody == n_bodies + 1
    different = oracle.model_differences(ours, theirs)
    assert not different, f"fields that differ from dm_control's model: {different}"


def test_fewer_than_three_bodies_is_an_error():
    with pytest.raises(ValueError, match="at least 3 bodies"):
        swimmer.build_chain(physics.load_spec(swimmer.Swimmer.XML), 2)
