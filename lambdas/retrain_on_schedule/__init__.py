"""Retrain on schedule: the `schedules.retraining` schedule starts the training pipeline on a fresh data snapshot."""
