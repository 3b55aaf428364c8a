"""The SageMaker training pipeline's definition: built offline with the SageMaker SDK, committed as JSON.

`builder` (needs the SDK) turns an environment's config into a definition; `generate` writes one per
environment into `generated/`; `fingerprint` (standard library only) tells synth whether a committed
definition is still what the builder would produce, so synth never pays the SDK's ~10 s when nothing changed.
"""
