"""Scripts that the release pipeline's CodeBuild steps run after a stage deploys.

`post_deploy_check` proves that what a stage says it deployed exists and is ready; `code_change_trigger`
starts a SageMaker pipeline run in dev when a release changed `pipeline_code/`. Each is pure logic plus a
thin `main`; boto3 sits behind the small adapters in `release.aws`, so tests run them against moto.
"""
