"""A local moto server for tests: AWS API calls that never leave the machine.

The same server the local twin starts (`pipeline_definition.local_runner.twin.moto_endpoint`): one implementation.
Every server in one process shares moto's state, so each starts from none, whatever ran before.
"""

from __future__ import annotations

from pipeline_definition.local_runner.twin import moto_endpoint as moto_server

__all__ = ["moto_server"]
