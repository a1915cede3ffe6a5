"""Finger fidelity tolerances. Measured max errors (3 seeds): copied obs 8.1e-7 (spin) / 8.3e-7 (turn), reward 0;
25-step trajectory obs 1.4e-6 (spin) / 4.6e-6 (turn), reward 0 (the rewards are indicators)."""

TOLERANCES = {
    "finger-spin": dict(copied=5e-6, copied_reward=1e-6, trajectory=1e-5, reward=1e-6),
    "finger-turn-easy": dict(copied=5e-6, copied_reward=1e-6, trajectory=3e-5, reward=1e-6),
    "finger-turn-hard": dict(copied=5e-6, copied_reward=1e-6, trajectory=3e-5, reward=1e-6),
}
