"""Autoencoders on the shared core: stacked, denoising and variational, trained by one loop."""
