"""GPU-capable numerics: Monte-Carlo risk, the historical stress test and the neural
forecaster's torch core. Every torch path has a CPU path with the same answers (to
tolerance); torch is imported inside functions only."""
