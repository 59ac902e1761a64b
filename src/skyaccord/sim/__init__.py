"""The theatre simulator: scenarios, kinematics, runs through the nodes, sweeps."""
