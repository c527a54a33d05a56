"""Latent Lab core: a plain library (no Streamlit) for training, scoring and inspecting GANs
on MNIST. Start with `variants.py` (what a variant is), then `engine.py` (the one loop)."""
import os

# MKL's matrix products pick a code path by the memory alignment of their operands unless told
# otherwise, so the same step could round differently in a process whose allocator had been used
# differently (a timeline record that computed the reference statistics, a fresh process resuming a
# run): at one thread, runs drifted apart by 1e-8 at the step after such a record. STRICT keeps
# them bit-identical and cost nothing measurable (bench train, A/B). MKL reads it at its first call.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
