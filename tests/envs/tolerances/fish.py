"""Fish fidelity tolerances. Measured max errors (3 seeds), both tasks: copied obs 5.0e-6, reward 2.5e-7 (upright),
3.5e-8 (swim); 25-step trajectory obs 6.7e-6, reward 2.9e-7 (upright), 3.2e-8 (swim). Over 1000 steps of random
actions the largest observation difference stays below 1.3e-5 (no contacts, smooth fluid forces)."""

TOLERANCES = {
    "fish-upright": dict(copied=3e-5, copied_reward=2e-6, trajectory=5e-5, reward=2e-6),
    "fish-swim": dict(copied=3e-5, copied_reward=3e-7, trajectory=5e-5, reward=3e-7),
}
