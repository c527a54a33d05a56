"""Training: the one loop (engine), resume and fine-tuning (resume), its per-epoch timeline
(recorder writes it, timeline reads it), background launches, the zoo, time to quality, and the
benchmarks and profiles of a training step."""
