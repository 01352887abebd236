//! The provisioner end to end on the emulator: real EventBridge event JSON in, state checked through the
//! SDK as a platform engineer would check it.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use base64::Engine;
use fleet::domain::outcome::{
    OutcomeEvent, NOTEBOOK_PROVISIONED, NOTEBOOK_PROVISIONING_FAILED, NOTEBOOK_REQUEST_REJECTED, NOTEBOOK_STARTED,
    NOTEBOOK_STOPPED,
};
use fleet::domain::policy::{PolicyDocument, Principal};
use fleet::domain::request::{NOTEBOOK_REQUESTED, NOTEBOOK_START_REQUESTED, NOTEBOOK_STOP_REQUESTED};
use fleet::service::lambda::handle_request_event;
use fleet::testing::ActionRequest;
use integration_tests::events::{notebook_requested, request_event};
use integration_tests::platform::ASSETS_BUCKET;
use integration_tests::{Emulator, Platform};
use serde_json::Value;

/// IAM answers policy documents URL-encoded; moto answers them as JSON.
fn policy(text: &str) -> Result<PolicyDocument> {
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8()?;
    Ok(serde_json::from_str(&decoded)?)
}

async fn provision(platform: &Platform, request_id: &str, name: &str) -> Result<Value> {
    let provisioner = platform.provisioner();
    Ok(handle_request_event(&provisioner, request_event(NOTEBOOK_REQUESTED, notebook_requested(request_id, name)))
        .await?)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_becomes_an_isolated_notebook_with_its_own_least_privilege_role() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let mut config = platform.config();
    config.kms_key_id = Some("arn:aws:kms:eu-west-1:123456789012:key/1111aaaa-22bb-33cc-44dd-555555eeeeee".into());
    let provisioner = platform.provisioner_with(config);
    let answer =
        handle_request_event(&provisioner, request_event(NOTEBOOK_REQUESTED, notebook_requested("req-1", "alice-nb")))
            .await?;
    assert_eq!(answer["detail-type"], NOTEBOOK_PROVISIONED, "{answer}");

    let sagemaker = aws_sdk_sagemaker::Client::new(&platform.sdk);
    let notebook = sagemaker.describe_notebook_instance().notebook_instance_name("alice-nb").send().await?;
    assert_eq!(notebook.direct_internet_access().map(|d| d.as_str()), Some("Disabled"));
    assert_eq!(notebook.root_access().map(|r| r.as_str()), Some("Disabled"));
    assert!(platform.private_subnet_ids.iter().any(|s| Some(s.as_str()) == notebook.subnet_id()), "private subnet");
    assert_eq!(notebook.security_groups(), std::slice::from_ref(&platform.security_group_id));
    assert_eq!(notebook.instance_type().map(|t| t.as_str()), Some("ml.t3.medium"));
    assert_eq!(notebook.volume_size_in_gb(), Some(20));
    let lifecycle_name = notebook.notebook_instance_lifecycle_config_name().context("lifecycle config")?;
    assert!(lifecycle_name.starts_with("nbf-on-start-"));
    assert_eq!(answer["detail"]["notebook_arn"].as_str(), notebook.notebook_instance_arn());

    // moto accepts but does not store IMDSv2, the platform and the KMS key: check what was sent.
    let sent = platform.requests.bodies("CreateNotebookInstance");
    assert_eq!(sent.len(), 1);
    let sent: Value = serde_json::from_str(&sent[0])?;
    assert_eq!(sent["InstanceMetadataServiceConfiguration"]["MinimumInstanceMetadataServiceVersion"], "2");
    assert_eq!(sent["PlatformIdentifier"], "notebook-al2-v3");
    assert_eq!(sent["KmsKeyId"], "arn:aws:kms:eu-west-1:123456789012:key/1111aaaa-22bb-33cc-44dd-555555eeeeee");
    assert_eq!(sent["DirectInternetAccess"], "Disabled");

    let tags: BTreeMap<String, String> = sagemaker
        .list_tags()
        .resource_arn(notebook.notebook_instance_arn().context("arn")?)
        .send()
        .await?
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect();
    assert_eq!(tags["notebook-fleet:managed-by"], "notebook-fleet");
    assert_eq!(tags["notebook-fleet:owner"], "alice");
    assert_eq!(tags["notebook-fleet:team"], "risk");
    assert_eq!(tags["notebook-fleet:request-id"], "req-1");
    assert_eq!(tags["notebook-fleet:idle-timeout-minutes"], "90");

    let iam = aws_sdk_iam::Client::new(&platform.sdk);
    let role = iam.get_role().role_name("nbf-alice-nb").send().await?.role.context("role")?;
    assert_eq!(Some(role.arn()), notebook.role_arn());
    assert_eq!(role.path(), "/notebook-fleet/notebooks/");
    assert_eq!(
        role.permissions_boundary().and_then(|b| b.permissions_boundary_arn()),
        Some(platform.boundary_arn.as_str())
    );
    let trust = policy(role.assume_role_policy_document().context("trust policy")?)?;
    assert_eq!(trust.statement.len(), 1);
    assert_eq!(
        trust.statement[0].principal,
        Some(Principal::Service { service: vec!["sagemaker.amazonaws.com".into()] })
    );
    assert_eq!(trust.statement[0].action, ["sts:AssumeRole"]);

    let inline =
        iam.get_role_policy().role_name("nbf-alice-nb").policy_name("notebook-fleet-data-access").send().await?;
    let inline = policy(inline.policy_document())?;
    let resources = |sid: &str| -> Vec<String> {
        inline.statement.iter().filter(|s| s.sid.as_deref() == Some(sid)).flat_map(|s| s.resource.clone()).collect()
    };
    assert_eq!(resources("ReadData"), ["arn:aws:s3:::shared-data/reference/*", "arn:aws:s3:::team-data/risk/alice/*"]);
    assert_eq!(resources("WriteData"), ["arn:aws:s3:::team-data/risk/alice/*"]);
    assert_eq!(resources("WriteOwnHeartbeat"), [format!("arn:aws:s3:::{ASSETS_BUCKET}/heartbeats/alice-nb")]);
    assert_eq!(resources("ReadLifecycleAssets"), [format!("arn:aws:s3:::{ASSETS_BUCKET}/assets/*")]);
    let policy_names = iam.list_role_policies().role_name("nbf-alice-nb").send().await?;
    assert_eq!(policy_names.policy_names(), ["notebook-fleet-data-access"]);
    let attached = iam.list_attached_role_policies().role_name("nbf-alice-nb").send().await?;
    assert!(attached.attached_policies().is_empty(), "no managed policy besides the boundary");

    let lifecycle = sagemaker
        .describe_notebook_instance_lifecycle_config()
        .notebook_instance_lifecycle_config_name(lifecycle_name)
        .send()
        .await?;
    let content = lifecycle.on_start()[0].content().context("on-start content")?;
    let script = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(content)?)?;
    assert!(script.contains(&format!("AGENT_KEY='{}'", platform.agent_key)), "{script}");
    assert!(script.contains(&format!("ASSETS_BUCKET='{ASSETS_BUCKET}'")));

    let outcomes = platform.drain_outcomes().await?;
    assert_eq!(outcomes.len(), 1, "exactly one outcome: {outcomes:?}");
    let OutcomeEvent::Provisioned(provisioned) = &outcomes[0] else { anyhow::bail!("not provisioned: {outcomes:?}") };
    assert_eq!(provisioned.request_id, "req-1");
    assert_eq!(provisioned.role_arn, role.arn());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subnet_with_an_internet_route_is_refused_and_nothing_is_created() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let mut config = platform.config();
    config.subnet_ids = vec![platform.public_subnet_id.clone()];
    let provisioner = platform.provisioner_with(config);
    let answer =
        handle_request_event(&provisioner, request_event(NOTEBOOK_REQUESTED, notebook_requested("req-1", "alice-nb")))
            .await?;
    assert_eq!(answer["detail-type"], NOTEBOOK_PROVISIONING_FAILED);
    let error = answer["detail"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!("subnet {} is not isolated", platform.public_subnet_id)) && error.contains("igw-"),
        "{error}"
    );

    let sagemaker = aws_sdk_sagemaker::Client::new(&platform.sdk);
    assert!(sagemaker.list_notebook_instances().send().await?.notebook_instances().is_empty());
    assert!(!platform.lifecycle_config_exists().await?);
    let roles = aws_sdk_iam::Client::new(&platform.sdk).list_roles().path_prefix("/notebook-fleet/").send().await?;
    assert!(roles.roles().is_empty());
    let outcomes = platform.drain_outcomes().await?;
    assert!(matches!(outcomes.as_slice(), [OutcomeEvent::Failed(_)]), "{outcomes:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_concurrent_deliveries_of_one_request_yield_one_notebook_and_one_role() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();
    let deliveries = (0..10).map(|_| {
        handle_request_event(&provisioner, request_event(NOTEBOOK_REQUESTED, notebook_requested("req-1", "alice-nb")))
    });
    let answers = futures::future::join_all(deliveries).await;
    let mut arns = std::collections::BTreeSet::new();
    for answer in answers {
        let answer = answer?;
        assert_eq!(answer["detail-type"], NOTEBOOK_PROVISIONED, "{answer}");
        arns.insert(answer["detail"]["notebook_arn"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(arns.len(), 1, "every answer names the same notebook");

    let sagemaker = aws_sdk_sagemaker::Client::new(&platform.sdk);
    assert_eq!(sagemaker.list_notebook_instances().send().await?.notebook_instances().len(), 1);
    let roles = aws_sdk_iam::Client::new(&platform.sdk).list_roles().path_prefix("/notebook-fleet/").send().await?;
    assert_eq!(roles.roles().len(), 1);
    let outcomes = platform.drain_outcomes().await?;
    assert_eq!(outcomes.len(), 1, "one outcome on the bus for ten deliveries: {outcomes:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivery_replays_and_another_request_for_the_name_is_rejected() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let first = provision(&platform, "req-1", "alice-nb").await?;
    platform.calls.reset();
    let again = provision(&platform, "req-1", "alice-nb").await?;
    assert_eq!(again["detail"]["replayed"], true);
    assert_eq!(again["detail"]["notebook_arn"], first["detail"]["notebook_arn"]);
    assert_eq!(again["detail"]["lifecycle_config_name"], first["detail"]["lifecycle_config_name"]);
    // The request ledger answers: one version listing of its entry, one read of the first answer; nothing is
    // created, recorded again or published again.
    let calls: Vec<_> = platform.calls.snapshot().into_iter().collect();
    assert_eq!(
        calls,
        [("S3.GetObject".to_owned(), 1), ("S3.ListObjectVersions".to_owned(), 1)],
        "a replay reads the ledger and nothing else"
    );

    // The same request id under another name is the same request: answered again, not provisioned again.
    let renamed = provision(&platform, "req-1", "alice-renamed").await?;
    assert_eq!(renamed["detail"]["notebook_name"], "alice-nb");
    let sagemaker = aws_sdk_sagemaker::Client::new(&platform.sdk);
    assert_eq!(sagemaker.list_notebook_instances().send().await?.notebook_instances().len(), 1);

    let other = provision(&platform, "req-2", "alice-nb").await?;
    assert_eq!(other["detail-type"], NOTEBOOK_REQUEST_REJECTED);
    assert!(other["detail"]["reason"].as_str().unwrap_or_default().contains("already exists (request req-1)"));
    let outcomes = platform.drain_outcomes().await?;
    assert_eq!(outcomes.len(), 2, "the first answer and the rejection, nothing for the replays: {outcomes:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_and_start_act_only_on_managed_notebooks() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    provision(&platform, "req-1", "alice-nb").await?;
    let provisioner = platform.provisioner();
    let sagemaker = aws_sdk_sagemaker::Client::new(&platform.sdk);
    let status = |name: &'static str| {
        let sagemaker = sagemaker.clone();
        async move {
            let d = sagemaker.describe_notebook_instance().notebook_instance_name(name).send().await?;
            anyhow::Ok(d.notebook_instance_status().map(|s| s.as_str().to_owned()).unwrap_or_default())
        }
    };
    // moto makes every transition instant: the notebook is InService as soon as it is created.
    assert_eq!(status("alice-nb").await?, "InService");

    let stop = handle_request_event(
        &provisioner,
        request_event(NOTEBOOK_STOP_REQUESTED, ActionRequest::new("stop-1", "alice-nb").detail()),
    )
    .await?;
    assert_eq!(stop["detail-type"], NOTEBOOK_STOPPED, "{stop}");
    assert_eq!(status("alice-nb").await?, "Stopped");
    let start = handle_request_event(
        &provisioner,
        request_event(NOTEBOOK_START_REQUESTED, ActionRequest::new("start-1", "alice-nb").detail()),
    )
    .await?;
    assert_eq!(start["detail-type"], NOTEBOOK_STARTED, "{start}");
    assert_eq!(status("alice-nb").await?, "InService");

    // A notebook somebody created by hand is not the fleet's to stop.
    let role_arn = aws_sdk_iam::Client::new(&platform.sdk)
        .get_role()
        .role_name("nbf-alice-nb")
        .send()
        .await?
        .role
        .context("role")?
        .arn;
    sagemaker
        .create_notebook_instance()
        .notebook_instance_name("hand-made")
        .instance_type(aws_sdk_sagemaker::types::InstanceType::MlT3Medium)
        .role_arn(role_arn)
        .send()
        .await?;
    let refused = handle_request_event(
        &provisioner,
        request_event(NOTEBOOK_STOP_REQUESTED, ActionRequest::new("stop-2", "hand-made").detail()),
    )
    .await?;
    assert_eq!(refused["detail-type"], NOTEBOOK_REQUEST_REJECTED);
    assert!(refused["detail"]["reason"].as_str().unwrap_or_default().contains("not managed by notebook-fleet"));
    assert_eq!(status("hand-made").await?, "InService");
    Ok(())
}
