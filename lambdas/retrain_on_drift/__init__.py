"""Retrain on drift: a drift alarm going to ALARM, or a drift violations report, starts the training pipeline."""
