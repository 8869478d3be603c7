"""Regie: a policy-as-code compliance engine for digital autonomy."""

__version__ = "0.1.0"
