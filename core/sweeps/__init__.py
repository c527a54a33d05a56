"""Sweeps on Ray Tune: one variant over a grid of knobs × seeds, checked before Ray starts and
stopped if its driver dies. spec (what is swept) < records (on disk) < trial (one, in a Ray
worker) < drive (run, resume, cancel) ; results (rows, shipped sweeps) reads the records."""
