"""JAX port of dm_control's soft-indicator reward `tolerance` and its sigmoids.

Semantics follow `dm_control.utils.rewards` exactly (same sigmoid shapes, same `value_at_margin` meaning, same
argument checks). `bounds`, `margin`, `sigmoid` and `value_at_margin` are static Python numbers; `x` may be any array.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

DEFAULT_VALUE_AT_MARGIN = 0.1

SIGMOIDS = ("gaussian", "hyperbolic", "long_tail", "reciprocal", "cosine", "linear", "quadratic", "tanh_squared")


def sigmoid(x: ArrayLike, value_at_1: float, kind: str) -> Array:
    """Returns 1 at `x == 0`, `value_at_1` at `|x| == 1`, decaying in |x| with the shape `kind`."""
    if kind in ("cosine", "linear", "quadratic"):
        if not 0 <= value_at_1 < 1:
            raise ValueError(f"value_at_1 must be in [0, 1) for the {kind} sigmoid, got {value_at_1}")
    elif kind in SIGMOIDS:
        if not 0 < value_at_1 < 1:
            raise ValueError(f"value_at_1 must be in (0, 1) for the {kind} sigmoid, got {value_at_1}")
    else:
        raise ValueError(f"unknown sigmoid {kind!r}; known: {', '.join(SIGMOIDS)}")
    x = jnp.asarray(x)

    if kind == "gaussian":
        scale = math.sqrt(-2 * math.log(value_at_1))
        return jnp.exp(-0.5 * (x * scale) ** 2)
    if kind == "hyperbolic":
        scale = math.acosh(1 / value_at_1)
        return 1 / jnp.cosh(x * scale)
    if kind == "long_tail":
        scale = math.sqrt(1 / value_at_1 - 1)
        return 1 / ((x * scale) ** 2 + 1)
    if kind == "reciprocal":
        scale = 1 / value_at_1 - 1
        return 1 / (jnp.abs(x) * scale + 1)
    if kind == "cosine":
        scaled = x * (math.acos(2 * value_at_1 - 1) / math.pi)
        return jnp.where(jnp.abs(scaled) < 1, (1 + jnp.cos(jnp.pi * scaled)) / 2, 0.0)
    if kind == "linear":
        scaled = x * (1 - value_at_1)
        return jnp.where(jnp.abs(scaled) < 1, 1 - scaled, 0.0)
    if kind == "quadratic":
        scaled = x * math.sqrt(1 - value_at_1)
        return jnp.where(jnp.abs(scaled) < 1, 1 - scaled**2, 0.0)
    # tanh_squared
    scale = math.atanh(math.sqrt(1 - value_at_1))
    return 1 - jnp.tanh(x * scale) ** 2


_sigmoid = sigmoid  # `tolerance` takes an argument named `sigmoid`, as dm_control's does.


def tolerance(
    x: ArrayLike,
    bounds: tuple[float, float] = (0.0, 0.0),
    margin: float = 0.0,
    sigmoid: str = "gaussian",
    value_at_margin: float = DEFAULT_VALUE_AT_MARGIN,
) -> Array:
    """Returns 1 where `x` lies in the inclusive `bounds`, decaying with `sigmoid` over `margin` outside them."""
    lower, upper = bounds
    if lower > upper:
        raise ValueError(f"lower bound must be <= upper bound, got {bounds}")
    if margin < 0:
        raise ValueError(f"margin must be non-negative, got {margin}")
    x = jnp.asarray(x)
    in_bounds = (lower <= x) & (x <= upper)
    if margin == 0:
        return jnp.where(in_bounds, 1.0, 0.0)
    d = jnp.where(x < lower, lower - x, x - upper) / margin
    return jnp.where(in_bounds, 1.0, _sigmoid(d, value_at_margin, sigmoid))
