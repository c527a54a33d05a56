"""Scoring: the MNIST classifier, the metrics on its features, a model's or a file's scores,
and the seeds' claims checked on them (findings) with the freshness of shipped results."""
