#!/usr/bin/env python3
"""Translates the SAM template to plain CloudFormation offline, for the deploy rehearsal test.

Usage: sam-translate.py TEMPLATE CODE_BUCKET CODE_KEY_PREFIX [Name=Value ...]

Every AWS::Serverless::Function whose CodeUri is a local path, and every AWS::Serverless::LayerVersion whose
ContentUri is, gets the S3 object s3://CODE_BUCKET/CODE_KEY_PREFIX<LogicalId>.zip instead (what `sam package`
would upload); the parameters are the stack's parameter values. Writes the CloudFormation template as JSON to stdout. Needs
aws-sam-translator and PyYAML (scripts/requirements-sam-translator.txt, `ensure_sam_translator` in
scripts/lib.sh); no AWS call and no credentials.
"""

import json
import os
import sys

import yaml
from samtranslator.translator.transform import transform

INTRINSICS = ["Ref", "Condition"] + [
    "Fn::" + name
    for name in (
        "And", "Base64", "Cidr", "Contains", "EachMemberEquals", "EachMemberIn", "Equals", "FindInMap",
        "GetAtt", "GetAZs", "If", "ImportValue", "Join", "Not", "Or", "RefAll", "Select", "Split", "Sub",
        "Transform", "ValueOf", "ValueOfAll", "ToJsonString", "Length",
    )
]


class TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, ...) read as their long form."""


def _intrinsic(name):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _name in INTRINSICS:
    _tag = "!" + (_name[4:] if _name.startswith("Fn::") else _name)
    TemplateLoader.add_constructor(_tag, _intrinsic(_name))
# Timestamps and the like stay strings, as CloudFormation reads them.
TemplateLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class NoManagedPolicies:
    """The template names no AWS managed policy by name, so the translator never needs the IAM lookup."""

    def load(self):
        return {}


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    template_path, bucket, prefix = argv[1:4]
    parameters = dict(arg.split("=", 1) for arg in argv[4:])
    with open(template_path, encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=TemplateLoader)  # noqa: S506 - a SafeLoader subclass
    code_properties = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        code = code_properties.get(resource.get("Type"))
        if code and isinstance(properties.get(code), str) and not properties[code].startswith("s3://"):
            properties[code] = {"Bucket": bucket, "Key": f"{prefix}{logical_id}.zip"}
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    translated = transform(template, parameters, NoManagedPolicies())
    json.dump(translated, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv)
