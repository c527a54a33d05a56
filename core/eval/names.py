"""The names of the scores every set of digits gets, and which way is better: plain constants,
read by every layer (tables, sweeps, pages) without importing the math (core.eval.metrics)."""
PRDC = ("precision", "recall", "density", "coverage")  # metrics.prdc()'s four, each better higher
METRICS = ("fid", *PRDC, "class_kl")  # what every score of a set of digits reports
LOWER_IS_BETTER = frozenset({"fid", "class_kl"})  # of METRICS; the others are better higher
