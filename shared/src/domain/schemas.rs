//! The published contract: a JSON Schema for the `detail` of every request and every outcome, generated
//! from the types themselves (`schemars`; their `///` docs become descriptions), so that a schema cannot
//! drift from what the provisioner parses and emits.
//!
//! Two renderings of the same schemas:
//! - `schemas/requests/<detail-type>.json` and `schemas/outcomes/<detail-type>.json` (JSON Schema draft-07):
//!   what a sender validates a detail with before putting it on the bus.
//! - the template's EventBridge schema registry (`AWS::EventSchemas::Schema`, type `OpenApi3`): each
//!   detail inside the EventBridge envelope (`AWSEvent`), the form the registry's code bindings are
//!   generated from.
//!
//! Both are written by [`REGENERATE`]; without `UPDATE_SCHEMAS=1` that test fails when a file or the
//! template's section is stale.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::{json, Map, Value};

use super::audit::slug;
use super::outcome::{
    CustodianExpired, CustodianGranted, Decommissioned, Failed, IdleWarning, Locked, NotebookStopped,
    OwnerDeactivationCompleted, Provisioned, Rejected, Snoozed, StateChanged, ALL_DETAIL_TYPES,
    CUSTODIAN_ACCESS_EXPIRED, CUSTODIAN_ACCESS_GRANTED, NOTEBOOK_DECOMMISSIONED, NOTEBOOK_IDLE_SNOOZED,
    NOTEBOOK_IDLE_WARNING, NOTEBOOK_LOCKED, NOTEBOOK_PROVISIONED, NOTEBOOK_PROVISIONING_FAILED,
    NOTEBOOK_REQUEST_REJECTED, NOTEBOOK_STARTED, NOTEBOOK_STOPPED, OWNER_DEACTIVATION_COMPLETED,
};
use super::request::{
    CustodianAccessRequested, DecommissionRequested, IdleSnoozeRequested, NotebookActionRequested, NotebookRequested,
    OwnerDeactivated, CUSTODIAN_ACCESS_REQUESTED, NOTEBOOK_DECOMMISSION_REQUESTED, NOTEBOOK_IDLE_SNOOZE_REQUESTED,
    NOTEBOOK_REQUESTED, NOTEBOOK_START_REQUESTED, NOTEBOOK_STOP_REQUESTED, OWNER_DEACTIVATED, REQUEST_DETAIL_TYPES,
};

/// The command that regenerates `schemas/` and the template's registry; named by every staleness message.
pub const REGENERATE: &str = "UPDATE_SCHEMAS=1 cargo nextest run --workspace -E 'package(fleet) & binary(schemas)'";

/// The `source` of every outcome event (the provisioner's and the sweeper's `FLEET_EVENT_SOURCE` in the
/// template). Requests carry their sender's source, a stack parameter, so their registry entry names none.
pub const OUTCOME_SOURCE: &str = "notebook-fleet";

/// The lines around the template's generated section.
pub const TEMPLATE_BEGIN: &str = "  # BEGIN generated event schemas";
pub const TEMPLATE_END: &str = "  # END generated event schemas";

/// Whether a detail is sent to the fleet or sent by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Request,
    Outcome,
}

impl Direction {
    fn folder(self) -> &'static str {
        match self {
            Direction::Request => "requests",
            Direction::Outcome => "outcomes",
        }
    }
}

/// How a schema is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    /// JSON Schema draft-07, for the files in `schemas/`.
    JsonSchema,
    /// OpenAPI 3.0 (its schema dialect: `nullable`, no `const`), for the EventBridge schema registry.
    OpenApi3,
}

/// One `detail-type` and the schema of its detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetailSchema {
    pub detail_type: &'static str,
    pub direction: Direction,
}

impl DetailSchema {
    /// Every request kind (in [`REQUEST_DETAIL_TYPES`] order), then every outcome (in [`ALL_DETAIL_TYPES`]
    /// order).
    pub fn all() -> Vec<DetailSchema> {
        let requests =
            REQUEST_DETAIL_TYPES.iter().map(|d| DetailSchema { detail_type: d, direction: Direction::Request });
        let outcomes = ALL_DETAIL_TYPES.iter().map(|d| DetailSchema { detail_type: d, direction: Direction::Outcome });
        requests.chain(outcomes).collect()
    }

    /// The file in the repository: `schemas/requests/notebook-requested.json`.
    pub fn path(&self) -> String {
        format!("schemas/{}/{}.json", self.direction.folder(), slug(self.detail_type))
    }

    /// `Notebook Requested` → `NotebookRequested`: the registry's name for the detail.
    pub fn type_name(&self) -> String {
        self.detail_type.split_whitespace().collect()
    }

    /// The JSON Schema (draft-07) of the detail; `None` for a detail-type this module does not know (a test
    /// holds every listed kind to have one).
    pub fn json_schema(&self) -> Option<Value> {
        let mut schema = self.generate(Flavour::JsonSchema)?;
        if let Some(object) = schema.as_object_mut() {
            object.insert("title".into(), json!(self.detail_type));
        }
        Some(schema)
    }

    /// The file's content: the schema, pretty-printed, with a final newline.
    pub fn file_text(&self) -> Option<String> {
        let schema = self.json_schema()?;
        serde_json::to_string_pretty(&schema).ok().map(|text| text + "\n")
    }

    /// The registry's document (OpenAPI 3.0): the EventBridge envelope `AWSEvent` whose `detail` is this
    /// detail, with the detail's own definitions beside it under `components.schemas`.
    pub fn registry_document(&self) -> Option<Value> {
        let mut detail = self.generate(Flavour::OpenApi3)?;
        let object = detail.as_object_mut()?;
        object.remove("$schema");
        let mut components = match object.remove("components") {
            Some(Value::Object(mut components)) => match components.remove("schemas") {
                Some(Value::Object(schemas)) => schemas,
                _ => Map::new(),
            },
            _ => Map::new(),
        };
        // schemars transforms the root and what it knows as definitions; under `components.schemas` it
        // does not look, so the OpenAPI rewrites (nullable, const) are applied to each definition here.
        let mut transforms = SchemaSettings::openapi3().transforms;
        for value in components.values_mut() {
            if let Ok(mut component) = Schema::try_from(std::mem::take(value)) {
                transforms.iter_mut().for_each(|transform| transform.transform(&mut component));
                *value = component.to_value();
            }
        }
        let name = self.type_name();
        let mut envelope = json!({
            "type": "object",
            "required": ["detail-type", "resources", "detail", "id", "source", "time", "region", "version", "account"],
            "x-amazon-events-detail-type": self.detail_type,
            "properties": {
                "detail": {"$ref": format!("#/components/schemas/{name}")},
                "account": {"type": "string"},
                "detail-type": {"type": "string"},
                "id": {"type": "string"},
                "region": {"type": "string"},
                "resources": {"type": "array", "items": {"type": "string"}},
                "source": {"type": "string"},
                "time": {"type": "string", "format": "date-time"},
                "version": {"type": "string"}
            }
        });
        if self.direction == Direction::Outcome {
            envelope["x-amazon-events-source"] = json!(OUTCOME_SOURCE);
        }
        components.insert("AWSEvent".into(), envelope);
        components.insert(name.clone(), detail);
        Some(json!({
            "openapi": "3.0.0",
            "info": {"version": "1.0.0", "title": name},
            "paths": {},
            "components": {"schemas": components}
        }))
    }

    fn generate(&self, flavour: Flavour) -> Option<Value> {
        let settings = match flavour {
            Flavour::JsonSchema => SchemaSettings::draft07(),
            Flavour::OpenApi3 => SchemaSettings::openapi3(),
        };
        // An outcome's schema describes what the fleet writes (an `Option` it always writes is required, as
        // null); a request's what the fleet reads (a defaulted field may be left out).
        let settings = match self.direction {
            Direction::Request => settings,
            Direction::Outcome => settings.for_serialize(),
        };
        fn of<T: JsonSchema>(settings: SchemaSettings) -> Schema {
            settings.into_generator().into_root_schema_for::<T>()
        }
        let schema = match (self.direction, self.detail_type) {
            (Direction::Request, NOTEBOOK_REQUESTED) => of::<NotebookRequested>(settings),
            (Direction::Request, NOTEBOOK_STOP_REQUESTED | NOTEBOOK_START_REQUESTED) => {
                of::<NotebookActionRequested>(settings)
            }
            (Direction::Request, NOTEBOOK_DECOMMISSION_REQUESTED) => of::<DecommissionRequested>(settings),
            (Direction::Request, OWNER_DEACTIVATED) => of::<OwnerDeactivated>(settings),
            (Direction::Request, CUSTODIAN_ACCESS_REQUESTED) => of::<CustodianAccessRequested>(settings),
            (Direction::Request, NOTEBOOK_IDLE_SNOOZE_REQUESTED) => of::<IdleSnoozeRequested>(settings),
            (Direction::Outcome, NOTEBOOK_PROVISIONED) => of::<Provisioned>(settings),
            (Direction::Outcome, NOTEBOOK_REQUEST_REJECTED) => of::<Rejected>(settings),
            (Direction::Outcome, NOTEBOOK_PROVISIONING_FAILED) => of::<Failed>(settings),
            (Direction::Outcome, NOTEBOOK_STOPPED) => of::<NotebookStopped>(settings),
            (Direction::Outcome, NOTEBOOK_STARTED) => of::<StateChanged>(settings),
            (Direction::Outcome, NOTEBOOK_IDLE_WARNING) => of::<IdleWarning>(settings),
            (Direction::Outcome, NOTEBOOK_LOCKED) => of::<Locked>(settings),
            (Direction::Outcome, OWNER_DEACTIVATION_COMPLETED) => of::<OwnerDeactivationCompleted>(settings),
            (Direction::Outcome, NOTEBOOK_DECOMMISSIONED) => of::<Decommissioned>(settings),
            (Direction::Outcome, CUSTODIAN_ACCESS_GRANTED) => of::<CustodianGranted>(settings),
            (Direction::Outcome, CUSTODIAN_ACCESS_EXPIRED) => of::<CustodianExpired>(settings),
            (Direction::Outcome, NOTEBOOK_IDLE_SNOOZED) => of::<Snoozed>(settings),
            _ => return None,
        };
        Some(schema.to_value())
    }
}

/// The template's generated section: the registry and one schema per detail-type, with each document
/// inline (CloudFormation reads no local file), between [`TEMPLATE_BEGIN`] and [`TEMPLATE_END`].
pub fn template_section() -> String {
    let mut yaml = format!(
        "{TEMPLATE_BEGIN} (from the detail types by `{REGENERATE}`; do not edit by hand)\n\
         \x20 # The registry portal teams download code bindings from: one OpenAPI 3 schema per detail-type,\n\
         \x20 # the EventBridge envelope with its typed detail (the same types as schemas/).\n\
         \x20 EventSchemaRegistry:\n\
         \x20   Type: AWS::EventSchemas::Registry\n\
         \x20   Properties:\n\
         \x20     RegistryName: !Sub notebook-fleet-${{AWS::StackName}}\n\
         \x20     Description: The request and outcome events of notebook-fleet (detail schemas generated from the code)\n"
    );
    for schema in DetailSchema::all() {
        let Some(document) = schema.registry_document() else { continue };
        let content = document.to_string().replace('\'', "''");
        let kind = match schema.direction {
            Direction::Request => "request",
            Direction::Outcome => "outcome",
        };
        yaml.push_str(&format!(
            "  {name}EventSchema:\n\
             \x20   Type: AWS::EventSchemas::Schema\n\
             \x20   Properties:\n\
             \x20     RegistryName: !GetAtt EventSchemaRegistry.RegistryName\n\
             \x20     SchemaName: {OUTCOME_SOURCE}@{name}\n\
             \x20     Type: OpenApi3\n\
             \x20     Description: The {detail_type} {kind} event ({path})\n\
             \x20     Content: '{content}'\n",
            name = schema.type_name(),
            detail_type = schema.detail_type,
            path = schema.path(),
        ));
    }
    yaml.push_str(TEMPLATE_END);
    yaml.push('\n');
    yaml
}

/// `template` with its generated section replaced by [`template_section`]; an error when the template has
/// no such section (both marker lines, in order).
pub fn with_template_section(template: &str) -> Result<String, String> {
    let begin = template
        .find(TEMPLATE_BEGIN)
        .ok_or_else(|| format!("the template has no line starting with {TEMPLATE_BEGIN:?}"))?;
    let end = template[begin..]
        .find(TEMPLATE_END)
        .map(|at| begin + at)
        .ok_or_else(|| format!("the template has no line {TEMPLATE_END:?} after {TEMPLATE_BEGIN:?}"))?;
    let after = template[end..].find('\n').map_or(template.len(), |at| end + at + 1);
    Ok(format!("{}{}{}", &template[..begin], template_section(), &template[after..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_and_outcome_has_a_schema_under_its_own_file() {
        let all = DetailSchema::all();
        assert_eq!(all.len(), REQUEST_DETAIL_TYPES.len() + ALL_DETAIL_TYPES.len());
        for schema in &all {
            assert!(schema.json_schema().is_some(), "no schema for {schema:?}");
            assert!(schema.registry_document().is_some(), "no registry document for {schema:?}");
        }
        let mut paths: Vec<_> = all.iter().map(DetailSchema::path).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), all.len(), "one file per detail-type");
        let provisioned = DetailSchema { detail_type: NOTEBOOK_PROVISIONED, direction: Direction::Outcome };
        assert_eq!(provisioned.path(), "schemas/outcomes/notebook-provisioned.json");
    }

    #[test]
    fn schemas_say_what_the_types_say() {
        let request = DetailSchema { detail_type: NOTEBOOK_REQUESTED, direction: Direction::Request };
        let schema = request.json_schema().expect("schema");
        assert_eq!(schema["title"], NOTEBOOK_REQUESTED);
        assert_eq!(schema["additionalProperties"], false, "unknown fields are refused: {schema}");
        let required = schema["required"].as_array().expect("required");
        assert!(required.contains(&json!("owner")) && !required.contains(&json!("idle_timeout_minutes")));
        let doc = schema["properties"]["request_id"]["description"].as_str().unwrap_or_default();
        assert!(doc.starts_with("Idempotency key"), "field docs are descriptions: {doc:?}");
        assert_eq!(schema["definitions"]["AccessLevel"]["enum"], json!(["read", "read-write"]));

        // An outcome always writes its Options (as null), so they are required; a skipped one is not.
        let rejected = DetailSchema { detail_type: NOTEBOOK_REQUEST_REJECTED, direction: Direction::Outcome };
        let schema = rejected.json_schema().expect("schema");
        let required = schema["required"].as_array().expect("required");
        assert!(required.contains(&json!("request_id")) && !required.contains(&json!("owner")), "{schema}");
    }

    #[test]
    fn registry_documents_are_openapi_envelopes_around_the_detail() {
        let stopped = DetailSchema { detail_type: NOTEBOOK_STOPPED, direction: Direction::Outcome };
        let document = stopped.registry_document().expect("document");
        assert_eq!(document["openapi"], "3.0.0");
        let schemas = &document["components"]["schemas"];
        let envelope = &schemas["AWSEvent"];
        assert_eq!(envelope["x-amazon-events-detail-type"], NOTEBOOK_STOPPED);
        assert_eq!(envelope["x-amazon-events-source"], OUTCOME_SOURCE);
        assert_eq!(envelope["properties"]["detail"]["$ref"], "#/components/schemas/NotebookStopped");
        assert!(schemas["NotebookStopped"].is_object() && schemas["IdleStopped"].is_object(), "{document}");
        // Every reference points inside the document.
        let text = document.to_string();
        for reference in text.split("\"$ref\":\"").skip(1).filter_map(|rest| rest.split('"').next()) {
            let name = reference.strip_prefix("#/components/schemas/").expect("a local reference");
            assert!(schemas[name].is_object(), "{reference} is not defined in {text}");
        }
        assert!(!text.contains("\"const\""), "OpenAPI 3.0 has no const: {text}");
        assert!(!text.contains("\"type\":["), "OpenAPI 3.0 has one type and nullable: {text}");
    }

    #[test]
    fn the_template_section_is_replaced_between_its_markers() {
        let template = format!("Resources:\n  A: 1\n{TEMPLATE_BEGIN} old\n  Old: 2\n{TEMPLATE_END}\n  B: 3\n");
        let updated = with_template_section(&template).expect("replaced");
        assert!(updated.starts_with("Resources:\n  A: 1\n") && updated.ends_with(&format!("{TEMPLATE_END}\n  B: 3\n")));
        assert!(!updated.contains("Old: 2") && updated.contains("NotebookRequestedEventSchema:"));
        assert_eq!(with_template_section(&updated).expect("again"), updated, "regenerating changes nothing");
        assert!(with_template_section("Resources: {}\n").is_err());
    }
}
