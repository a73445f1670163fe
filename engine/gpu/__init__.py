"""GPU-capable numerics (torch): Monte-Carlo risk and the neural forecaster's torch core.
Every torch path has a CPU path with the same answers (to tolerance); torch is imported
inside functions only. Plain-numpy risk code lives in `engine.portfolio`."""
