"""Checks of the promotion that read objects: the artifact digest and the champion/challenger gate (Lambda code asset: this folder)."""
