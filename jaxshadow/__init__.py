"""jaxshadow: convolutional networks that remove shadows from images, in JAX."""

__version__ = "0.1.0"
