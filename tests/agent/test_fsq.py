"""FSQ against hand-computed values (REFERENCE.md 1.3)."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_iqrl.agent import fsq

# L = 8: half_l = (8 - 1) * (1 + 1e-3) / 2 = 3.5035, offset = 0.5 (even L), shift = atanh(0.5 / 3.5035) ~= 0.14370,
# bound(z) = tanh(z + shift) * 3.5035 - 0.5 in (-4.0035, 3.0035), q = round(bound) / 4.
HALF_L8 = 7 * 1.001 / 2
SHIFT8 = math.atanh(0.5 / HALF_L8)


def test_level_constants_by_hand():
    assert math.isclose(HALF_L8, 3.5035)
    assert math.isclose(SHIFT8, 0.14370, abs_tol=1e-5)


class TestQuantize(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_extremes_and_zero_for_eight_levels(self):
        # -inf: tanh -> -1, bound = -3.5035 - 0.5 = -4.0035, round -> -4, q = -1.
        # 0: bound = tanh(shift) * 3.5035 - 0.5 = (0.5 / 3.5035) * 3.5035 - 0.5 = 0, q = 0.
        # +inf: bound = 3.5035 - 0.5 = 3.0035, round -> 3, q = 0.75.
        out = self.variant(lambda x: fsq.quantize(x, (8,)))(jnp.array([-50.0, 0.0, 50.0]))
        np.testing.assert_allclose(out, [-1.0, 0.0, 0.75], atol=1e-6)
        bound_at_zero = self.variant(lambda x: fsq.bound(x, (8,)))(jnp.zeros(1))
        np.testing.assert_allclose(bound_at_zero, [math.tanh(SHIFT8) * HALF_L8 - 0.5], atol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_all_eight_levels(self):
        # Choose z with bound(z) = k exactly:
        # tanh(z + shift) * 3.5035 - 0.5 = k  <=>  z = atanh((k + 0.5) / 3.5035) - shift.
        # Then q = k / 4 for k = -4..3: -1, -0.75, -0.5, -0.25, 0, 0.25, 0.5, 0.75.
        ks = np.arange(-4, 4)
        z = np.arctanh((ks + 0.5) / HALF_L8) - SHIFT8
        out = self.variant(lambda x: fsq.quantize(x, (8,)))(jnp.asarray(z, jnp.float32))
        np.testing.assert_allclose(out, [-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75], atol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_rounds_to_nearest_bin(self):
        # bound(z) = 1.4 -> round 1 -> 0.25; bound(z) = 1.6 -> round 2 -> 0.5; bound(z) = -2.6 -> -3 -> -0.75.
        targets = np.array([1.4, 1.6, -2.6])
        z = np.arctanh((targets + 0.5) / HALF_L8) - SHIFT8
        out = self.variant(lambda x: fsq.quantize(x, (8,)))(jnp.asarray(z, jnp.float32))
        np.testing.assert_allclose(out, [0.25, 0.5, -0.75], atol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_odd_levels_and_grouping(self):
        # Levels (8, 5): channel 0 of each group uses L = 8, channel 1 uses L = 5.
        # L = 5: half_l = 4 * 1.001 / 2 = 2.002, offset 0, shift 0, q = round(tanh(z) * 2.002) / 2.
        #   z = +50 -> round(2.002) = 2 -> 1.0; z = 0.3 -> tanh(0.3) * 2.002 = 0.5838 -> round 1 -> 0.5.
        # L = 8 channels: z = -50 -> -1; z = 0 -> 0.
        z = jnp.array([[-50.0, 50.0, 0.0, 0.3]])
        out = self.variant(lambda x: fsq.quantize(x, (8, 5)))(z)
        np.testing.assert_allclose(out, [[-1.0, 1.0, 0.0, 0.5]], atol=1e-6)


def test_straight_through_gradient():
    # Forward rounds, backward is identity through round: dq/dz = d bound/dz / 4 = 3.5035 * (1 - tanh^2(z + shift)) / 4.
    z = np.array([-1.3, -0.2, 0.0, 0.45, 2.0], np.float32)
    grad = jax.grad(lambda x: jnp.sum(fsq.quantize(x, (8,))))(jnp.asarray(z))
    expected = HALF_L8 * (1.0 - np.tanh(z + SHIFT8) ** 2) / 4.0
    np.testing.assert_allclose(grad, expected, rtol=1e-5)
    assert np.all(np.asarray(grad) > 0)  # not the zero gradient of a plain round


def test_quantize_rejects_width_not_multiple_of_group():
    with pytest.raises(ValueError, match="multiple"):
        fsq.quantize(jnp.zeros((2, 5)), (8, 8))


def test_code_indices_by_hand():
    # Levels (8, 5), basis [1, 8]. Level index = q * (L // 2) + L // 2.
    # (-1, -1) -> (0, 0) -> 0;  (0.75, 1) -> (7, 4) -> 7 + 4 * 8 = 39;
    # (0, 0) -> (4, 2) -> 4 + 16 = 20;  (-0.25, 0.5) -> (3, 3) -> 3 + 24 = 27.
    z_q = jnp.array([[-1.0, -1.0, 0.75, 1.0], [0.0, 0.0, -0.25, 0.5]])
    idx = jax.jit(lambda x: fsq.code_indices(x, (8, 5)))(z_q)
    np.testing.assert_array_equal(idx, [[0, 39], [20, 27]])


def test_code_indices_cover_the_codebook():
    # Every code of levels (3, 2) appears exactly once when all 6 quantised combinations are fed in.
    q3 = [-1.0, 0.0, 1.0]  # L = 3: L // 2 = 1, values round(bound) / 1 in {-1, 0, 1}
    q2 = [-1.0, 0.0]  # L = 2: values {-1, 0}
    z_q = jnp.array([[a, b] for b in q2 for a in q3])
    np.testing.assert_array_equal(fsq.code_indices(z_q, (3, 2)), np.arange(6)[:, None])


def test_code_usage_by_hand():
    # Batch of 4, two groups, levels (8, 8) -> 64 codes per group.
    # Group 0 uses codes {0, 5}: 2 / 64; group 1 uses {1, 2, 3, 4}: 4 / 64; mean = 3 / 64.
    indices = jnp.array([[0, 1], [0, 2], [5, 3], [5, 4]])
    usage = jax.jit(lambda i: fsq.code_usage(i, (8, 8)))(indices)
    assert float(usage) == pytest.approx(3 / 64)
