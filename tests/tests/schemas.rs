//! Every sample event is a detail its published schema (`schemas/`) accepts, checked by an independent
//! validator (Python `jsonschema`, pinned in `scripts/requirements-schemas.in`), and the schemas refuse what
//! the provisioner refuses: a wrongly typed, a misspelt and a missing field.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use fleet::domain::schemas::DetailSchema;
use integration_tests::tools::installed_tool;
use serde_json::{json, Value};

/// Where `ensure_schema_validator` (scripts/lib.sh) puts the validator's Python.
const SCHEMA_PYTHON_VAR: &str = "FLEET_SCHEMA_PYTHON";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// One sample: where it is, its `detail-type` and its `detail`.
struct Sample {
    name: String,
    detail_type: String,
    detail: Value,
}

/// Every sample: the EventBridge events under `samples/events/` and the `put-events` entry lists beside them.
fn samples() -> Result<Vec<Sample>> {
    let root = repo_root();
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in ["samples/events", "samples"] {
        for entry in std::fs::read_dir(root.join(dir)).with_context(|| dir.to_owned())? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && (dir != "samples" || name.starts_with("put-events-")) {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    let mut samples = Vec::new();
    for path in files {
        let name = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path)?).with_context(|| name.clone())?;
        match &event {
            Value::Array(entries) => {
                for (i, entry) in entries.iter().enumerate() {
                    let (Some(detail_type), Some(detail)) = (entry["DetailType"].as_str(), entry["Detail"].as_str())
                    else {
                        bail!("{name}[{i}]: an entry without DetailType or a Detail string");
                    };
                    let detail = serde_json::from_str(detail).with_context(|| format!("{name}[{i}]: Detail"))?;
                    samples.push(Sample { name: format!("{name}[{i}]"), detail_type: detail_type.to_owned(), detail });
                }
            }
            _ => {
                let detail_type = event["detail-type"].as_str().with_context(|| format!("{name}: no detail-type"))?;
                samples.push(Sample { name, detail_type: detail_type.to_owned(), detail: event["detail"].clone() });
            }
        }
    }
    Ok(samples)
}

/// The committed schema of `detail_type` (the staleness test in `shared/tests/schemas.rs` holds it equal
/// to what the types generate).
fn committed_schema(detail_type: &str) -> Result<Value> {
    let schema = DetailSchema::all()
        .into_iter()
        .find(|s| s.detail_type == detail_type)
        .with_context(|| format!("{detail_type:?} has no schema"))?;
    let path = repo_root().join(schema.path());
    serde_json::from_str(&std::fs::read_to_string(&path).with_context(|| path.display().to_string())?)
        .with_context(|| path.display().to_string())
}

/// What the validator says is wrong with each `(name, detail_type, detail)`: one `/pointer: message` each.
fn violations(cases: &[(String, &str, Value)]) -> Result<Vec<(String, Vec<String>)>> {
    let python = installed_tool(
        SCHEMA_PYTHON_VAR,
        "venv-schemas/bin/python",
        "run scripts/test.sh (it installs the pinned jsonschema)",
    )?;
    let mut input = String::new();
    for (name, detail_type, detail) in cases {
        let case = json!({"name": name, "schema": committed_schema(detail_type)?, "instance": detail});
        input.push_str(&case.to_string());
        input.push('\n');
    }
    let mut child = Command::new(&python)
        .arg(repo_root().join("tests/schemas/validate.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", python.display()))?;
    child.stdin.take().context("the validator's stdin")?.write_all(input.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("the validator failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    let mut answers = Vec::new();
    for line in String::from_utf8(output.stdout)?.lines() {
        let answer: Value = serde_json::from_str(line)?;
        let found = answer["violations"].as_array().cloned().unwrap_or_default();
        answers.push((
            answer["name"].as_str().unwrap_or_default().to_owned(),
            found.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        ));
    }
    if answers.len() != cases.len() {
        bail!("the validator answered {} of {} cases", answers.len(), cases.len());
    }
    Ok(answers)
}

#[test]
fn every_sample_event_matches_the_schema_of_its_detail_type() -> Result<()> {
    let samples = samples()?;
    assert!(samples.len() >= 10, "found only {} samples", samples.len());
    let cases: Vec<_> = samples.iter().map(|s| (s.name.clone(), s.detail_type.as_str(), s.detail.clone())).collect();
    let refused: Vec<String> = violations(&cases)?
        .into_iter()
        .flat_map(|(name, found)| found.into_iter().map(move |v| format!("{name}: detail{v}")))
        .collect();
    assert!(refused.is_empty(), "samples their schemas refuse:\n{}", refused.join("\n"));
    Ok(())
}

#[test]
fn the_schemas_refuse_a_wrongly_typed_a_misspelt_and_a_missing_field() -> Result<()> {
    let samples = samples()?;
    let sample = samples
        .iter()
        .find(|s| s.name == "samples/events/notebook-requested.json")
        .context("samples/events/notebook-requested.json")?;
    let mut wrong = sample.detail.clone();
    wrong["volume_size_gb"] = json!("20");
    wrong["data_access"][0]["access"] = json!("write");
    let mut misspelt = sample.detail.clone();
    misspelt["idle_timout_minutes"] = json!(30);
    let mut missing = sample.detail.clone();
    missing.as_object_mut().context("an object")?.remove("owner");
    let detail_type = sample.detail_type.as_str();
    let cases = [
        ("as sent".to_owned(), detail_type, sample.detail.clone()),
        ("wrong".to_owned(), detail_type, wrong),
        ("misspelt".to_owned(), detail_type, misspelt),
        ("missing".to_owned(), detail_type, missing),
    ];
    let found = violations(&cases)?;
    assert!(found[0].1.is_empty(), "the sample itself is accepted: {:?}", found[0]);
    let wrong = &found[1].1;
    assert_eq!(wrong.len(), 2, "{wrong:?}");
    assert!(wrong.iter().any(|v| v.starts_with("/data_access/0/access: ")), "{wrong:?}");
    assert!(wrong.iter().any(|v| v.starts_with("/volume_size_gb: ") && v.contains("integer")), "{wrong:?}");
    assert_eq!(found[2].1.len(), 1, "an unknown field is refused: {:?}", found[2]);
    assert!(found[2].1[0].contains("idle_timout_minutes"), "{:?}", found[2]);
    assert!(found[3].1.iter().any(|v| v.contains("'owner' is a required property")), "{:?}", found[3]);
    Ok(())
}
