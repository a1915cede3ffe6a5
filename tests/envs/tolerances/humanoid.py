"""Humanoid fidelity tolerances. Measured max errors (3 seeds, the same for stand, walk and run, which share the
model and initial states): copied obs 6.1e-4 (joint velocities of up to 51 rad/s), reward 4.2e-7; 25-step trajectory
obs 3.1e-1, reward 5.2e-7.

The trajectory error is not float32 rounding: MJX in float64 diverges the same way. Floor contacts match MuJoCo to
1e-11, but MJX's capsule-capsule function regularises its closest-point computation, so self-contact normals differ
by about 2e-5 and accelerations at self-contacts by up to 1%; the falling humanoid amplifies that within 25 steps.
"""

_HUMANOID = dict(copied=3e-3, copied_reward=3e-6, trajectory=1.5, reward=3e-6)

TOLERANCES = {task: dict(_HUMANOID) for task in ("humanoid-stand", "humanoid-walk", "humanoid-run")}
