"""The promotion's checks that read objects: artifact digest, champion/challenger (Lambda code asset: this folder)."""
