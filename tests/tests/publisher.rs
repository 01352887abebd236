//! The lifecycle publisher on the emulator: assets land under content-addressed keys, a second deploy
//! writes nothing, and CloudFormation gets its answer at the response URL.

use std::collections::HashMap;

use anyhow::{Context, Result};
use aws_lambda_events::cloudformation::CloudFormationCustomResourceRequest;
use fleet::aws::assets::S3Assets;
use fleet::aws::custom_resource::{send_response, CustomResourceContext, ASSETS_PHYSICAL_ID};
use fleet::domain::assets::sha256_hex;
use fleet::domain::lifecycle::{render_on_start_script, AgentObject, OnStartParameters};
use fleet::service::publish::publish_assets;
use integration_tests::platform::{s3_client, ASSETS_BUCKET};
use integration_tests::{Emulator, Platform};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn object(platform: &Platform, key: &str) -> Result<Vec<u8>> {
    let got = s3_client(&platform.sdk).get_object().bucket(ASSETS_BUCKET).key(key).send().await?;
    Ok(got.body.collect().await?.into_bytes().to_vec())
}

#[tokio::test(flavor = "multi_thread")]
async fn assets_are_published_once_under_their_content_hash() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let store = S3Assets::new(s3_client(&platform.sdk), ASSETS_BUCKET);
    let agent_binary = b"\x7fELF stand-in heartbeat agent v2".to_vec();

    let first = publish_assets(&store, ASSETS_BUCKET, &agent_binary).await?;
    assert_eq!(first.agent_key, format!("assets/agent/sha256-{}/heartbeat-agent", sha256_hex(&agent_binary)));
    assert_eq!(first.uploaded, [first.agent_key.clone(), first.on_start_key.clone()]);
    assert_eq!(object(&platform, &first.agent_key).await?, agent_binary);
    let agent = AgentObject::from_key(&first.agent_key).map_err(anyhow::Error::msg)?;
    let script = render_on_start_script(&OnStartParameters { assets_bucket: ASSETS_BUCKET, agent: &agent });
    assert_eq!(object(&platform, &first.on_start_key).await?, script.as_bytes());
    assert!(first.on_start_key.contains(&sha256_hex(script.as_bytes())));

    let again = publish_assets(&store, ASSETS_BUCKET, &agent_binary).await?;
    assert!(again.uploaded.is_empty(), "a second deploy writes nothing");
    assert_eq!(again.agent_key, first.agent_key);

    // A new agent is published beside the old one, which stays for the notebooks that run it.
    let newer = publish_assets(&store, ASSETS_BUCKET, b"agent v3").await?;
    assert_ne!(newer.agent_key, first.agent_key);
    assert_eq!(object(&platform, &first.agent_key).await?, agent_binary);
    assert!(publish_assets(&store, ASSETS_BUCKET, b"").await.is_err(), "an empty agent is refused");
    Ok(())
}

/// A stand-in for CloudFormation's presigned response URL: answers 200 and hands over the body it got.
async fn response_url() -> Result<(String, tokio::task::JoinHandle<Result<(String, String)>>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/cloudformation-response?X-Amz-Signature=abc", listener.local_addr()?);
    let handle = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await?;
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let read = socket.read(&mut buffer).await?;
            request.extend_from_slice(&buffer[..read]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if body.len() >= length || read == 0 {
                    socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await?;
                    return Ok((head.lines().next().unwrap_or_default().to_owned(), body.to_owned()));
                }
            }
        }
    });
    Ok((url, handle))
}

fn request(kind: &str, url: &str) -> Result<CloudFormationCustomResourceRequest> {
    let mut event = json!({
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:publisher",
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/notebook-fleet/1",
        "RequestId": "req-1",
        "ResourceType": "Custom::LifecycleAssets",
        "LogicalResourceId": "LifecycleAssets",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:publisher"}
    });
    if kind != "Create" {
        event["PhysicalResourceId"] = json!(ASSETS_PHYSICAL_ID);
        event["OldResourceProperties"] = json!({});
    }
    Ok(serde_json::from_value(event)?)
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudformation_gets_its_answer_with_the_agent_key() -> Result<()> {
    let (url, server) = response_url().await?;
    let (context, delete) = CustomResourceContext::of(&request("Create", &url)?).context("known request type")?;
    assert!(!delete);
    let data = HashMap::from([("AgentObjectKey".to_owned(), "assets/agent/sha256-x/heartbeat-agent".to_owned())]);
    send_response(&context, &Ok(data)).await?;
    let (request_line, body) = server.await??;
    assert!(request_line.starts_with("PUT /cloudformation-response?X-Amz-Signature=abc"), "{request_line}");
    let body: Value = serde_json::from_str(&body)?;
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["PhysicalResourceId"], ASSETS_PHYSICAL_ID);
    assert_eq!(body["Data"]["AgentObjectKey"], "assets/agent/sha256-x/heartbeat-agent");
    assert_eq!(
        (body["RequestId"].as_str(), body["LogicalResourceId"].as_str()),
        (Some("req-1"), Some("LifecycleAssets"))
    );

    let (url, server) = response_url().await?;
    let (context, delete) = CustomResourceContext::of(&request("Delete", &url)?).context("known request type")?;
    assert!(delete, "a delete is recognised (and the function deletes nothing)");
    send_response(&context, &Err("cannot read the heartbeat agent".into())).await?;
    let (_, body) = server.await??;
    let body: Value = serde_json::from_str(&body)?;
    assert_eq!(body["Status"], "FAILED");
    assert_eq!(body["Reason"], "cannot read the heartbeat agent");
    Ok(())
}
