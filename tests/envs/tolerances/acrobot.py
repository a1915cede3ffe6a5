"""Acrobot fidelity tolerances. Measured max errors (3 seeds): copied obs 2.2e-7, reward 2.0e-7 (sparse: 0); 25-step
trajectory obs 2.2e-7, reward 3.0e-7 (sparse: 0)."""

TOLERANCES = {
    "acrobot-swingup": dict(copied=1e-6, copied_reward=1e-6, trajectory=1e-6, reward=2e-6),
    "acrobot-swingup-sparse": dict(copied=1e-6, copied_reward=1e-6, trajectory=1e-6, reward=1e-6),
}
