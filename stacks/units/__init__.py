"""Logical units (Construct subclasses): infrastructure plus the runtime code and config it needs."""
