"""Cartpole fidelity tolerances. Measured max errors (3 seeds): copied obs 1.9e-7, reward 2.9e-8; 25-step
trajectory obs 9.9e-7, reward 4.2e-8."""

TOLERANCES = {
    "cartpole-swingup": dict(copied=1e-6, copied_reward=1e-6, trajectory=1e-5, reward=1e-6),
}
