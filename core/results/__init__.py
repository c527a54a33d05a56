"""What the product claims and ships: the seeds' claims checked on its own models (findings),
time-to-quality tables, and whether a shipped result still matches the models it came from."""
