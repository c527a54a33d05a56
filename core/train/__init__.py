"""Training: the one loop (engine), its per-epoch timeline, background launches, the zoo,
time to quality, and the benchmarks and profiles of a training step."""
