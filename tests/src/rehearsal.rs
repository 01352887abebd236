//! The deploy rehearsal's tools: the SAM template translated to plain CloudFormation offline
//! (aws-sam-translator through `scripts/sam-translate.py`), adjusted where moto's CloudFormation falls short,
//! created as a stack on the emulator, and read back.

use crate::tools::installed_tool;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use serde_json::{json, Value};

use crate::emulator::REGION;

/// The Python of the venv that `ensure_sam_translator` (scripts/lib.sh) installs; overrides the default
/// `$NOTEBOOK_FLEET_CACHE/venv-sam-translator/bin/python` (`~/.cache/notebook-fleet/…`).
pub const TRANSLATOR_PYTHON_VAR: &str = "FLEET_SAM_TRANSLATOR_PYTHON";

/// The repository root (this crate is `tests/`).
pub fn repo_root() -> PathBuf {
    // The runner's CARGO_MANIFEST_DIR first: the shared target directory may hold a binary built elsewhere.
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    Path::new(&crate_dir).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn translator_python() -> Result<PathBuf> {
    installed_tool(
        TRANSLATOR_PYTHON_VAR,
        "venv-sam-translator/bin/python",
        "the rehearsal needs the pinned aws-sam-translator: run scripts/test.sh or `source scripts/lib.sh && ensure_sam_translator`",
    )
}

/// `sam-translate.py`: the SAM template as plain CloudFormation, each local `CodeUri` (function) and
/// `ContentUri` (layer) replaced by `s3://code_bucket/code_prefix<LogicalId>.zip`.
pub fn translate(
    template: &Path,
    code_bucket: &str,
    code_prefix: &str,
    parameters: &[(&str, String)],
) -> Result<Value> {
    let python = translator_python()?;
    let output = Command::new(&python)
        .arg(repo_root().join("scripts/sam-translate.py"))
        .arg(template)
        .args([code_bucket, code_prefix])
        .args(parameters.iter().map(|(name, value)| format!("{name}={value}")))
        .env("AWS_DEFAULT_REGION", REGION)
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !output.status.success() {
        bail!("sam-translate.py failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    serde_json::from_slice(&output.stdout).context("sam-translate.py printed no JSON template")
}

/// Replaces, anywhere in `value`, every node equal to `from` by `to`; returns how many.
fn replace_all(value: &mut Value, from: &Value, to: &Value) -> usize {
    if value == from {
        *value = to.clone();
        return 1;
    }
    match value {
        Value::Object(map) => map.values_mut().map(|v| replace_all(v, from, to)).sum(),
        Value::Array(items) => items.iter_mut().map(|v| replace_all(v, from, to)).sum(),
        _ => 0,
    }
}

/// `count` consecutive IPv4 blocks with `host_bits` host bits from the start of `cidr`, as `Fn::Cidr` does.
pub fn cidr_blocks(cidr: &str, count: u32, host_bits: u32) -> Result<Vec<String>> {
    let (address, _) = cidr.split_once('/').context("a CIDR block")?;
    let base = u32::from(address.parse::<std::net::Ipv4Addr>()?);
    let size = 1u32.checked_shl(host_bits).context("host bits")?;
    Ok((0..count).map(|i| format!("{}/{}", std::net::Ipv4Addr::from(base + i * size), 32 - host_bits)).collect())
}

/// What the stack's custom resources answer, found by the rehearsal itself: moto cannot run their Lambdas.
#[derive(Debug, Clone, Copy)]
pub struct CustomResourceAnswers<'a> {
    /// `Custom::S3PrefixList`'s `PrefixListId`.
    pub s3_prefix_list_id: &'a str,
    /// `Custom::LifecycleAssets`' answer, attribute by attribute (`AgentObjectKey`, …).
    pub lifecycle_assets: &'a [(&'a str, &'a str)],
}

/// Removes every resource of type `kind` and writes `answers` where the template reads `GetAtt <id>.<name>`;
/// fails if the template still names such a resource afterwards (an attribute without an answer, a `Ref`,
/// a `DependsOn`).
fn substitute_custom_resource(
    template: &mut Value,
    kind: &str,
    answers: &[(&str, &str)],
    changes: &mut Vec<String>,
) -> Result<()> {
    let ids: Vec<String> = template["Resources"]
        .as_object()
        .context("Resources")?
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, _)| id.clone())
        .collect();
    for id in ids {
        template["Resources"].as_object_mut().context("Resources")?.remove(&id);
        for (attribute, answer) in answers {
            let n = replace_all(template, &json!({"Fn::GetAtt": [id, attribute]}), &json!(answer));
            changes.push(format!("{id} ({kind}): {attribute} = {answer}, {n} references"));
        }
        if template.to_string().contains(&format!("\"{id}\"")) {
            bail!(
                "{id} ({kind}) is still named in the template after its substitution: an attribute without an answer?"
            );
        }
    }
    Ok(())
}

/// Adjusts a translated template where moto's CloudFormation (5.2.x) cannot follow AWS; returns what it
/// changed, one line each. Nothing here touches a property the rehearsal checks.
///
/// - The custom resources would need moto to invoke their Lambdas (it cannot run one): the rehearsal finds
///   their answers itself and puts them where the template reads them (`answers`).
///   `Custom::S3PrefixList`: the lookup (`DescribePrefixLists` on the emulator, the function's one call),
///   for `S3PrefixList.PrefixListId`. `Custom::LifecycleAssets`: the publisher's own content-addressed keys,
///   for `LifecycleAssets.AgentObjectKey` (the rehearsal publishes with the publisher's code once the stack
///   has created the assets bucket, as CloudFormation orders it, and checks the keys agree).
/// - moto does not evaluate `Fn::Cidr`: each one over `Vpc.CidrBlock` becomes the blocks AWS computes.
/// - moto's `Ref` to an `AWS::Events::EventBus` yields an object instead of the bus name: `GetAtt <bus>.Name`
///   is written in its place (moto creates a resource when something reads its attribute, but orders by
///   `DependsOn` alone too late: the bus's own policy names the functions' roles, so nothing else pulls the
///   bus forward), and its `Name` in the outputs.
/// - moto's `Ref` to a rule on a custom bus yields the rule name, not AWS's `bus|rule`: the dashboard's
///   `Select [1, Split ["|", Ref RequestRule]]` becomes that `Ref`.
pub fn adapt_for_moto(template: &mut Value, answers: CustomResourceAnswers<'_>, vpc_cidr: &str) -> Result<Vec<String>> {
    let mut changes = Vec::new();
    substitute_custom_resource(
        template,
        "Custom::S3PrefixList",
        &[("PrefixListId", answers.s3_prefix_list_id)],
        &mut changes,
    )?;
    substitute_custom_resource(template, "Custom::LifecycleAssets", answers.lifecycle_assets, &mut changes)?;

    for count in 1..=16u32 {
        for bits in 4..=16u32 {
            let cidr = json!({"Fn::Cidr": [{"Fn::GetAtt": ["Vpc", "CidrBlock"]}, count, bits]});
            let blocks = cidr_blocks(vpc_cidr, count, bits)?;
            let n = replace_all(template, &cidr, &json!(blocks));
            if n > 0 {
                changes.push(format!("Fn::Cidr [Vpc.CidrBlock, {count}, {bits}] = {blocks:?}, {n} places"));
            }
        }
    }

    let buses: Vec<(String, Value)> = template["Resources"]
        .as_object()
        .context("Resources")?
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Events::EventBus")
        .map(|(id, r)| (id.clone(), r["Properties"]["Name"].clone()))
        .collect();
    for (bus, name) in buses {
        let reference = json!({ "Ref": bus });
        let attribute = json!({ "Fn::GetAtt": [bus, "Name"] });
        let resources = template["Resources"].as_object_mut().context("Resources")?;
        for (id, resource) in resources.iter_mut() {
            if id != &bus && replace_all(resource, &reference, &attribute) > 0 {
                changes.push(format!("{id}: Ref {bus} written as GetAtt {bus}.Name"));
            }
        }
        if replace_all(&mut template["Outputs"], &reference, &name) > 0 {
            changes.push(format!("Outputs: Ref {bus} written as the bus name"));
        }
    }

    let rule_name = json!({"Fn::Select": [1, {"Fn::Split": ["|", {"Ref": "RequestRule"}]}]});
    let n = replace_all(template, &rule_name, &json!({"Ref": "RequestRule"}));
    if n > 0 {
        changes.push(format!("Select/Split of Ref RequestRule: moto's Ref is the rule name already, {n} places"));
    }
    Ok(changes)
}

/// moto keeps an `AWS::NoValue` inside a list (a policy's `Statement`) as a null, which its IAM refuses as a
/// malformed policy: every list item `Fn::If [condition, x, Ref AWS::NoValue]` (or the reverse) is replaced by
/// its branch, or removed, as CloudFormation would. The conditions are evaluated with `resolution` (the
/// parameter values). Returns what it changed, one line each.
pub fn drop_novalue_list_items(template: &mut Value, resolution: &Resolution) -> Result<Vec<String>> {
    fn walk(node: &mut Value, template: &Value, resolution: &Resolution, changes: &mut Vec<String>) -> Result<()> {
        match node {
            Value::Array(items) => {
                let mut kept = Vec::new();
                for mut item in std::mem::take(items) {
                    let branches = item.get("Fn::If").and_then(Value::as_array).cloned();
                    if let Some([condition, then, otherwise]) = branches.as_deref() {
                        let no_value = json!({"Ref": "AWS::NoValue"});
                        if *then == no_value || *otherwise == no_value {
                            let name = condition.as_str().context("a condition name")?;
                            let chosen = if resolution.condition(template, name)? { then } else { otherwise };
                            changes.push(format!(
                                "Fn::If [{name}, …] in a list: {}",
                                if *chosen == no_value { "removed" } else { "its branch" }
                            ));
                            if *chosen == no_value {
                                continue;
                            }
                            item = chosen.clone();
                        }
                    }
                    walk(&mut item, template, resolution, changes)?;
                    kept.push(item);
                }
                *items = kept;
            }
            Value::Object(map) => {
                for value in map.values_mut() {
                    walk(value, template, resolution, changes)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    let snapshot = template.clone();
    let mut changes = Vec::new();
    walk(&mut template["Resources"], &snapshot, resolution, &mut changes)?;
    Ok(changes)
}

/// Creates the stack and waits for `CREATE_COMPLETE`; on anything else, the failed resources and why.
pub async fn create_stack(
    cloudformation: &aws_sdk_cloudformation::Client,
    name: &str,
    template: &Value,
    parameters: &[(&str, String)],
) -> Result<aws_sdk_cloudformation::types::Stack> {
    cloudformation
        .create_stack()
        .stack_name(name)
        .template_body(template.to_string())
        .set_parameters(Some(
            parameters
                .iter()
                .map(|(key, value)| Parameter::builder().parameter_key(*key).parameter_value(value).build())
                .collect(),
        ))
        .capabilities(Capability::CapabilityIam)
        .send()
        .await
        .context("CreateStack")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stack = cloudformation
            .describe_stacks()
            .stack_name(name)
            .send()
            .await?
            .stacks
            .and_then(|s| s.into_iter().next())
            .context("the stack")?;
        match stack.stack_status() {
            Some(StackStatus::CreateComplete) => return Ok(stack),
            Some(StackStatus::CreateInProgress) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            status => {
                let events = cloudformation.describe_stack_events().stack_name(name).send().await?;
                let failures: Vec<String> = events
                    .stack_events()
                    .iter()
                    .filter(|e| e.resource_status().is_some_and(|s| s.as_str().ends_with("FAILED")))
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e.logical_resource_id().unwrap_or_default(),
                            e.resource_status_reason().unwrap_or_default()
                        )
                    })
                    .collect();
                bail!("stack {name} is {status:?} ({:?}); failed: {failures:?}", stack.stack_status_reason());
            }
        }
    }
}

/// A GET on the emulator's Lambda API (`/2015-03-31/functions/<name>`): the project's tests have no Lambda
/// SDK client. moto routes by the credential scope of the `Authorization` header and does not check the
/// signature until IAM enforcement is switched on.
pub fn lambda_get(endpoint: &str, path: &str) -> Result<Value> {
    let address = endpoint.strip_prefix("http://").context("an http:// endpoint")?;
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: AWS4-HMAC-SHA256 \
         Credential=test/20261123/{REGION}/lambda/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Connection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").context("an HTTP answer")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        bail!("GET {path}: {}", head.lines().next().unwrap_or_default());
    }
    serde_json::from_str(body).with_context(|| format!("GET {path}: not JSON"))
}

/// A Lambda function's environment as the process would see it: moto keeps CloudFormation's numbers as JSON
/// numbers, Lambda hands every value to the process as a string, and adds `AWS_REGION`.
pub fn environment(function: &Value) -> std::collections::HashMap<String, String> {
    let mut env: std::collections::HashMap<String, String> = function["Configuration"]["Environment"]["Variables"]
        .as_object()
        .map(|vars| {
            vars.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
        })
        .unwrap_or_default();
    env.insert("AWS_REGION".to_owned(), REGION.to_owned());
    env
}

/// An inline role policy as IAM returns it (URL-encoded JSON). moto answers a policy that CloudFormation
/// created as Python's `repr` of the document (single quotes); that form is read too.
pub fn inline_policy(text: &str) -> Result<Value> {
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8()?.into_owned();
    if let Ok(document) = serde_json::from_str(&decoded) {
        return Ok(document);
    }
    let as_json = decoded.replace('\'', "\"").replace("True", "true").replace("False", "false");
    serde_json::from_str(&as_json).with_context(|| format!("not a policy document: {decoded}"))
}

/// The statement with this `Sid`.
pub fn statement<'a>(document: &'a Value, sid: &str) -> Result<&'a Value> {
    document["Statement"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["Sid"] == sid))
        .with_context(|| format!("no statement {sid} in {document}"))
}

/// IAM's `"x"` or `["x", …]`, as a list.
pub fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// Where the rehearsal puts the functions' code (what `sam package` would upload).
pub const CODE_BUCKET: &str = "rehearsal-deploy-artifacts";
pub const CODE_PREFIX: &str = "notebook-fleet/";
/// The template's default `VpcCidr`.
pub const VPC_CIDR: &str = "10.42.0.0/16";
/// An empty zip archive: moto stores function code without running it.
const DUMMY_ZIP: [u8; 22] = [0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// A stack created on the emulator from the translated template.
#[derive(Debug)]
pub struct Deployment {
    /// The template as aws-sam-translator wrote it (what CloudFormation would receive).
    pub translated: Value,
    /// The same, adapted for moto (`adapt_for_moto`), as created.
    pub template: Value,
    pub stack: aws_sdk_cloudformation::types::Stack,
    pub outputs: std::collections::HashMap<String, String>,
    /// The S3 prefix list the custom resource's lookup found.
    pub prefix_list: String,
    /// What `adapt_for_moto` changed, one line each.
    pub adjustments: Vec<String>,
}

/// Translates `infra/template.yaml`, uploads dummy function code, answers the custom resources (the S3 prefix
/// list from the emulator, `LifecycleAssets` with `lifecycle_assets`), adapts the template for moto and creates
/// the stack `stack_name` with `parameters`.
/// On AWS a security group declared with `SecurityGroupEgress` has those rules only: the default allow-all
/// egress is replaced. moto's CloudFormation keeps the default rule beside them, so the rehearsal revokes it,
/// as AWS would have (the provisioner's isolation check refuses a group with it, rightly).
async fn drop_default_egress(
    cloudformation: &aws_sdk_cloudformation::Client,
    ec2: &aws_sdk_ec2::Client,
    stack_name: &str,
    template: &Value,
) -> Result<Vec<String>> {
    let mut changes = Vec::new();
    let declared = template["Resources"].as_object().context("Resources")?.iter().filter(|(_, r)| {
        r["Type"] == "AWS::EC2::SecurityGroup" && r["Properties"].get("SecurityGroupEgress").is_some()
    });
    // moto answers DescribeStackResource with an empty body: the listing has the physical ids.
    let listed = cloudformation.list_stack_resources().stack_name(stack_name).send().await?;
    for (id, _) in declared {
        // A group behind a false condition was not created.
        let Some(group) = listed
            .stack_resource_summaries()
            .iter()
            .find(|r| r.logical_resource_id() == Some(id.as_str()))
            .and_then(|r| r.physical_resource_id().map(str::to_owned))
        else {
            continue;
        };
        let allow_all = aws_sdk_ec2::types::IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        if ec2.revoke_security_group_egress().group_id(&group).ip_permissions(allow_all).send().await.is_ok() {
            changes.push(format!("{id}: the default allow-all egress AWS replaces by SecurityGroupEgress, revoked"));
        }
    }
    Ok(changes)
}

pub async fn deploy(
    sdk: &aws_config::SdkConfig,
    stack_name: &str,
    parameters: &[(&str, String)],
    lifecycle_assets: &[(&str, &str)],
) -> Result<Deployment> {
    let s3 = crate::platform::s3_client(sdk);
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let translated = translate(&repo_root().join("infra/template.yaml"), CODE_BUCKET, CODE_PREFIX, parameters)?;
    let resources = translated["Resources"].as_object().context("Resources")?;
    crate::platform::create_bucket(&s3, CODE_BUCKET).await?;
    for resource in resources.values() {
        let code = match resource["Type"].as_str() {
            Some("AWS::Lambda::Function") => &resource["Properties"]["Code"],
            Some("AWS::Lambda::LayerVersion") => &resource["Properties"]["Content"],
            _ => continue,
        };
        if let Some(key) = code["S3Key"].as_str() {
            if code["S3Bucket"] != CODE_BUCKET {
                bail!("code outside the rehearsal's bucket: {code}");
            }
            s3.put_object().bucket(CODE_BUCKET).key(key).body(DUMMY_ZIP.to_vec().into()).send().await?;
        }
    }
    let prefix_list = ec2
        .describe_prefix_lists()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("prefix-list-name")
                .values(format!("com.amazonaws.{REGION}.s3"))
                .build(),
        )
        .send()
        .await?
        .prefix_lists()
        .first()
        .and_then(|p| p.prefix_list_id().map(str::to_owned))
        .context("moto's S3 prefix list")?;
    let mut template = translated.clone();
    let answers = CustomResourceAnswers { s3_prefix_list_id: &prefix_list, lifecycle_assets };
    let mut adjustments = adapt_for_moto(&mut template, answers, VPC_CIDR)?;
    let resolution = Resolution::from_template(&translated, stack_name, parameters)?;
    adjustments.extend(drop_novalue_list_items(&mut template, &resolution)?);
    let cloudformation = aws_sdk_cloudformation::Client::new(sdk);
    let stack = create_stack(&cloudformation, stack_name, &template, parameters).await?;
    adjustments.extend(drop_default_egress(&cloudformation, &ec2, stack_name, &template).await?);
    let outputs = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    Ok(Deployment { translated, template, stack, outputs, prefix_list, adjustments })
}

/// What a template's intrinsic functions resolve against: the parameter values (a CommaDelimitedList as a
/// JSON array), the pseudo parameters, each resource's `Ref` and the `GetAtt` attributes a document names.
#[derive(Debug, Default)]
pub struct Resolution {
    pub values: std::collections::HashMap<String, Value>,
    pub attributes: std::collections::HashMap<(String, String), Value>,
}

impl Resolution {
    /// Parameters (given, else the template's default; CommaDelimitedList split on commas) and the pseudo
    /// parameters of the emulated account and region.
    pub fn from_template(template: &Value, stack_name: &str, given: &[(&str, String)]) -> Result<Self> {
        let mut values = std::collections::HashMap::new();
        for (name, declaration) in template["Parameters"].as_object().context("Parameters")? {
            let value = given.iter().find(|(n, _)| n == name).map(|(_, v)| Value::String(v.clone())).or_else(|| {
                declaration
                    .get("Default")
                    .map(|d| Value::String(d.as_str().map_or_else(|| d.to_string(), str::to_owned)))
            });
            let Some(value) = value else { continue };
            let value = if declaration["Type"] == "CommaDelimitedList" {
                json!(value.as_str().unwrap_or_default().split(',').map(str::trim).collect::<Vec<_>>())
            } else {
                value
            };
            values.insert(name.clone(), value);
        }
        for (name, value) in [
            ("AWS::Partition", "aws"),
            ("AWS::Region", REGION),
            ("AWS::AccountId", crate::emulator::ACCOUNT_ID),
            ("AWS::StackName", stack_name),
            ("AWS::URLSuffix", "amazonaws.com"),
        ] {
            values.insert(name.to_owned(), json!(value));
        }
        Ok(Self { values, attributes: Default::default() })
    }

    fn condition(&self, template: &Value, name: &str) -> Result<bool> {
        let definition = &template["Conditions"][name];
        if definition.is_null() {
            bail!("no condition {name}");
        }
        self.truth(template, definition)
    }

    fn truth(&self, template: &Value, expression: &Value) -> Result<bool> {
        let object =
            expression.as_object().filter(|o| o.len() == 1).with_context(|| format!("a condition: {expression}"))?;
        let (function, arguments) = object.iter().next().context("a function")?;
        let items = || arguments.as_array().with_context(|| format!("{function} takes a list"));
        Ok(match function.as_str() {
            "Fn::Equals" => {
                let [a, b] = items()?.as_slice() else { bail!("Fn::Equals takes two") };
                self.resolve(template, a)? == self.resolve(template, b)?
            }
            "Fn::Not" => !self.truth(template, items()?.first().context("Fn::Not")?)?,
            "Fn::And" => {
                items()?.iter().map(|c| self.truth(template, c)).collect::<Result<Vec<_>>>()?.into_iter().all(|b| b)
            }
            "Fn::Or" => {
                items()?.iter().map(|c| self.truth(template, c)).collect::<Result<Vec<_>>>()?.into_iter().any(|b| b)
            }
            "Condition" => self.condition(template, arguments.as_str().context("a condition name")?)?,
            other => bail!("{other} in a condition"),
        })
    }

    /// `value` with every intrinsic function the template's policy documents use resolved (Ref, Fn::GetAtt,
    /// Fn::Sub, Fn::Join, Fn::Split, Fn::Select, Fn::If with its conditions); `AWS::NoValue` leaves its list or
    /// map. Anything else, or a name without a value, is an error, never a guess.
    pub fn resolve(&self, template: &Value, value: &Value) -> Result<Value> {
        Ok(self.resolve_inner(template, value)?.unwrap_or(Value::Null))
    }

    fn lookup(&self, name: &str) -> Result<Value> {
        if let Some((resource, attribute)) = name.split_once('.') {
            return self
                .attributes
                .get(&(resource.to_owned(), attribute.to_owned()))
                .cloned()
                .with_context(|| format!("no value for GetAtt {name}"));
        }
        self.values.get(name).cloned().with_context(|| format!("no value for Ref {name}"))
    }

    fn resolve_inner(&self, template: &Value, value: &Value) -> Result<Option<Value>> {
        match value {
            Value::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    if let Some(v) = self.resolve_inner(template, item)? {
                        out.push(v);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            Value::Object(map) if map.len() == 1 && map.keys().all(|k| k == "Ref" || k.starts_with("Fn::")) => {
                let (function, arguments) = map.iter().next().context("a function")?;
                let list = |v: &Value| -> Result<Vec<Value>> {
                    match self.resolve(template, v)? {
                        Value::Array(items) => Ok(items),
                        other => bail!("{function}: not a list: {other}"),
                    }
                };
                let text = |v: &Value| -> Result<String> {
                    match self.resolve(template, v)? {
                        Value::String(s) => Ok(s),
                        Value::Number(n) => Ok(n.to_string()),
                        other => bail!("{function}: not a string: {other}"),
                    }
                };
                let args = || arguments.as_array().with_context(|| format!("{function} takes a list"));
                Ok(Some(match function.as_str() {
                    "Ref" if arguments == "AWS::NoValue" => return Ok(None),
                    "Ref" => self.lookup(arguments.as_str().context("Ref of a name")?)?,
                    "Fn::GetAtt" => {
                        let parts: Vec<&str> = match arguments {
                            Value::String(s) => s.splitn(2, '.').collect(),
                            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                            _ => bail!("Fn::GetAtt {arguments}"),
                        };
                        self.lookup(&parts.join("."))?
                    }
                    "Fn::If" => {
                        let [condition, then, otherwise] = args()?.as_slice() else { bail!("Fn::If takes three") };
                        let branch = if self.condition(template, condition.as_str().context("condition name")?)? {
                            then
                        } else {
                            otherwise
                        };
                        return self.resolve_inner(template, branch);
                    }
                    "Fn::Join" => {
                        let [separator, items] = args()?.as_slice() else { bail!("Fn::Join takes two") };
                        let separator = separator.as_str().context("Fn::Join separator")?;
                        let parts = list(items)?
                            .iter()
                            .map(|p| p.as_str().map(str::to_owned).with_context(|| format!("Fn::Join of {p}")))
                            .collect::<Result<Vec<_>>>()?;
                        json!(parts.join(separator))
                    }
                    "Fn::Split" => {
                        let [separator, source] = args()?.as_slice() else { bail!("Fn::Split takes two") };
                        let separator = separator.as_str().context("Fn::Split separator")?;
                        json!(text(source)?.split(separator).collect::<Vec<_>>())
                    }
                    "Fn::Select" => {
                        let [index, items] = args()?.as_slice() else { bail!("Fn::Select takes two") };
                        let index: usize = text(index)?.parse()?;
                        list(items)?.get(index).cloned().with_context(|| format!("Fn::Select {index} out of range"))?
                    }
                    "Fn::Sub" => {
                        let (pattern, variables) = match arguments {
                            Value::String(s) => (s.clone(), serde_json::Map::new()),
                            Value::Array(a) if a.len() == 2 => (
                                a[0].as_str().context("Fn::Sub pattern")?.to_owned(),
                                a[1].as_object().context("Fn::Sub variables")?.clone(),
                            ),
                            _ => bail!("Fn::Sub {arguments}"),
                        };
                        let mut out = String::new();
                        let mut rest = pattern.as_str();
                        while let Some(start) = rest.find("${") {
                            out.push_str(&rest[..start]);
                            let end = rest[start..].find('}').context("Fn::Sub: an open ${")? + start;
                            let name = &rest[start + 2..end];
                            if let Some(literal) = name.strip_prefix('!') {
                                out.push_str(&format!("${{{literal}}}"));
                            } else if let Some(v) = variables.get(name) {
                                out.push_str(&text(v)?);
                            } else {
                                out.push_str(&text(&self.lookup(name)?)?);
                            }
                            rest = &rest[end + 1..];
                        }
                        out.push_str(rest);
                        json!(out)
                    }
                    other => bail!("{other} is not resolved here"),
                }))
            }
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (key, v) in map {
                    if let Some(v) = self.resolve_inner(template, v)? {
                        out.insert(key.clone(), v);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_blocks_match_cloudformation() {
        assert_eq!(
            cidr_blocks("10.42.0.0/16", 4, 10).expect("valid"),
            ["10.42.0.0/22", "10.42.4.0/22", "10.42.8.0/22", "10.42.12.0/22"]
        );
    }

    #[test]
    fn custom_resources_are_replaced_by_their_answers() {
        let template = json!({
            "Resources": {
                "LifecycleAssets": {"Type": "Custom::LifecycleAssets", "Properties": {"ServiceToken": "arn"}},
                "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {
                    "KEY": {"Fn::GetAtt": ["LifecycleAssets", "AgentObjectKey"]}}}}}
            },
            "Outputs": {"Key": {"Value": {"Fn::GetAtt": ["LifecycleAssets", "AgentObjectKey"]}}}
        });
        let mut adapted = template.clone();
        let mut changes = Vec::new();
        substitute_custom_resource(&mut adapted, "Custom::LifecycleAssets", &[("AgentObjectKey", "k")], &mut changes)
            .expect("answered");
        assert_eq!(
            adapted,
            json!({"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Environment":
                {"Variables": {"KEY": "k"}}}}}, "Outputs": {"Key": {"Value": "k"}}})
        );
        assert_eq!(changes, ["LifecycleAssets (Custom::LifecycleAssets): AgentObjectKey = k, 2 references"]);

        let mut unanswered = template;
        let result = substitute_custom_resource(&mut unanswered, "Custom::LifecycleAssets", &[], &mut changes);
        assert!(result.is_err(), "an attribute without an answer is an error");
    }

    #[test]
    fn policy_documents_resolve_against_parameters_and_attributes() {
        let template = json!({
            "Parameters": {"Who": {"Type": "CommaDelimitedList", "Default": ""}, "Src": {"Type": "String"}},
            "Conditions": {"HasSrc": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Src"}, ""]}]}}
        });
        let mut resolution =
            Resolution::from_template(&template, "s", &[("Src", "portal".into())]).expect("parameters");
        resolution.attributes.insert(("Role".into(), "Arn".into()), json!("arn:aws:iam::1:role/r"));
        let document = json!({
            "Who": {"Ref": "Who"},
            "Arn": {"Fn::Sub": "arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${Src}/${Role.Arn}/${!literal}"},
            "Picked": {"Fn::Select": [1, {"Fn::Split": ["s3://", {"Fn::If": ["HasSrc", "s3://b/k", "s3://n/n"]}]}]},
            "Gone": {"Fn::If": ["HasSrc", {"Ref": "AWS::NoValue"}, "kept"]},
            "List": [{"Fn::Join": [",", [{"Fn::GetAtt": ["Role", "Arn"]}, "x"]]}, {"Ref": "AWS::NoValue"}]
        });
        assert_eq!(
            resolution.resolve(&template, &document).expect("resolved"),
            json!({"Who": [""], "Arn": format!("arn:aws:x:{REGION}:123456789012:portal/arn:aws:iam::1:role/r/${{literal}}"),
                   "Picked": "b/k", "List": ["arn:aws:iam::1:role/r,x"]})
        );
        assert!(resolution.resolve(&template, &json!({"Ref": "Missing"})).is_err(), "no guess for a missing name");
    }

    #[test]
    fn inline_policies_read_in_both_forms() {
        let json = inline_policy("%7B%22Version%22%3A%20%222012-10-17%22%7D").expect("json");
        let repr = inline_policy("{'Version': '2012-10-17'}").expect("repr");
        assert_eq!(json, repr);
    }
}
