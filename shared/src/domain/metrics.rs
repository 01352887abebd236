//! CloudWatch embedded-metric-format log lines: metrics written as one JSON log line, no API call.

use serde_json::{json, Map, Value};

/// One EMF line in `namespace` with the given `(name, unit, value)` metrics and no dimensions.
pub fn emf_line(namespace: &str, timestamp_ms: i64, metrics: &[(&str, &str, f64)]) -> String {
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[]],
                "Metrics": metrics.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
            }],
        }),
    );
    for (name, _, value) in metrics {
        line.insert((*name).to_owned(), json!(value));
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
}
