"""Step 4, train: an XGBoost classifier, runnable as a SageMaker XGBoost framework (script mode) entry point.

SageMaker passes hyper-parameters as ``--name value`` arguments and the data/model folders in ``SM_CHANNEL_*``
and ``SM_MODEL_DIR``; the same arguments work locally. The final line ``validation-auc:<value>`` is what a
tuning job's metric regex (``validation-auc:([0-9\\.]+)``) reads. The model is saved with
``Booster.save_model`` in XGBoost's JSON format (``xgboost-model.json``), which other XGBoost versions load.
The hyper-parameters the training used (whatever set them: config, a tuning job, SM_HPS) are saved beside it
(``metadata/hyperparameters.json``), so every later step reads them from the model itself.

The model folder is made servable (`serve.package`): the feature manifest the training data were encoded with
(the ``manifest`` channel, Preprocess's ``manifest/feature_manifest.json``; without one, this code's schema, which
is what its own preprocess writes) goes to ``metadata/feature_manifest.json``, and this code to ``code/``, where
SageMaker's XGBoost container finds the script-mode handlers (`serve`). The booster's feature names are the
manifest's.

Only numpy, pandas and xgboost are imported (plus the standard-library schema), all present in the SageMaker
XGBoost container, so the script needs no extra requirements there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script (SageMaker script mode): make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd
import xgboost as xgb

from pipeline_code import distributed, features, schema, tracking
from pipeline_code.cli import run_step, sm_env
from pipeline_code.errors import DataValidationError

MODEL_FILE = "xgboost-model.json"
MODEL_ARCHIVE = "model.tar.gz"
METRIC_NAME = "validation-auc"
# What the model was trained with, beside it in model.tar.gz. In a sub-folder: SageMaker's XGBoost container
# loads the files at the top of the model folder as boosters, and must find only the model there.
HYPERPARAMETERS_FILE = "metadata/hyperparameters.json"
SAGEMAKER_RESERVED = ("sagemaker_", "_tuning_objective_metric")  # hyper-parameter names SageMaker tooling owns
# The hyper-parameters a run records, in this order (the booster's other parameters are fixed by the code).
RECORDED = (
    "num_round", "early_stopping_rounds", "max_depth", "eta", "subsample", "colsample_bytree", "min_child_weight",
    "gamma", "reg_lambda", "alpha", "seed",
)  # fmt: skip


def load_matrix(
    channel: Path | str, names: tuple[str, ...] = schema.FEATURE_NAMES, *, allow_empty: bool = False
) -> xgb.DMatrix:
    """A channel's CSV files (label first, no header) as a DMatrix with the given (the manifest's) feature names.

    ``allow_empty``: a worker of distributed training whose share of a sharded channel is no object at all
    contributes no row (an empty matrix) instead of stopping the job."""
    path = Path(channel)
    # a sharded Preprocess writes one file per host, in <host>/ folders of the channel
    files = sorted(path.rglob("*.csv"), key=lambda f: f.relative_to(path).as_posix()) if path.is_dir() else [path]
    if not files and allow_empty:
        return xgb.DMatrix(np.empty((0, len(names))), label=np.empty(0), feature_names=list(names))
    if not files:
        raise DataValidationError(f"no CSV file in {path}")
    frame = pd.concat([pd.read_csv(f, header=None) for f in files], ignore_index=True)
    if frame.shape[1] != len(names) + 1:
        raise DataValidationError(
            f"{path}: {frame.shape[1]} columns, expected label + {len(names)} ({', '.join(names)})"
        )
    label = frame.pop(0).to_numpy()
    if not np.isin(label, (0, 1)).all():
        raise DataValidationError(f"{path}: label column holds values other than 0 and 1")
    return xgb.DMatrix(frame.to_numpy(np.float64), label=label, feature_names=list(names))


def read_manifest(location: Path | str | None) -> features.FeatureManifest:
    """The training data's feature manifest: a file, or a folder (the ``manifest`` channel) holding it; without
    one, this code's schema (what its own preprocess writes)."""
    if location is None or not Path(location).exists():
        learned = [c.raw_name for c in schema.learned_features()]
        if learned:
            raise DataValidationError(f"no feature manifest: the categories of {', '.join(learned)} are learned")
        return features.FeatureManifest.from_schema()
    path = Path(location)
    path = path / features.MANIFEST_FILE if path.is_dir() else path
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DataValidationError(f"{path}: cannot read the feature manifest ({err})") from None
    return features.FeatureManifest.from_document(document, str(path))


def xgb_params(args: argparse.Namespace) -> dict[str, float | int | str]:
    """The booster parameters from the hyper-parameter arguments."""
    return {
        "objective": "binary:logistic",
        # XGBoost >= 2 saves a fitted intercept as "[2.39E-1]", which XGBoost 1.7 (the SageMaker XGBoost 1.7-1
        # container) cannot parse and silently replaces by 0.5, shifting every prediction. A fixed 0.5 is read
        # the same by both; the trees learn the intercept instead.
        "base_score": 0.5,
        "eval_metric": "auc",
        "tree_method": "hist",
        "max_depth": args.max_depth,
        "eta": args.eta,
        "subsample": args.subsample,
        "colsample_bytree": args.colsample_bytree,
        "min_child_weight": args.min_child_weight,
        "gamma": args.gamma,
        "lambda": args.reg_lambda,
        "alpha": args.alpha,
        "seed": args.seed,
    } | ({"nthread": args.nthread} if args.nthread else {})


def train(train: xgb.DMatrix, validation: xgb.DMatrix, args: argparse.Namespace) -> tuple[xgb.Booster, float]:
    """Fit with early stopping on validation AUC; returns the booster and its best validation AUC."""
    booster = xgb.train(
        xgb_params(args),
        train,
        num_boost_round=args.num_round,
        evals=[(train, "train"), (validation, "validation")],
        early_stopping_rounds=args.early_stopping_rounds,
        verbose_eval=False,
    )
    # keep only the trees up to the best round, so every consumer of the saved model uses the best one
    return booster[: booster.best_iteration + 1], float(booster.best_score)


def save_model(booster: xgb.Booster, model_dir: Path) -> Path:
    """Save in XGBoost's JSON model format (portable across XGBoost versions, unlike pickle)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / MODEL_FILE
    booster.save_model(str(path))
    return path


def used_hyperparameters(args: argparse.Namespace, trees: int) -> dict[str, float | int]:
    """The hyper-parameters this training used (after SM_HPS, tuning and defaults), and the trees it kept."""
    return {**{name: getattr(args, name) for name in RECORDED}, "trees": trees}


def save_hyperparameters(hyperparameters: dict[str, float | int], model_dir: Path) -> Path:
    path = model_dir / HYPERPARAMETERS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(hyperparameters, indent=2, sort_keys=True) + "\n")
    return path


def load_hyperparameters(model_dir: Path | str) -> dict[str, float | int]:
    """The hyper-parameters saved with a model: from its folder, or from the model.tar.gz in the folder."""
    path = Path(model_dir)
    if (path / HYPERPARAMETERS_FILE).is_file():
        loaded: dict[str, float | int] = json.loads((path / HYPERPARAMETERS_FILE).read_text())
        return loaded
    if (path / MODEL_ARCHIVE).is_file():
        with tarfile.open(path / MODEL_ARCHIVE, "r:gz") as tar:
            member = next((m for m in tar.getmembers() if m.name.lstrip("./") == HYPERPARAMETERS_FILE), None)
            handle = tar.extractfile(member) if member is not None and member.isfile() else None
            if handle is not None:
                from_archive: dict[str, float | int] = json.loads(handle.read())
                return from_archive
    raise DataValidationError(f"no {HYPERPARAMETERS_FILE} with the model in {path} (trained by an older train.py?)")


def load_model(model_dir: Path | str) -> xgb.Booster:
    """Load a model saved by ``save_model``: a folder holding it, the file itself, or a folder holding the
    ``model.tar.gz`` a SageMaker training job makes of its model folder (what a pipeline's later steps get)."""
    path = Path(model_dir)
    if path.is_dir() and not (path / MODEL_FILE).is_file() and (path / MODEL_ARCHIVE).is_file():
        return _load_from_archive(path / MODEL_ARCHIVE)
    path = path / MODEL_FILE if path.is_dir() else path
    if not path.is_file():
        raise DataValidationError(f"no model at {path}")
    booster = xgb.Booster()
    booster.load_model(str(path))
    return booster


def _load_from_archive(archive: Path) -> xgb.Booster:
    with tarfile.open(archive, "r:gz") as tar, tempfile.TemporaryDirectory() as scratch:
        member = next((m for m in tar.getmembers() if Path(m.name).name == MODEL_FILE and m.isfile()), None)
        if member is None:
            raise DataValidationError(f"{archive}: holds no {MODEL_FILE}")
        tar.extract(member, scratch, filter="data")
        return load_model(Path(scratch) / member.name)


def predict_proba(booster: xgb.Booster, rows: np.ndarray, *, nthread: int | None = None) -> np.ndarray:
    """Probability of the positive class for rows in processed layout (the evaluation's and the endpoint's scores).

    ``nthread`` bounds the threads that build the matrix (None: every core); the scores do not depend on it.
    """
    names = booster.feature_names or list(schema.FEATURE_NAMES)
    return booster.predict(xgb.DMatrix(rows, feature_names=names, nthread=nthread))


def hyperparameter_args(parser: argparse.ArgumentParser) -> list[str]:
    """The job's hyper-parameters (``SM_HPS``, JSON) as command-line arguments this parser knows.

    A SageMaker job started with a ``command`` (as the pipeline's ModelTrainer does) passes hyper-parameters
    only in ``SM_HPS``; explicit arguments, given after these, still win.
    """
    raw = os.environ.get("SM_HPS")
    if not raw:
        return []
    try:
        hps = json.loads(raw)
    except json.JSONDecodeError as err:
        parser.error(f"SM_HPS is not valid JSON: {err}")
    if not isinstance(hps, dict):
        parser.error(f"SM_HPS must be a JSON object of hyper-parameters, got {raw[:80]!r}")
    # SageMaker's own settings travel as hyper-parameters too (a tuning job's script mode: sagemaker_program,
    # sagemaker_submit_directory); they are the container's business, not the training's.
    hps = {name: value for name, value in hps.items() if not name.startswith(SAGEMAKER_RESERVED)}
    known = {action.dest for action in parser._actions}
    unknown = sorted(set(hps) - known)
    if unknown:
        parser.error(f"unknown hyper-parameter(s) in SM_HPS: {', '.join(unknown)}")
    return [token for name, value in hps.items() for token in (f"--{name}", str(value))]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=sm_env("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument("--validation", default=sm_env("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation"))
    parser.add_argument("--model-dir", default=sm_env("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument(
        "--manifest",
        default=sm_env("SM_CHANNEL_MANIFEST", "/opt/ml/input/data/manifest"),
        help="the training data's feature manifest (file or folder); absent: this code's schema",
    )
    # hyper-parameters: SageMaker passes them with the names given here (underscores)
    parser.add_argument("--num_round", type=int, default=400)
    parser.add_argument("--early_stopping_rounds", type=int, default=30)
    parser.add_argument("--max_depth", type=int, default=6)
    parser.add_argument("--eta", type=float, default=0.1)
    parser.add_argument("--subsample", type=float, default=0.9)
    parser.add_argument("--colsample_bytree", type=float, default=0.8)
    parser.add_argument("--min_child_weight", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.0)
    parser.add_argument("--reg_lambda", "--lambda", dest="reg_lambda", type=float, default=1.0)
    parser.add_argument("--alpha", type=float, default=0.0)
    parser.add_argument(
        "--nthread", type=int, default=0, help="threads; 0: XGBoost's default, every core (or OMP_NUM_THREADS)"
    )
    parser.add_argument("--seed", type=int, default=42)
    given = sys.argv[1:] if argv is None else argv
    return parser.parse_args([*hyperparameter_args(parser), *given])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def step() -> None:
        manifest = read_manifest(args.manifest)
        job = distributed.cluster()  # several hosts: XGBoost's distributed mode, one worker a host
        with distributed.communicator(job):
            booster, auc = train(
                load_matrix(args.train, manifest.names, allow_empty=job.distributed),
                load_matrix(args.validation, manifest.names),
                args,
            )
        if not job.is_master:  # every worker holds the same trees; the first host saves them, as the container does
            print(f"train: worker {job.current} of {len(job.hosts)} done")
            return
        model_path = save_model(booster, Path(args.model_dir))
        used = used_hyperparameters(args, booster.num_boosted_rounds())
        save_hyperparameters(used, Path(args.model_dir))
        from pipeline_code import serve  # serve imports this module: imported where it is needed

        serve.package(Path(args.model_dir), manifest)
        print(f"trees:{booster.num_boosted_rounds()}")
        # The tuning job's MetricDefinitions read this line (builder.METRIC_REGEX): keep its shape.
        print(f"{METRIC_NAME}:{auc:.6f}")
        tracking.log_step(
            "train",
            params={**xgb_params(args), **used},
            metrics={METRIC_NAME: auc, "trees": booster.num_boosted_rounds()},
            artifacts=[model_path],
        )

    return run_step(step, "train")


if __name__ == "__main__":
    sys.exit(main())
