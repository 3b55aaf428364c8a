"""The platform's SageMaker pipeline definitions (training, monitoring, batch inference): built offline with the
SageMaker SDK, committed as JSON, deployed by CDK.

`builders` (needs the SDK) turns an environment's config into each pipeline's definition; `generate` writes them,
per environment, into `generated/` (`make pipeline-definitions`, which `make synth` runs first); `fingerprint`
(standard library and the config models only) tells the CDK app whether a committed definition is still what the
builders would produce, so synth never pays the SDK's ~10 s, and stops on a stale one instead of rewriting it.
`contract` is what the definitions and the CDK app agree on (placeholders, prefixes, paths); `naming` (top level)
names the resources.
"""
