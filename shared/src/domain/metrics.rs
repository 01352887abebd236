//! CloudWatch embedded-metric-format (EMF) log lines: metrics written as one JSON log line, no API call.
//! In Lambda, stdout goes to CloudWatch Logs, which extracts the metrics. The idle sweeper writes one line
//! per sweep (no dimensions), the provisioner one per request event (see [`super::request_metrics`]).
//!
//! Why not the `metrique` crate: it is built for wide "unit of work" metrics with sinks, background
//! flushing and sampling; here each function writes one small line per invocation and needs only metrics
//! with at most one dimension. With `default-features = false, features = ["emf"]`, metrique 0.1.33 brings
//! about 35 crates the workspace does not have yet (two proc-macro crates, `metrics`/`metrics-util`, `rand`,
//! `crossbeam`, `quanta`…) and needs Rust 1.91, above the workspace's `rust-version` (1.85). This module is
//! about fifty lines over `serde_json`, which every function links already, and its output is asserted on
//! in unit tests.

use serde_json::{json, Map, Value};

/// The namespace of every metric the project writes.
pub const NAMESPACE: &str = "NotebookFleet";

/// One metric of an EMF line: name, CloudWatch unit (`Count`, `Milliseconds`, `None`…), value, and at most
/// one dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric<'a> {
    pub name: &'a str,
    pub unit: &'a str,
    pub value: f64,
    /// `(dimension name, value)`. A dimensioned metric is published twice: per value of its dimension, and
    /// as a total without dimensions (so that an alarm or a graph can read either).
    pub dimension: Option<(&'a str, &'a str)>,
}

impl<'a> Metric<'a> {
    pub fn new(name: &'a str, unit: &'a str, value: f64) -> Self {
        Metric { name, unit, value, dimension: None }
    }

    /// The same metric, by `dimension` (e.g. `RequestKind`) with this `value`.
    pub fn by(self, dimension: &'a str, value: &'a str) -> Self {
        Metric { dimension: Some((dimension, value)), ..self }
    }
}

/// One EMF line in `namespace` with the given `(name, unit, value)` metrics and no dimensions.
pub fn emf_line(namespace: &str, timestamp_ms: i64, metrics: &[(&str, &str, f64)]) -> String {
    let metrics: Vec<Metric> = metrics.iter().map(|&(name, unit, value)| Metric::new(name, unit, value)).collect();
    emf_line_of(namespace, timestamp_ms, &metrics)
}

/// One EMF line in `namespace`: one metric directive per dimension name (in the order the metrics first
/// name it), the metrics without a dimension in a directive of their own. A line holds one value per key:
/// metric names and dimension names must all differ, and a dimension must carry the same value wherever
/// it appears (the first one is written).
pub fn emf_line_of(namespace: &str, timestamp_ms: i64, metrics: &[Metric]) -> String {
    let mut groups: Vec<(Option<&str>, Vec<&Metric>)> = Vec::new();
    for metric in metrics {
        let key = metric.dimension.map(|(name, _)| name);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(metric),
            None => groups.push((key, vec![metric])),
        }
    }
    let directives: Vec<Value> = groups
        .iter()
        .map(|(dimension, members)| {
            let dimensions = match dimension {
                Some(name) => json!([[name], []]),
                None => json!([[]]),
            };
            json!({
                "Namespace": namespace,
                "Dimensions": dimensions,
                "Metrics": members.iter().map(|m| json!({"Name": m.name, "Unit": m.unit})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut line = Map::new();
    line.insert("_aws".into(), json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}));
    for metric in metrics {
        line.insert(metric.name.to_owned(), json!(metric.value));
        if let Some((name, value)) = metric.dimension {
            line.entry(name).or_insert_with(|| json!(value));
        }
    }
    Value::Object(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_declares_each_metric_and_carries_its_value() {
        let line: Value =
            serde_json::from_str(&emf_line("NotebookFleet", 1, &[("NotebooksStopped", "Count", 3.0)])).expect("json");
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], "NotebooksStopped");
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "NotebookFleet");
        assert_eq!(line["NotebooksStopped"], 3.0);
    }

    #[test]
    fn metrics_without_dimensions_keep_the_sweepers_line_exactly() {
        let line = emf_line(
            "NotebookFleet",
            7,
            &[("NotebooksStopped", "Count", 3.0), ("SweepDuration", "Milliseconds", 12.0)],
        );
        assert_eq!(
            line,
            r#"{"NotebooksStopped":3.0,"SweepDuration":12.0,"_aws":{"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[{"Name":"NotebooksStopped","Unit":"Count"},{"Name":"SweepDuration","Unit":"Milliseconds"}],"Namespace":"NotebookFleet"}],"Timestamp":7}}"#
        );
    }

    #[test]
    fn a_dimensioned_metric_is_published_per_value_and_as_a_total() {
        let line: Value = serde_json::from_str(&emf_line_of(
            NAMESPACE,
            1,
            &[
                Metric::new("Requests", "Count", 1.0).by("RequestKind", "Notebook Requested"),
                Metric::new("Failures", "Count", 0.0),
                Metric::new("Latency", "Milliseconds", 40.0).by("RequestKind", "Notebook Requested"),
                Metric::new("Outcomes", "Count", 1.0).by("OutcomeType", "Notebook Provisioned"),
            ],
        ))
        .expect("json");
        let directives = line["_aws"]["CloudWatchMetrics"].as_array().expect("directives");
        assert_eq!(directives.len(), 3, "{line}");
        assert_eq!(directives[0]["Dimensions"], json!([["RequestKind"], []]));
        assert_eq!(
            directives[0]["Metrics"],
            json!([{"Name": "Requests", "Unit": "Count"}, {"Name": "Latency", "Unit": "Milliseconds"}])
        );
        assert_eq!(directives[1]["Dimensions"], json!([[]]));
        assert_eq!(directives[1]["Metrics"], json!([{"Name": "Failures", "Unit": "Count"}]));
        assert_eq!(directives[2]["Dimensions"], json!([["OutcomeType"], []]));
        assert_eq!(line["RequestKind"], "Notebook Requested");
        assert_eq!(line["OutcomeType"], "Notebook Provisioned");
        assert_eq!((&line["Requests"], &line["Latency"], &line["Failures"]), (&json!(1.0), &json!(40.0), &json!(0.0)));
    }
}
