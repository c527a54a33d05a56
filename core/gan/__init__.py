"""What a GAN is, in torch alone: the course networks, latent priors, losses, every variant as
data, and the one sampling loop. Imports nothing else of core but `core.errors`."""
