//! With moto's IAM enforcement on, the credentials of a generated notebook role can do exactly what the
//! request asked: read (and for read-write, write) its folders, fetch the lifecycle assets and write its own
//! heartbeat; everything else is denied.
//!
//! moto does not evaluate policy conditions nor permissions boundaries: the `s3:prefix` condition on
//! listing and the boundary are checked by the unit tests of `fleet::domain::policy`.

use anyhow::{Context, Result};
use fleet::domain::request::NOTEBOOK_REQUESTED;
use fleet::service::lambda::handle_request_event;
use integration_tests::denied::access_denied;
use integration_tests::emulator::assume_role;
use integration_tests::events::{notebook_requested, request_event};
use integration_tests::platform::{s3_client, ASSETS_BUCKET};
use integration_tests::{Emulator, Platform};

#[tokio::test(flavor = "multi_thread")]
async fn the_notebook_role_reaches_exactly_the_requested_data() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let answer = handle_request_event(
        &platform.provisioner(),
        request_event(NOTEBOOK_REQUESTED, notebook_requested("req-1", "alice-nb")),
    )
    .await?;
    let role_arn = answer["detail"]["role_arn"].as_str().context("role arn")?.to_owned();

    let admin_s3 = s3_client(&platform.sdk);
    admin_s3
        .create_bucket()
        .bucket("other-data")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await?;
    for (bucket, key) in [
        ("team-data", "risk/alice/a.csv"),
        ("team-data", "risk/bob/b.csv"),
        ("shared-data", "reference/r.csv"),
        ("other-data", "risk/alice/x.csv"),
    ] {
        admin_s3.put_object().bucket(bucket).key(key).body(b"data".to_vec().into()).send().await?;
    }

    // As SageMaker would: assume the notebook role (before enforcement: see `assume_role`).
    let credentials = assume_role(&platform.sdk, &role_arn).await?;
    emulator.enforce_iam_after(0)?;
    let notebook_sdk = emulator.sdk_config_as(credentials).await;
    let s3 = s3_client(&notebook_sdk);

    let get = |bucket: &'static str, key: String| {
        let s3 = s3.clone();
        async move { s3.get_object().bucket(bucket).key(key).send().await.map(|_| ()) }
    };
    let put = |bucket: &'static str, key: String| {
        let s3 = s3.clone();
        async move { s3.put_object().bucket(bucket).key(key).body(b"new".to_vec().into()).send().await.map(|_| ()) }
    };

    get("team-data", "risk/alice/a.csv".into()).await.context("read own read-write folder")?;
    put("team-data", "risk/alice/new.csv".into()).await.context("write own read-write folder")?;
    get("shared-data", "reference/r.csv".into()).await.context("read own read folder")?;
    get(ASSETS_BUCKET, platform.agent_key.clone()).await.context("fetch the heartbeat agent")?;
    put(ASSETS_BUCKET, "heartbeats/alice-nb".into()).await.context("write own heartbeat")?;

    let refusals = [
        ("read another person's folder", access_denied(get("team-data", "risk/bob/b.csv".into()).await)),
        ("write another person's folder", access_denied(put("team-data", "risk/bob/new.csv".into()).await)),
        ("write a read-only folder", access_denied(put("shared-data", "reference/new.csv".into()).await)),
        ("read a bucket outside the request", access_denied(get("other-data", "risk/alice/x.csv".into()).await)),
        ("write another notebook's heartbeat", access_denied(put(ASSETS_BUCKET, "heartbeats/bob-nb".into()).await)),
        ("overwrite the lifecycle assets", access_denied(put(ASSETS_BUCKET, platform.agent_key.clone()).await)),
    ];
    let not_denied: Vec<String> = refusals
        .into_iter()
        .filter_map(|(what, result)| result.err().map(|instead| format!("{what}: {instead}")))
        .collect();
    assert!(not_denied.is_empty(), "the notebook role was not denied:\n{}", not_denied.join("\n"));
    Ok(())
}
