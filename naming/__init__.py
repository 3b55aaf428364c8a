"""The names of every resource of one environment, in one place: `ResourceNames`, built once per environment.

Standard library only (and `pipeline_definition.contract`, itself standard library): the CDK app, the pipeline
builder, the local twin and the release's CodeBuild steps (which install boto3 and nothing else) all import it.
"""

from naming.resources import ZONES, EnvironmentNames, ResourceNames

__all__ = ["ZONES", "EnvironmentNames", "ResourceNames"]
