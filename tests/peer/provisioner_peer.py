"""THE PEER, not notebook-fleet: a Python 3 + boto3 Lambda written only for the cold-start benchmark
(tests/src/bin/bench-cold-start.rs), the way the Python functions platform teams run today are written.

It makes the same AWS calls as the Rust provisioner for the same `Notebook Requested` (at init: the
entitlements document; then the ledger and deactivation listings, the notebook lookup, the isolation
pre-flight, the role and its policy, the lifecycle configuration once per process, the notebook, four audit
and ledger writes, the event), with a light validation, and runs the peers' loop (runtime_loop.py) against
the Lambda runtime API (as a custom runtime does), so that both are timed under the same runtime API. It is not shipped.
"""

import base64
import datetime
import hashlib
import json
import os

import boto3
from botocore.config import Config

from runtime_loop import serve

ENV = os.environ
CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})
SESSION = boto3.session.Session()
S3 = SESSION.client("s3", config=Config(s3={"addressing_style": "path"}, retries=CONFIG.retries))
IAM = SESSION.client("iam", config=CONFIG)
EC2 = SESSION.client("ec2", config=CONFIG)
SAGEMAKER = SESSION.client("sagemaker", config=CONFIG)
EVENTS = SESSION.client("events", config=CONFIG)

ENTITLEMENTS_BUCKET, ENTITLEMENTS_KEY = ENV["FLEET_ENTITLEMENTS_URI"][len("s3://"):].split("/", 1)
ENTITLEMENTS = json.loads(S3.get_object(Bucket=ENTITLEMENTS_BUCKET, Key=ENTITLEMENTS_KEY)["Body"].read())
AUDIT = ENV["FLEET_AUDIT_BUCKET"]
SUBNET = ENV["FLEET_SUBNET_IDS"].split(",")[0]
GROUPS = ENV["FLEET_SECURITY_GROUP_IDS"].split(",")
ON_START = base64.b64encode(b"#!/bin/bash\nset -e\necho peer on-start\n").decode()
LIFECYCLE = "peer-on-start-" + hashlib.sha256(ON_START.encode()).hexdigest()[:32]
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
created_lifecycle = False


def put(key, body, if_none_match=True):
    extra = {"IfNoneMatch": "*"} if if_none_match else {}
    S3.put_object(Bucket=AUDIT, Key=key, Body=json.dumps(body).encode(), ContentType="application/json", **extra)


def handle(event):
    global created_lifecycle
    detail = event["detail"]
    request_id, name, owner, team = detail["request_id"], detail["notebook_name"], detail["owner"], detail["team"]
    if not (1 <= len(name) <= 63) or not all(c.isalnum() or c == "-" for c in name):
        raise ValueError("invalid notebook name")
    S3.list_object_versions(Bucket=AUDIT, Prefix=f"ledger/notebook-requested/{request_id}/")
    S3.list_object_versions(Bucket=AUDIT, Prefix=f"deactivated-owners/{owner}")
    try:
        SAGEMAKER.describe_notebook_instance(NotebookInstanceName=name)
        raise RuntimeError("exists")
    except SAGEMAKER.exceptions.ClientError as error:
        if "RecordNotFound" not in str(error) and "does not exist" not in str(error):
            raise
    routes = EC2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [SUBNET]}])
    for table in routes["RouteTables"]:
        for route in table.get("Routes", []):
            if route.get("GatewayId", "").startswith("igw-"):
                raise RuntimeError("a path to the internet")
    EC2.describe_security_groups(GroupIds=GROUPS)
    role_name = f"nbf-{name}"
    tags = [{"Key": "notebook-fleet:managed-by", "Value": "notebook-fleet"}, {"Key": "notebook-fleet:owner", "Value": owner}]
    role = IAM.create_role(Path="/notebook-fleet/notebooks/", RoleName=role_name, AssumeRolePolicyDocument=TRUST,
                           PermissionsBoundary=ENV["FLEET_PERMISSIONS_BOUNDARY_ARN"], Tags=tags)["Role"]
    statements = [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{a['bucket']}/{a['prefix']}*"}
                  for a in detail.get("data_access", [])]
    IAM.put_role_policy(RoleName=role_name, PolicyName="notebook-fleet-data-access",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    if not created_lifecycle:
        try:
            SAGEMAKER.create_notebook_instance_lifecycle_config(
                NotebookInstanceLifecycleConfigName=LIFECYCLE, OnStart=[{"Content": ON_START}])
        except SAGEMAKER.exceptions.ClientError as error:
            if "already exists" not in str(error).lower():
                raise
        created_lifecycle = True
    arn = SAGEMAKER.create_notebook_instance(
        NotebookInstanceName=name, InstanceType=detail["instance_type"], SubnetId=SUBNET, SecurityGroupIds=GROUPS,
        RoleArn=role["Arn"], LifecycleConfigName=LIFECYCLE, DirectInternetAccess="Disabled", RootAccess="Disabled",
        VolumeSizeInGB=detail["volume_size_gb"], Tags=tags)["NotebookInstanceArn"]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    outcome = {"request_id": request_id, "notebook_name": name, "owner": owner, "team": team, "notebook_arn": arn,
               "status": "Pending"}
    record = {"recorded_at": now, "action": "Notebook Provisioned", "detail": outcome}
    put(f"ledger/notebook-requested/{request_id}/answer.json", record)
    put(f"notebooks/{name}/{now}_{request_id}_notebook-provisioned.json", record)
    put(f"owners/{owner}/{now}_{request_id}_notebook-provisioned.json", record)
    EVENTS.put_events(Entries=[{"Source": ENV.get("FLEET_EVENT_SOURCE", "notebook-fleet"), "DetailType": "Notebook Provisioned",
                                "Detail": json.dumps(outcome), "EventBusName": ENV["FLEET_EVENT_BUS_NAME"]}])
    put(f"ledger/notebook-requested/{request_id}/published.json", record)
    return {"detail-type": "Notebook Provisioned", "detail": outcome}


if __name__ == "__main__":
    serve(handle)
