"""Validates JSON instances against JSON Schemas (the draft each schema names) for tests/tests/schemas.rs.

Reads one JSON object per line on stdin, {"name": ..., "schema": {...}, "instance": ...}, and writes one
JSON line per input: {"name": ..., "violations": ["/json/pointer: message", ...]}, in the input's order.
A schema its own draft refuses is a violation named "schema", not a crash.
"""

import json
import sys

from jsonschema.validators import validator_for
from jsonschema.exceptions import SchemaError


def violations(schema, instance):
    draft = validator_for(schema)
    try:
        draft.check_schema(schema)
    except SchemaError as error:
        return [f"schema: {error.message}"]
    validator = draft(schema)
    found = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        pointer = "".join(f"/{part}" for part in error.absolute_path)
        found.append(f"{pointer}: {error.message}")
    return found


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        answer = {"name": case["name"], "violations": violations(case["schema"], case["instance"])}
        sys.stdout.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
