"""What a peer's training script runs with under `python -m core bench peer` (core/results/peer.py):
`latent_lab_peer.py`, the hook its two-line patch imports. Nothing in the lab imports this package."""
