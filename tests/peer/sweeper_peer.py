"""THE PEER, not notebook-fleet: a Python 3 + boto3 idle sweeper written only for the cold-start benchmark
(tests/src/bin/bench-cold-start.rs, `sweeper`), the way the Python functions platform teams run today are
written (the autostop sample, Instance Scheduler, Cloud Custodian all page through boto3).

For one scheduled event it makes the AWS calls the Rust sweeper makes for a sweep with nothing to do: the
in-service notebooks (ListNotebookInstances, 100 a page), the managed notebooks' tags (GetResources, 100
resources and 500 tags a page), the heartbeats and warnings (ListObjectsV2, 1,000 a page) and the open sweep
journals of yesterday and today (ListObjectVersions); then decides per managed notebook from its timeout tag
and its last heartbeat (the same rules, without exemptions or snoozes, which the benchmark's fleet has none
of) and answers the verdict counts. It runs the peers' loop (runtime_loop.py) against the Lambda runtime API
(as a custom runtime does), so that both are timed under the same runtime API. It is not shipped.
"""

import datetime
import os

import boto3
from botocore.config import Config

from runtime_loop import serve

ENV = os.environ
RETRIES = {"mode": "standard", "max_attempts": 3}
SESSION = boto3.session.Session()
S3 = SESSION.client("s3", config=Config(s3={"addressing_style": "path"}, retries=RETRIES))
SAGEMAKER = SESSION.client("sagemaker", config=Config(retries=RETRIES))
TAGGING = SESSION.client("resourcegroupstaggingapi", config=Config(retries=RETRIES))
ASSETS, AUDIT = ENV["FLEET_ASSETS_BUCKET"], ENV["FLEET_AUDIT_BUCKET"]
MANAGED_BY, TIMEOUT = "notebook-fleet:managed-by", "notebook-fleet:idle-timeout-minutes"
DEFAULT_TIMEOUT, GRACE = 60, datetime.timedelta(minutes=15)


def pages(client, operation, **arguments):
    return client.get_paginator(operation).paginate(**arguments)


def handle(event):
    now = datetime.datetime.now(datetime.timezone.utc)
    notebooks = [n for page in pages(SAGEMAKER, "list_notebook_instances", StatusEquals="InService",
                                     PaginationConfig={"PageSize": 100}) for n in page["NotebookInstances"]]
    tags = {}
    for page in pages(TAGGING, "get_resources", ResourceTypeFilters=["sagemaker:notebook-instance"],
                      TagFilters=[{"Key": MANAGED_BY, "Values": ["notebook-fleet"]}], ResourcesPerPage=100,
                      TagsPerPage=500):
        for resource in page["ResourceTagMappingList"]:
            tags[resource["ResourceARN"].lower()] = {t["Key"]: t["Value"] for t in resource["Tags"]}
    beats, warnings = {}, {}
    for page in pages(S3, "list_objects_v2", Bucket=ASSETS, Prefix="heartbeats/"):
        for item in page.get("Contents", []):
            name = item["Key"][len("heartbeats/"):]
            if name.endswith(".warned"):
                warnings[name[:-len(".warned")]] = item["LastModified"]
            else:
                beats[name] = item["LastModified"]
    for day in (now - datetime.timedelta(days=1), now):
        for _ in pages(S3, "list_object_versions", Bucket=AUDIT, Prefix=f"journal/{day:%Y-%m-%d}/"):
            pass
    verdicts = {"active": 0, "in-grace": 0, "warn": 0, "agent-silent": 0}
    for notebook in notebooks:
        found = tags.get(notebook["NotebookInstanceArn"].lower())
        if not found:
            continue
        started = notebook.get("LastModifiedTime") or notebook["CreationTime"]
        try:
            timeout = datetime.timedelta(minutes=int(found.get(TIMEOUT, DEFAULT_TIMEOUT)))
        except ValueError:
            timeout = datetime.timedelta(minutes=DEFAULT_TIMEOUT)
        beat = beats.get(notebook["NotebookInstanceName"])
        if now - started < GRACE:
            verdicts["in-grace"] += 1
        elif beat is None or beat < started:
            verdicts["agent-silent"] += 1
        elif now - beat < timeout:
            verdicts["active"] += 1
        else:
            verdicts["warn"] += 1
    return {"managed": sum(verdicts.values()), "verdicts": verdicts}


if __name__ == "__main__":
    serve(handle)
