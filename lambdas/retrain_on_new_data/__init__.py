"""Retrain on new data: objects landing in the raw zone start the training pipeline once enough has arrived."""
