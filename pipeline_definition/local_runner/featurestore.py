"""A Feature Store runtime `PutRecord` endpoint for the twin (moto has none), so feature ingestion runs as written.

Records are checked against the feature group the twin's SageMaker knows (DescribeFeatureGroup: the group must
exist, every feature must be defined, the record identifier and event time present) and appended as JSON lines to
`<folder>/<group>.jsonl`. Jobs reach it through `AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME`.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import unquote


class FeatureStoreRuntime:
    def __init__(self, sagemaker: Any, folder: Path) -> None:
        self.sagemaker = sagemaker
        self.folder = folder
        self._lock = threading.Lock()
        self._definitions: dict[str, dict[str, Any]] = {}
        self._files: dict[str, TextIO] = {}
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: one connection per client thread, not one per record
            disable_nagle_algorithm = True  # headers and body are two writes: without this each waits ~40 ms

            def do_PUT(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                status, error = runtime.put_record(unquote(self.path.rsplit("/", 1)[-1]), body)
                payload = json.dumps({"message": error} if error else {}).encode()
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
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _group(self, name: str) -> dict[str, Any] | None:
        if name not in self._definitions:
            try:
                self._definitions[name] = self.sagemaker.describe_feature_group(FeatureGroupName=name)
            except Exception:
                return None
        return self._definitions[name]

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
            if group_name not in self._files:  # one open file per group, not one open per record
                self.folder.mkdir(parents=True, exist_ok=True)
                self._files[group_name] = (self.folder / f"{group_name}.jsonl").open("a")
            self._files[group_name].write(line)
            self._files[group_name].flush()  # a record is readable as soon as PutRecord has answered
        return 200, None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()
