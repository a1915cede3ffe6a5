"""Quadruped fidelity tolerances. Measured max errors (3 seeds, walk and run): copied obs 9.5e-4 (arcsinh of toe
forces and the accelerometer, up to 21 m/s^2), reward 1.2e-6; 25-step trajectory obs 1.4e-3, reward 2.8e-6.
With the sub-steps as one loop the 25-step reward difference reached 2.2e-5 (walk, seed 0).
The contact-free starting height equals dm_control's for 200 of 200 seeded orientations."""

_QUADRUPED = dict(copied=5e-3, copied_reward=1e-5, trajectory=1e-2, reward=5e-5)

TOLERANCES = {task: dict(_QUADRUPED) for task in ("quadruped-walk", "quadruped-run")}
