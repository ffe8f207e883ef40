"""The ckptscope version stamped into every analysis."""

__version__ = "0.1.0"
