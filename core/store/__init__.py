"""What lives on disk and how it is read safely: MNIST, the run store, checkpoints, sample
grids, what a model name means (registry) and a user's own networks (importer, safeload)."""
