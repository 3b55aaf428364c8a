"""Smoke test of a freshly promoted endpoint (Lambda code asset: this folder)."""
