"""Cartpole fidelity tolerances. Measured max errors (3 seeds): copied obs 1.9e-7 (swingup) / 5.3e-8 (balance),
reward 2.9e-8 (swingup) / 1.5e-7 (balance) / 0 (sparse); 25-step trajectory obs 9.9e-7 (swingup) / 9.5e-8
(balance), reward 4.2e-8 (swingup) / 1.1e-7 (balance) / 0 (sparse)."""

TOLERANCES = {
    "cartpole-balance": dict(copied=1e-6, copied_reward=1e-6, trajectory=1e-6, reward=1e-6),
    "cartpole-balance-sparse": dict(copied=1e-6, copied_reward=1e-6, trajectory=1e-6, reward=1e-6),
    "cartpole-swingup": dict(copied=1e-6, copied_reward=1e-6, trajectory=1e-5, reward=1e-6),
    "cartpole-swingup-sparse": dict(copied=1e-6, copied_reward=1e-6, trajectory=1e-5, reward=1e-6),
}
