"""What both retraining triggers share: settings, the decision rules, the ledger and pipeline adapters."""
