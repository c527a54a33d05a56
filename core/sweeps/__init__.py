"""Sweeps on Ray Tune: one variant over a grid of knobs × seeds, checked before Ray starts and
stopped if its driver dies."""
