"""THE PEERS' runtime loop, not notebook-fleet: the Lambda runtime API's invocation loop as a Python custom
runtime runs it, shared by tests/peer/provisioner_peer.py and tests/peer/sweeper_peer.py (benchmark only)."""

import json
import os
import urllib.request


def serve(handle):
    """Answers each invocation with handle(event), or with its error, for as long as the API gives events."""
    base = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"
    while True:
        with urllib.request.urlopen(f"{base}/next") as response:
            request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(response.read())
        try:
            body, path = json.dumps(handle(event)).encode(), f"{base}/{request_id}/response"
        except Exception as error:  # the runtime API takes any failure as the invocation's error
            failure = {"errorMessage": str(error), "errorType": type(error).__name__}
            body, path = json.dumps(failure).encode(), f"{base}/{request_id}/error"
        urllib.request.urlopen(urllib.request.Request(path, data=body, method="POST")).read()
