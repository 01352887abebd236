//! The sweeper's daily leftover run on the emulator: a notebook provisioned for real keeps its role and
//! lifecycle configuration; a role a dead provision left on the notebook path is kept while young, then
//! recorded and removed; roles outside the fleet's path or prefix are never touched.

use anyhow::Result;
use chrono::{Duration, Utc};
use fleet::aws::{AwsSweeper, CallCounter};
use fleet::domain::audit::slug;
use fleet::domain::leftovers::LEFTOVER_REMOVAL;
use fleet::domain::request::NOTEBOOK_REQUESTED;
use fleet::service::lambda::handle_request_event;
use integration_tests::events::{notebook_requested, request_event};
use integration_tests::fleet::sweep_settings;
use integration_tests::platform::{s3_client, AUDIT_BUCKET};
use integration_tests::{Emulator, Platform};

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"sagemaker.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

async fn role(iam: &aws_sdk_iam::Client, name: &str, path: &str) -> Result<()> {
    let tag = aws_sdk_iam::types::Tag::builder().key("notebook-fleet:managed-by").value("notebook-fleet").build()?;
    iam.create_role().role_name(name).path(path).assume_role_policy_document(TRUST).tags(tag).send().await?;
    iam.put_role_policy()
        .role_name(name)
        .policy_name("notebook-fleet-data-access")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#,
        )
        .send()
        .await?;
    Ok(())
}

async fn role_names(iam: &aws_sdk_iam::Client) -> Result<Vec<String>> {
    let mut names: Vec<String> = iam.list_roles().send().await?.roles.into_iter().map(|r| r.role_name).collect();
    names.sort();
    Ok(names)
}

#[tokio::test(flavor = "multi_thread")]
async fn unused_fleet_roles_are_kept_while_young_then_recorded_and_removed_and_nothing_else_is_touched() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioned = handle_request_event(
        &platform.provisioner(),
        request_event(NOTEBOOK_REQUESTED, notebook_requested("req-1", "alice-nb")),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    assert_eq!(provisioned["detail-type"], "Notebook Provisioned");
    let iam = aws_sdk_iam::Client::new(&platform.sdk);
    role(&iam, "nbf-died", "/notebook-fleet/notebooks/").await?;
    role(&iam, "nbf-team", "/team/").await?;
    role(&iam, "other-on-the-path", "/notebook-fleet/notebooks/").await?;
    let before = role_names(&iam).await?;

    let calls = CallCounter::new();
    let sweeper = AwsSweeper::from_sdk_config(&platform.sdk, sweep_settings(), &calls, true);
    // An hour later: the dead provision's role may still belong to a provision at work.
    let young = sweeper.remove_leftovers(Utc::now() + Duration::hours(1)).await?;
    assert!(young.removed.is_empty(), "{young:?}");
    assert_eq!(young.too_young.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["nbf-died"]);
    assert_eq!(role_names(&iam).await?, before);

    // A day and more later: recorded, then removed; the notebook's own role and every other role stay.
    let later = Utc::now() + Duration::hours(25);
    let report = sweeper.remove_leftovers(later).await?;
    assert_eq!(report.removed.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["nbf-died"], "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    // moto does not implement ListNotebookInstanceLifecycleConfigs: the run says so and handles the roles.
    assert!(report.listing_failures.contains_key("lifecycle configurations"), "{report:?}");
    assert!(platform.lifecycle_config_exists().await?);
    let mut expected: Vec<String> = before.into_iter().filter(|n| n != "nbf-died").collect();
    expected.sort();
    assert_eq!(role_names(&iam).await?, expected);
    assert!(expected.contains(&"nbf-alice-nb".to_owned()) && expected.contains(&"nbf-team".to_owned()));

    let records =
        s3_client(&platform.sdk).list_objects_v2().bucket(AUDIT_BUCKET).prefix("notebooks/died/").send().await?;
    let keys: Vec<&str> = records.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].contains(&slug(LEFTOVER_REMOVAL)), "{keys:?}");

    // Nothing is left over now: the next run removes nothing.
    let again = sweeper.remove_leftovers(later).await?;
    assert!(again.removed.is_empty() && again.too_young.is_empty(), "{again:?}");
    Ok(())
}
