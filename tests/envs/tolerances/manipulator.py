"""Manipulator fidelity tolerances. Measured max errors (3 seeds): copied obs 2.0e-2, reward 2e-49; 25-step
trajectory obs 24.8 (seed 1, the ball bouncing in the hand; seed 0 4e-4), reward 1e-128.

The errors come from MJX's sphere-capsule contact (see envs/domains/manipulator.py): its segment projection adds
1e-6 m^2 to the squared length of the hand's short capsules, which turns the contact normal by up to ~1e-3 rad; the
ball's tiny rotational inertia turns that into a 2e-2 rad/s spin difference in one step, and contact chaos grows it.
With the exact projection the same measurements are: copied obs 1.2e-4, trajectory obs 2.0e-3."""

TOLERANCES = {
    "manipulator-bring-ball": dict(copied=0.1, copied_reward=1e-6, trajectory=60.0, reward=1e-6),
}
