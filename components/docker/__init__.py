"""The Docker target: the stack as images and hardened containers on one Docker engine."""
