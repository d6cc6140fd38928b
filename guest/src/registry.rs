//! The registry: every rule a configuration runs, described the same way
//! whether built in or data, so hosts build their listings and choices
//! from it instead of naming rules in code (the contract's `list-rules`).

use crate::config::{Config, Rule, WindowMode};
use crate::rules::{elastic, sentinel};
use crate::sigma::{DataKind, Measure};

/// What kind of rule an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// A built-in.
    BuiltIn,
    /// A Sigma correlation.
    Correlation,
    /// A Sigma detection rule running alone.
    Detection,
}

/// One rule, described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// Its name (alerts' `rule`).
    pub name: String,
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Built-in or data.
    pub kind: RuleKind,
    /// The file it came from (data rules).
    pub file: Option<String>,
    /// Window width, ms.
    pub window_ms: u64,
    /// Tumbling or sliding.
    pub window: WindowMode,
    /// Suppression span, ms (0: none).
    pub suppress_ms: u64,
    /// When a group alerts, as written (`gte 8`).
    pub threshold: String,
    /// What is compared (`count`, `distinct <field>`).
    pub measure: String,
    /// Group-by fields.
    pub group_by: Vec<String>,
    /// Detection rules counted (data rules).
    pub detections: Vec<String>,
    /// Filter rules applied to those detection rules.
    pub filters: Vec<String>,
    /// Severity.
    pub severity: String,
    /// ATT&CK tactics.
    pub tactics: Vec<String>,
    /// ATT&CK techniques.
    pub techniques: Vec<String>,
    /// The `rule-config` fields that apply.
    pub settings: Vec<String>,
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Every rule `config` runs, in its order.
pub fn rules(config: &Config) -> Vec<RuleInfo> {
    config
        .rules
        .iter()
        .map(|r| {
            let window_ms = r.window_ms.unsigned_abs();
            let window = r.window_mode;
            let suppress_ms = r.suppress_ms.unsigned_abs();
            let threshold = r.threshold.describe();
            match (r.builtin, &r.data) {
                (Some(Rule::Sentinel), _) => RuleInfo {
                    name: r.name.to_string(),
                    id: sentinel::RULE_ID.to_owned(),
                    title: "Suspicious AWS CLI Command Execution".to_owned(),
                    kind: RuleKind::BuiltIn,
                    file: None,
                    window_ms,
                    window,
                    suppress_ms,
                    threshold,
                    measure: "distinct recon.command".to_owned(),
                    group_by: strings(&[
                        "RecipientAccountId",
                        "AccountName",
                        "AccountUPNSuffix",
                        "UserIdentityUserName",
                        "SourceIpAddress",
                        "SessionMfaAuthenticated",
                    ]),
                    detections: Vec::new(),
                    filters: Vec::new(),
                    severity: "Medium".to_owned(),
                    tactics: strings(sentinel::TACTICS),
                    techniques: strings(sentinel::TECHNIQUES),
                    settings: strings(&[
                        "window-ms",
                        "min-distinct",
                        "commands",
                        "suppress-ms",
                        "window",
                    ]),
                },
                (Some(Rule::Elastic), _) => RuleInfo {
                    name: r.name.to_string(),
                    id: elastic::RULE_ID.to_owned(),
                    title: elastic::TITLE.to_owned(),
                    kind: RuleKind::BuiltIn,
                    file: None,
                    window_ms,
                    window,
                    suppress_ms,
                    threshold,
                    measure: "distinct eventName".to_owned(),
                    group_by: strings(&["aws.cloudtrail.user_identity.arn"]),
                    detections: Vec::new(),
                    filters: Vec::new(),
                    severity: "Low".to_owned(),
                    tactics: strings(elastic::TACTICS),
                    techniques: strings(elastic::TECHNIQUES),
                    settings: strings(&[
                        "window-ms",
                        "min-distinct",
                        "providers",
                        "suppress-ms",
                        "window",
                    ]),
                },
                (None, Some(d)) => {
                    let (kind, measure, group_by) = match &d.kind {
                        DataKind::Correlation {
                            group_by,
                            measure,
                            measure_field,
                            ..
                        } => (
                            RuleKind::Correlation,
                            match measure {
                                Measure::Count => "count".to_owned(),
                                Measure::Distinct(_) => {
                                    format!("distinct {}", measure_field.as_deref().unwrap_or("?"))
                                }
                            },
                            group_by.iter().map(|(n, _)| n.clone()).collect(),
                        ),
                        DataKind::Event { .. } => {
                            (RuleKind::Detection, "each event".to_owned(), Vec::new())
                        }
                    };
                    RuleInfo {
                        name: d.name.clone(),
                        id: d.id.clone(),
                        title: d.title.clone(),
                        kind,
                        file: Some(d.file.clone()),
                        window_ms,
                        window,
                        suppress_ms,
                        threshold,
                        measure,
                        group_by,
                        detections: d.detections.clone(),
                        filters: config
                            .filters
                            .iter()
                            .filter(|(_, changed)| changed.iter().any(|c| d.detections.contains(c)))
                            .map(|(f, _)| f.clone())
                            .collect(),
                        severity: d.severity.clone(),
                        tactics: d.tactics.clone(),
                        techniques: d.techniques.clone(),
                        settings: Vec::new(),
                    }
                }
                (None, None) => unreachable!("a rule is built in or data"),
            }
        })
        .collect()
}
