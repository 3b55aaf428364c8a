"""The process-wide shortcuts the offline build and the local twin take give the answers botocore and moto give
without them: one parse of botocore's data files (`botocore_data`), moto without per-request folder scans and
with RSA keys made when first used (`local_runner.twin._lighten_moto`)."""

from __future__ import annotations

import os
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest

from pipeline_definition import botocore_data
from tests.moto_server import moto_server, point_boto3_at


@pytest.fixture
def botocore_own_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's own `create_loader`, not the shared one the suite installs (tests/conftest.py)."""
    for module in (botocore.loaders, botocore.session):
        monkeypatch.setattr(module, "create_loader", botocore_data._ORIGINAL)


@pytest.mark.usefixtures("botocore_own_loader")
def test_sessions_in_the_block_share_one_loader_and_botocore_is_restored_after_it() -> None:
    before = botocore.loaders.create_loader
    with botocore_data.shared_loaders():
        first, second = botocore.session.Session(), botocore.session.Session()
        assert first.get_component("data_loader") is second.get_component("data_loader")
        model = first.get_service_model("sagemaker")
        assert second.get_service_model("sagemaker").operation_names == model.operation_names
    assert botocore.loaders.create_loader is before
    assert botocore.session.create_loader is before
    outside = botocore.session.Session().get_component("data_loader")
    assert outside is not first.get_component("data_loader")


@pytest.mark.usefixtures("botocore_own_loader")
def test_a_client_made_with_the_preloaded_data_is_the_same_client(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:  # AWS's own endpoint, not a local one
        monkeypatch.delenv(name)
    with botocore_data.shared_loaders():
        botocore_data.preload_for_jobs()  # installs for good: undone below by the block's exit
        shared = boto3.Session(region_name="eu-west-1").client("sagemaker")
    plain = boto3.Session(region_name="eu-west-1").client("sagemaker")
    assert shared.meta.service_model.operation_names == plain.meta.service_model.operation_names
    assert shared.meta.endpoint_url == plain.meta.endpoint_url == "https://api.sagemaker.eu-west-1.amazonaws.com"


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> Any:
    with moto_server() as url:
        point_boto3_at(monkeypatch, url, "eu-west-1")
        yield boto3.client("kms")


def test_moto_still_signs_verifies_encrypts_and_finds_every_service(kms: Any) -> None:
    import moto
    import moto.backends

    signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    signature = kms.sign(KeyId=signing, Message=b"model", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    verified = kms.verify(KeyId=signing, Message=b"model", Signature=signature, SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert verified["SignatureValid"] is True
    assert kms.get_public_key(KeyId=signing)["PublicKey"]
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=symmetric, Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    root = os.path.dirname(moto.__file__)
    folders = [n for n in sorted(os.listdir(root)) if os.path.isdir(os.path.join(root, n)) and not n.startswith("__")]
    assert list(moto.backends.list_of_moto_modules()) == folders


def test_the_sdk_config_is_checked_once_per_document_and_a_bad_one_fails_every_time() -> None:
    from sagemaker.core.helper import session_helper

    from pipeline_definition import offline_session

    offline_session._validate_sdk_config_once()
    validate = session_helper.validate_sagemaker_config
    validate(offline_session._SDK_CONFIG)
    bad = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": "not a boolean"}}}}
    for _ in range(2):  # not remembered as checked
        with pytest.raises(Exception, match=r"TelemetryOptOut|not a boolean|is not of type"):
            validate(bad)
