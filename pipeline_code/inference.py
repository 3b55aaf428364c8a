"""The script-mode entry point of a served model (``SAGEMAKER_PROGRAM=inference.py``): training copies this file to
``code/inference.py`` in ``model.tar.gz``, beside ``code/pipeline_code/``; the handlers are in `pipeline_code.serve`.
"""

from pipeline_code.serve import input_fn, model_fn, output_fn, predict_fn

__all__ = ["input_fn", "model_fn", "output_fn", "predict_fn"]
