"""Lambda handlers. A retraining trigger's deployment package holds this `__init__`, `shared/` and its own folder
(`stacks/units/retraining_triggers.py`); `smoke_test/` is packaged on its own."""
