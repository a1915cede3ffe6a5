"""Hopper fidelity tolerances. Measured max errors (3 seeds), both tasks: copied obs 4.4e-4 (root velocities with
joint limits active; the touch sensors agree to 1.7e-4 in log1p over 300 copied steps with foot contacts), reward
5.6e-8; 25-step trajectory obs 3.7e-3, reward 1.0e-7."""

TOLERANCES = {
    "hopper-stand": dict(copied=2e-3, copied_reward=5e-7, trajectory=2e-2, reward=1e-6),
    "hopper-hop": dict(copied=2e-3, copied_reward=5e-7, trajectory=2e-2, reward=1e-6),
}
