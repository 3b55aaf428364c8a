"""Stages and stacks: they compose the logical units in `stacks.units` and wire them together."""
