"""`envs.rewards.tolerance` against dm_control's own `rewards.tolerance` (the oracle), for every sigmoid."""

from __future__ import annotations

import itertools

import jax
import numpy as np
import pytest
from dm_control.utils import rewards as dm_rewards  # imports no renderer

from envs import rewards

X = np.concatenate([np.linspace(-12.0, 12.0, 241), [-np.inf, np.inf, 0.0, 1.0, -1.0, 2.0, 0.5]])
BOUNDS = [(0.0, 0.0), (-1.0, 1.0), (0.5, 2.0), (10.0, np.inf), (-np.inf, -3.0), (-np.inf, np.inf)]
MARGINS = [0.0, 0.5, 1.0, 5.0]
VALUES_AT_MARGIN = [0.1, 0.5, 0.9]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # dm_control computes inf - inf at infinite bounds
@pytest.mark.parametrize("sigmoid", rewards.SIGMOIDS)
def test_tolerance_matches_dm_control(sigmoid):
    """Every (bounds, margin, value_at_margin) combination on 248 points, including infinities and the bounds."""
    for bounds, margin, value in itertools.product(BOUNDS, MARGINS, VALUES_AT_MARGIN):
        expected = dm_rewards.tolerance(X, bounds=bounds, margin=margin, sigmoid=sigmoid, value_at_margin=value)
        ours = rewards.tolerance(X, bounds=bounds, margin=margin, sigmoid=sigmoid, value_at_margin=value)
        np.testing.assert_allclose(
            np.asarray(ours), expected, atol=1e-6, rtol=1e-5, err_msg=f"{bounds} {margin} {value}"
        )


@pytest.mark.parametrize("sigmoid", ["linear", "quadratic", "cosine"])
def test_zero_value_at_margin(sigmoid):
    """The three sigmoids with finite support accept value_at_margin=0, as dm_control's do."""
    expected = dm_rewards.tolerance(X, bounds=(-1, 1), margin=2.0, sigmoid=sigmoid, value_at_margin=0.0)
    ours = rewards.tolerance(X, bounds=(-1, 1), margin=2.0, sigmoid=sigmoid, value_at_margin=0.0)
    np.testing.assert_allclose(np.asarray(ours), expected, atol=1e-6)


def test_hand_computed_values():
    """A few values worked by hand: gaussian at the margin gives value_at_margin; linear halfway gives the mean."""
    # x = 3, bounds (0, 1), margin 2: distance 2 = margin -> exactly value_at_margin.
    assert float(rewards.tolerance(3.0, (0.0, 1.0), margin=2.0, value_at_margin=0.1)) == pytest.approx(0.1)
    # linear, value_at_margin 0: distance 1 of margin 2 -> 1 - 0.5 = 0.5.
    assert float(rewards.tolerance(2.0, (0.0, 1.0), margin=2.0, sigmoid="linear", value_at_margin=0.0)) == 0.5
    # inside the bounds -> 1; outside with margin 0 -> 0.
    assert float(rewards.tolerance(0.5, (0.0, 1.0))) == 1.0
    assert float(rewards.tolerance(1.5, (0.0, 1.0))) == 0.0


def test_jittable_and_vectorised():
    """The port is a pure JAX function of x: jit and vmap give the eager values."""
    f = lambda x: rewards.tolerance(x, bounds=(0.0, 1.0), margin=1.0, sigmoid="long_tail")
    x = np.linspace(-3, 3, 13).astype(np.float32)
    np.testing.assert_allclose(jax.jit(f)(x), f(x), atol=1e-7)
    np.testing.assert_allclose(jax.vmap(f)(x), f(x), atol=1e-7)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(bounds=(1.0, 0.0)),
        dict(margin=-1.0),
        dict(margin=1.0, sigmoid="gaussian", value_at_margin=0.0),
        dict(margin=1.0, sigmoid="linear", value_at_margin=1.0),
        dict(margin=1.0, sigmoid="nonsense"),
    ],
)
def test_invalid_arguments_raise_like_dm_control(kwargs):
    """Bad bounds, margins, values and sigmoid names raise ValueError in both implementations."""
    with pytest.raises(ValueError):
        dm_rewards.tolerance(np.array([0.5, 3.0]), **kwargs)
    with pytest.raises(ValueError):
        rewards.tolerance(np.array([0.5, 3.0]), **kwargs)
