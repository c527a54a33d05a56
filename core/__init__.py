"""Latent Lab core: a plain library (no Streamlit) for training, scoring and inspecting GANs
on MNIST. Start with `variants.py` (what a variant is), then `engine.py` (the one loop)."""
