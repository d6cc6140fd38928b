//! Rule tests: the cases a rule file carries under rsigma's
//! `rsigma.exemplars` key (read with `rsigma-parser`'s exemplar API, so a
//! file moves between rsigma's `rule test` and `recon rules test`), turned
//! into CloudTrail records ready to push. Only reading happens here: the
//! host runs each case through the component, as `recon detect` runs any
//! input, and compares the alerts (docs/sigma.md, "Rule tests").
//!
//! A detection rule's case is one `event:`; a correlation's, a sequence of
//! `events:`, each at an `offset` from a base time. Every record gets its
//! `eventTime` from that base time (rsigma's, Unix 1,700,000,000 s) plus
//! its offset, so a case gives the same verdict in rsigma and here.

use rsigma_parser::{
    CorrelationRule, Exemplar, ExemplarPayload, ExemplarShapeError, Expect, SigmaRule,
    correlation_exemplars, exemplars, filter_exemplars,
};

use super::{RuleError, RuleFile, label, line_of};

/// The time the offsets count from, ms since the epoch:
/// 2023-11-14T22:13:20Z, the base rsigma's `rule test` uses, so that a
/// tumbling window's edges fall in the same place for both.
pub const BASE_TIME_MS: i64 = 1_700_000_000_000;

/// Most cases one rule file carries, all rules together.
pub const MAX_CASES: usize = 1000;
/// Most events in one case.
pub const MAX_CASE_EVENTS: usize = 10_000;
/// Largest offset from the base time: a century, in seconds.
pub const MAX_OFFSET_SECONDS: u64 = 100 * 366 * 86_400;

/// Which kind of rule a case targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// A detection rule: each case one `event:`.
    Detection,
    /// A correlation: each case a timed `events:` sequence.
    Correlation,
}

/// One test case: its records and what the target rule must do with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Its `name`, else its 0-based index in the list.
    pub name: String,
    /// Its 0-based index in `rsigma.exemplars`.
    pub index: usize,
    /// `expect: match` (true): the rule alerts at least once;
    /// `expect: no-match` (false): it never does.
    pub expect_match: bool,
    /// The records, as JSON objects in push order, each with its
    /// `eventTime` (the base time plus its offset).
    pub records: Vec<String>,
}

/// A rule of the file and the cases it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleCases {
    /// The name its alerts carry (`rule`): its `name`, else its `id`,
    /// else its title.
    pub rule: String,
    /// Its `id` (empty when it has none).
    pub id: String,
    /// Detection rule or correlation.
    pub kind: TargetKind,
    /// Whether it gives alerts of its own when the file runs: every
    /// correlation, and a detection rule no correlation counts (or whose
    /// correlation says `generate: true`). A detection rule that is only
    /// counted needs no case of its own: its correlations' cases cover it.
    pub alerts: bool,
    /// Its cases, in list order (none when it carries none).
    pub cases: Vec<Case>,
}

/// The cases of one rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCases {
    /// Its detection rules, then its correlations, each in file order
    /// (rsigma's order).
    pub rules: Vec<RuleCases>,
    /// The file with its correlation documents left out, so that every
    /// detection rule in it alerts on its own: what the cases of a
    /// detection rule that a correlation counts run against (rsigma runs
    /// a detection rule's cases on that rule alone, too). `None` when no
    /// such case exists.
    pub detections_alone: Option<String>,
}

/// rsigma's JSON pointer (`/custom_attributes/rsigma.exemplars/0/events/3/offset`)
/// as a path a reader of the file recognises
/// (`rsigma.exemplars[0].events[3].offset`).
fn pointer(path: &str) -> String {
    let key = rsigma_parser::EXEMPLARS_KEY;
    let Some(at) = path.find(key) else {
        return path.to_owned();
    };
    let mut out = key.to_owned();
    for step in path[at + key.len()..].split('/').filter(|s| !s.is_empty()) {
        if step.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{step}]"));
        } else {
            out.push('.');
            out.push_str(step);
        }
    }
    out
}

struct Reading<'a> {
    file: &'a RuleFile,
    cases: usize,
}

impl Reading<'_> {
    fn err(&self, rule: &str, title: &str, message: String) -> RuleError {
        RuleError {
            file: self.file.name.clone(),
            rule: Some(rule.to_owned()),
            line: line_of(&self.file.text, Some(title), rsigma_parser::EXEMPLARS_KEY),
            field: Some(rsigma_parser::EXEMPLARS_KEY.to_owned()),
            message,
        }
    }

    fn shape(&self, rule: &str, title: &str, errors: &[ExemplarShapeError]) -> RuleError {
        let message = errors
            .iter()
            .map(|e| format!("{}: {}", pointer(&e.path), e.message))
            .collect::<Vec<_>>()
            .join("; ");
        self.err(rule, title, message)
    }

    /// One exemplar as a case: its records with their times.
    fn case(&mut self, rule: &str, title: &str, e: Exemplar) -> Result<Case, RuleError> {
        self.cases += 1;
        if self.cases > MAX_CASES {
            return Err(self.err(
                rule,
                title,
                format!("more than {MAX_CASES} cases in the file"),
            ));
        }
        let timed: Vec<(u64, &_)> = match &e.payload {
            ExemplarPayload::Event(event) => vec![(0, event)],
            ExemplarPayload::Sequence(events) => events
                .iter()
                .map(|t| (t.offset.seconds, &t.event))
                .collect(),
        };
        if timed.len() > MAX_CASE_EVENTS {
            return Err(self.err(
                rule,
                title,
                format!(
                    "case {:?} has {} events; the limit is {MAX_CASE_EVENTS}",
                    e.name,
                    timed.len()
                ),
            ));
        }
        let mut records = Vec::with_capacity(timed.len());
        for (i, (offset, event)) in timed.into_iter().enumerate() {
            let at = match &e.payload {
                ExemplarPayload::Event(_) => format!("rsigma.exemplars[{}].event", e.index),
                ExemplarPayload::Sequence(_) => {
                    format!("rsigma.exemplars[{}].events[{i}].event", e.index)
                }
            };
            let value = serde_json::to_value(event).map_err(|why| {
                self.err(
                    rule,
                    title,
                    format!("{at}: cannot be read as a JSON object: {why}"),
                )
            })?;
            let serde_json::Value::Object(mut record) = value else {
                return Err(self.err(rule, title, format!("{at}: must be a mapping")));
            };
            if offset > MAX_OFFSET_SECONDS {
                return Err(self.err(
                    rule,
                    title,
                    format!(
                        "{at}: its offset ({offset} s) is past the limit, {MAX_OFFSET_SECONDS} s"
                    ),
                ));
            }
            let ms = BASE_TIME_MS + offset as i64 * 1000;
            record.insert(
                "eventTime".to_owned(),
                serde_json::Value::String(crate::format::rfc3339(ms)),
            );
            records.push(serde_json::Value::Object(record).to_string());
        }
        Ok(Case {
            name: e.name,
            index: e.index,
            expect_match: e.expect == Expect::Match,
            records,
        })
    }

    fn rule(
        &mut self,
        kind: TargetKind,
        rule: String,
        id: &Option<String>,
        title: &str,
        alerts: bool,
        list: Result<Vec<Exemplar>, Vec<ExemplarShapeError>>,
    ) -> Result<RuleCases, RuleError> {
        let list = list.map_err(|errors| self.shape(&rule, title, &errors))?;
        let cases = list
            .into_iter()
            .map(|e| self.case(&rule, title, e))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RuleCases {
            rule,
            id: id.clone().unwrap_or_default(),
            kind,
            alerts,
            cases,
        })
    }
}

/// Whether a line separates two YAML documents (`---`, maybe with a
/// comment after it).
fn is_separator(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("---") else {
        return false;
    };
    let rest = rest.trim();
    rest.is_empty() || rest.starts_with('#')
}

/// The file's text without its correlation documents (see
/// [`FileCases::detections_alone`]). A document is kept unless it parses,
/// alone, to correlations and nothing else, so `action: global` documents
/// stay where they were.
fn without_correlations(text: &str) -> String {
    let mut docs: Vec<String> = vec![String::new()];
    for line in text.split_inclusive('\n') {
        if is_separator(line) {
            docs.push(String::new());
        } else if let Some(last) = docs.last_mut() {
            last.push_str(line);
        }
    }
    docs.retain(|doc| match rsigma_parser::parse_sigma_yaml(doc) {
        Ok(c) => c.correlations.is_empty() || !c.rules.is_empty() || !c.filters.is_empty(),
        Err(_) => true,
    });
    docs.join("---\n")
}

/// Reads the cases of one rule file. The file must parse (the component's
/// compiler says whether it compiles); a malformed `rsigma.exemplars` list,
/// an event that is not a mapping, or cases on a filter rule are refused,
/// naming the rule, the line and what is wrong.
pub fn read(file: &RuleFile) -> Result<FileCases, RuleError> {
    let whole = |message: String| RuleError {
        file: file.name.clone(),
        rule: None,
        line: None,
        field: None,
        message,
    };
    let collection = rsigma_parser::parse_sigma_yaml(&file.text).map_err(|e| RuleError {
        file: file.name.clone(),
        rule: None,
        line: e.location().map(|l| l.line),
        field: None,
        message: e.to_string(),
    })?;
    if let Some(e) = collection.errors.first() {
        return Err(whole(e.clone()));
    }
    let mut reading = Reading { file, cases: 0 };
    let counted = |r: &SigmaRule| {
        collection.correlations.iter().any(|c: &CorrelationRule| {
            !c.generate
                && c.rules.iter().any(|n| {
                    Some(n) == r.id.as_ref() || Some(n) == r.name.as_ref() || *n == r.title
                })
        })
    };
    let mut rules = Vec::new();
    let mut alone_needed = false;
    for r in &collection.rules {
        let alerts = !counted(r);
        let read = reading.rule(
            TargetKind::Detection,
            label(&r.name, &r.id, &r.title),
            &r.id,
            &r.title,
            alerts,
            exemplars(r),
        )?;
        alone_needed |= !alerts && !read.cases.is_empty();
        rules.push(read);
    }
    for c in &collection.correlations {
        rules.push(reading.rule(
            TargetKind::Correlation,
            label(&c.name, &c.id, &c.title),
            &c.id,
            &c.title,
            true,
            correlation_exemplars(c),
        )?);
    }
    for f in &collection.filters {
        if filter_exemplars(f).is_err() {
            let fl = label(&f.name, &f.id, &f.title);
            return Err(reading.err(
                &fl,
                &f.title,
                "a filter rule carries no cases (rsigma refuses them too); give the cases \
                 to a rule it changes, with `expect: no-match` for the events it drops"
                    .into(),
            ));
        }
    }
    Ok(FileCases {
        rules,
        detections_alone: alone_needed.then(|| without_correlations(&file.text)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> RuleFile {
        RuleFile {
            name: "t.yml".into(),
            text: text.into(),
        }
    }

    const FILE: &str = r#"
title: IAM listing
id: 11111111-1111-1111-1111-111111111111
name: iam_list
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventName|startswith: List
  condition: selection
rsigma.exemplars:
  - name: a listing
    expect: match
    event: {eventName: ListUsers, recipientAccountId: 111111111111}
---
title: IAM user enumeration
name: iam_enum
correlation:
  type: event_count
  rules:
    - iam_list
  group-by:
    - userIdentity.arn
  timespan: 10m
  window: tumbling
  condition:
    gt: 1
rsigma.exemplars:
  - name: two calls
    expect: match
    events:
      - offset: 0s
        event: &e {eventName: ListUsers, userIdentity: {arn: alice}}
      - {offset: 1m, event: *e}
  - expect: no-match
    events:
      - {offset: 0s, event: *e}
"#;

    #[test]
    fn cases_are_read_with_their_times() {
        let c = read(&file(FILE)).unwrap();
        assert_eq!(c.rules.len(), 2);
        let (d, k) = (&c.rules[0], &c.rules[1]);
        assert_eq!(d.rule, "iam_list");
        assert_eq!(d.kind, TargetKind::Detection);
        assert!(!d.alerts, "counted by iam_enum");
        assert_eq!(
            d.cases[0].records,
            [
                r#"{"eventName":"ListUsers","recipientAccountId":111111111111,"eventTime":"2023-11-14T22:13:20Z"}"#
            ]
        );
        assert_eq!(k.rule, "iam_enum");
        assert!(k.alerts);
        assert_eq!(k.cases.len(), 2);
        assert_eq!(k.cases[0].name, "two calls");
        assert!(k.cases[0].expect_match);
        assert_eq!(k.cases[1].name, "1");
        assert!(!k.cases[1].expect_match);
        assert!(k.cases[0].records[1].contains(r#""eventTime":"2023-11-14T22:14:20Z""#));
        // The detection rule's case runs without the correlation.
        let alone = c.detections_alone.unwrap();
        assert!(alone.contains("iam_list") && !alone.contains("correlation:"));
        assert_eq!(
            crate::sigma::compile(&[file(&alone)]).unwrap().rules[0].name,
            "iam_list"
        );
    }

    #[test]
    fn malformed_cases_are_refused_with_where() {
        let bad = FILE.replace("expect: no-match", "expect: maybe");
        let e = read(&file(&bad)).unwrap_err();
        assert_eq!(e.rule.as_deref(), Some("iam_enum"));
        assert!(
            e.message
                .contains("rsigma.exemplars[1].expect: invalid expect 'maybe'"),
            "{e}"
        );
        assert_eq!(e.line, Some(29), "{e}");
        let bad = FILE.replace("- offset: 0s\n", "- offset: 2m\n");
        let e = read(&file(&bad)).unwrap_err();
        assert!(e.message.contains("non-decreasing"), "{e}");
        let bad = FILE.replace(
            "    event: {eventName: ListUsers, rec",
            "    events: {eventName: ListUsers, rec",
        );
        let e = read(&file(&bad)).unwrap_err();
        assert!(
            e.message.contains("detection exemplars must use 'event'"),
            "{e}"
        );
    }

    #[test]
    fn a_filter_carries_no_cases() {
        let text = format!(
            "{FILE}---\ntitle: f\nlogsource: {{product: aws}}\nfilter:\n  rules: [iam_list]\n  selection:\n    eventName: ListRoles\n  \
             condition: not selection\nrsigma.exemplars:\n  - expect: match\n    event: {{a: b}}\n"
        );
        let e = read(&file(&text)).unwrap_err();
        assert!(e.message.contains("a filter rule carries no cases"), "{e}");
    }

    #[test]
    fn a_file_without_cases_has_rules_without_cases() {
        let text = FILE.split("rsigma.exemplars:").next().unwrap().to_owned();
        let c = read(&file(&text)).unwrap();
        assert_eq!(c.rules.len(), 1);
        assert!(c.rules[0].cases.is_empty() && c.rules[0].alerts);
        assert_eq!(c.detections_alone, None);
    }

    #[test]
    fn pointers_read_as_paths() {
        assert_eq!(
            pointer("/custom_attributes/rsigma.exemplars/0/events/3/offset"),
            "rsigma.exemplars[0].events[3].offset"
        );
        assert_eq!(pointer("/rsigma.exemplars"), "rsigma.exemplars");
    }
}
