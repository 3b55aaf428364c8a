"""A Feature Store runtime endpoint for the twin (moto has none): `PutRecord` and `BatchGetRecord`.

Records are checked against the feature group the twin's SageMaker knows (DescribeFeatureGroup: the group must
exist, every feature must be defined, the record identifier and event time present) and appended as JSON lines to
`<folder>/<group>.jsonl` (what a test reads: every write, like the offline store). `BatchGetRecord` answers from the
latest record per id (the one with the latest event time, as the online store keeps), those of earlier runners on
the same folder included; its request is checked against botocore's model (`twin.api_contract`: the limits of
identifiers and ids per call), its groups must exist and its `FeatureNames` be defined. Jobs reach it through
`AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME`.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import unquote

from twin.api_contract import validate_request

Answer = tuple[int, dict[str, Any] | None, str | None]  # status, body, error message


class FeatureStoreRuntime:
    def __init__(self, sagemaker: Any, folder: Path) -> None:
        self.sagemaker = sagemaker
        self.folder = folder
        self._lock = threading.Lock()
        self._definitions: dict[str, dict[str, Any]] = {}
        self._files: dict[str, TextIO] = {}
        self._latest: dict[str, dict[str, dict[str, str | None]]] = {}  # group -> record id -> record
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: one connection per client thread, not one per record
            disable_nagle_algorithm = True  # headers and body are two writes: without this each waits ~40 ms

            def _body(self) -> Any:
                return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

            def do_PUT(self) -> None:
                status, error = runtime.put_record(unquote(self.path.rsplit("/", 1)[-1]), self._body())
                self._answer(status, None, error)

            def do_POST(self) -> None:
                if self.path.split("?", 1)[0] != "/BatchGetRecord":
                    self._answer(404, None, f"no operation at {self.path}")
                    return
                self._answer(*runtime.batch_get_record(self._body()))

            def _answer(self, status: int, body: dict[str, Any] | None, error: str | None) -> None:
                payload = json.dumps({"message": error} if error else body or {}).encode()
                self.send_response(status)
                if error:
                    self.send_header("x-amzn-ErrorType", "ResourceNotFound" if status == 404 else "ValidationError")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # shutdown() waits for the loop's next poll: 0.1 s, not the default 0.5 s, on every close
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def _group(self, name: str) -> dict[str, Any] | None:
        if name not in self._definitions:
            try:
                self._definitions[name] = self.sagemaker.describe_feature_group(FeatureGroupName=name)
            except Exception:
                return None
        return self._definitions[name]

    def _records(self, group: dict[str, Any]) -> dict[str, dict[str, str | None]]:
        """The latest record per id of `group` (call with the lock held); loaded from its file the first time."""
        name = group["FeatureGroupName"]
        if name not in self._latest:
            self._latest[name] = {}
            path = self.folder / f"{name}.jsonl"
            if path.exists():
                for line in path.read_text().splitlines():
                    self._keep(group, json.loads(line))
        return self._latest[name]

    def _keep(self, group: dict[str, Any], record: dict[str, str | None]) -> None:
        latest = self._latest[group["FeatureGroupName"]]
        record_id = str(record[group["RecordIdentifierFeatureName"]])
        held = latest.get(record_id)
        time_name = group["EventTimeFeatureName"]
        if held is None or str(record[time_name]) >= str(held[time_name]):  # ISO-8601 UTC: ordered as text
            latest[record_id] = record

    def put_record(self, group_name: str, body: dict[str, Any]) -> tuple[int, str | None]:
        group = self._group(group_name)
        if group is None:
            return 404, f"Resource Not Found: feature group {group_name} does not exist"
        defined = {d["FeatureName"] for d in group["FeatureDefinitions"]}
        record = {item["FeatureName"]: item.get("ValueAsString") for item in body.get("Record", [])}
        unknown = sorted(set(record) - defined)
        missing = [n for n in (group["RecordIdentifierFeatureName"], group["EventTimeFeatureName"]) if n not in record]
        if unknown or missing:
            return 400, f"features not in {group_name}: {unknown}; required features missing: {missing}"
        line = json.dumps(record) + "\n"
        with self._lock:
            self._records(group)
            if group_name not in self._files:  # one open file per group, not one open per record
                self.folder.mkdir(parents=True, exist_ok=True)
                self._files[group_name] = (self.folder / f"{group_name}.jsonl").open("a")
            self._files[group_name].write(line)
            self._files[group_name].flush()  # a record is readable as soon as PutRecord has answered
            self._keep(group, record)
        return 200, None

    def batch_get_record(self, body: dict[str, Any]) -> Answer:
        problems = validate_request("sagemaker-featurestore-runtime", "BatchGetRecord", body)
        if problems:
            return 400, None, "; ".join(problems)
        found = []
        for identifier in body["Identifiers"]:
            name = identifier["FeatureGroupName"].rsplit("/", 1)[-1]  # a name or an ARN
            group = self._group(name)
            if group is None:
                return 404, None, f"Resource Not Found: feature group {name} does not exist"
            wanted = identifier.get("FeatureNames")
            unknown = sorted(set(wanted or ()) - {d["FeatureName"] for d in group["FeatureDefinitions"]})
            if unknown:
                return 400, None, f"FeatureNames not in {name}: {unknown}"
            with self._lock:
                records = self._records(group)
                for record_id in identifier["RecordIdentifiersValueAsString"]:
                    record = records.get(record_id)
                    if record is None:
                        continue  # an unknown id is absent from Records, not an error
                    values = [
                        {"FeatureName": k, "ValueAsString": v}
                        for k, v in record.items()
                        if v is not None and (wanted is None or k in wanted)
                    ]
                    found.append(
                        {"FeatureGroupName": name, "RecordIdentifierValueAsString": record_id, "Record": values}
                    )
        return 200, {"Records": found, "Errors": [], "UnprocessedIdentifiers": []}, None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()
