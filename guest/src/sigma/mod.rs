//! Rules as data: Sigma detection, correlation and filter rules, parsed
//! with `rsigma-parser` and compiled once into [`DataRule`]s that run over
//! the same windows as the built-ins. `docs/sigma.md` is the
//! specification; everything it does not list is refused here, naming the
//! construct, the file and the line.

use std::collections::HashMap;
use std::sync::Arc;

use regex::RegexBuilder;
use rsigma_parser::{
    ConditionExpr, ConditionOperator, CorrelationCondition, CorrelationRule, CorrelationType,
    Detection, DetectionItem, Detections, FilterRule, FilterRuleTarget, Modifier, Quantifier,
    SelectorPattern, SigmaRule, SigmaString, SigmaValue, SpecialChar, StringPart,
};
use serde::{Deserialize, Serialize};

use crate::config::{MAX_DURATION_MS, WindowMode};
use crate::fields::{Schema, split_path};

pub mod exemplars;
pub mod matcher;

pub use matcher::{Canonical, Cmp, Derived, Expr, FieldRef, Pattern, Test, Text};

/// Largest rule file, in bytes.
pub const MAX_RULE_FILE_BYTES: usize = 1 << 20;
/// Most rule files one detector loads.
pub const MAX_RULE_FILES: usize = 256;
/// Most Sigma documents (detection, correlation and filter rules) across
/// a detector's files.
pub const MAX_RULES: usize = 1000;
/// Most fields one correlation groups by.
pub const MAX_GROUP_BY: usize = 16;
/// Longest value of a detection item, in bytes (a pattern or a regular
/// expression).
pub const MAX_PATTERN_BYTES: usize = 4096;
/// Largest compiled regular expression (`|re`, wildcards), in bytes of the
/// `regex` crate's program.
pub const MAX_REGEX_BYTES: usize = 256 * 1024;
/// Deepest nesting of parentheses in a rule file's conditions.
pub const MAX_CONDITION_DEPTH: usize = 32;
/// Most items (field tests) across one detector's rules.
pub const MAX_ITEMS: usize = 20_000;

/// One rule file as a host hands it over: a name for messages (its path)
/// and its YAML text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleFile {
    /// Where it came from, for messages (a path, or any label).
    pub name: String,
    /// The YAML text.
    pub text: String,
}

/// Why rule files were refused: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}", self.render())]
pub struct RuleError {
    /// The file's name as given.
    pub file: String,
    /// The rule (its `name`, `id` or title), when one is at fault.
    pub rule: Option<String>,
    /// The line in the file (from 1), when known.
    pub line: Option<u32>,
    /// The field (or key) at fault, when one is.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl RuleError {
    fn render(&self) -> String {
        let mut s = self.file.clone();
        if let Some(l) = self.line {
            s.push_str(&format!(":{l}"));
        }
        if let Some(r) = &self.rule {
            s.push_str(&format!(": rule {r:?}"));
        }
        if let Some(f) = &self.field {
            s.push_str(&format!(": field {f:?}"));
        }
        s.push_str(": ");
        s.push_str(&self.message);
        s
    }
}

/// What a data rule measures in each group.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    /// `event_count`.
    Count,
    /// `value_count` of a field.
    Distinct(FieldRef),
}

/// A correlation threshold: every predicate must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Threshold(pub Vec<(Op, u64)>);

/// A correlation condition's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `lt`.
    Lt,
    /// `lte`.
    Lte,
    /// `gt`.
    Gt,
    /// `gte`.
    Gte,
    /// `eq`.
    Eq,
    /// `neq`.
    Neq,
}

impl Op {
    /// The Sigma spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Eq => "eq",
            Op::Neq => "neq",
        }
    }
}

impl Threshold {
    /// `>= n`, the built-ins' threshold.
    pub fn at_least(n: u64) -> Threshold {
        Threshold(vec![(Op::Gte, n)])
    }

    /// Whether a measure meets it.
    pub fn holds(&self, v: u64) -> bool {
        self.0.iter().all(|(op, n)| match op {
            Op::Lt => v < *n,
            Op::Lte => v <= *n,
            Op::Gt => v > *n,
            Op::Gte => v >= *n,
            Op::Eq => v == *n,
            Op::Neq => v != *n,
        })
    }

    /// Whether it only bounds from below, so that once a growing measure
    /// meets it, it stays met (what an early alert relies on).
    pub fn is_monotone(&self) -> bool {
        self.0.iter().all(|(op, _)| matches!(op, Op::Gt | Op::Gte))
    }

    /// As written: `gte 10, lte 20`.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(op, n)| format!("{} {n}", op.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How a data rule runs.
#[derive(Debug, Clone, PartialEq)]
pub enum DataKind {
    /// A correlation: grouped, windowed, measured, compared.
    Correlation {
        /// Group-by fields: the name as written, and how it is read.
        group_by: Vec<(String, FieldRef)>,
        /// Window width, ms.
        window_ms: i64,
        /// What is measured.
        measure: Measure,
        /// When a group alerts.
        threshold: Threshold,
        /// The `value_count` field's name as written (for listings).
        measure_field: Option<String>,
        /// Tumbling or sliding (`window:`; sliding when none is named).
        window_mode: WindowMode,
    },
    /// A detection rule alone: one alert per matching event.
    Event {
        /// Extra row fields (`fields:`), as written, and how each is read.
        fields: Vec<(String, FieldRef)>,
    },
}

/// One runnable data rule, compiled.
#[derive(Debug, Clone)]
pub struct DataRule {
    /// The name alerts carry (`name`, else `id`, else title).
    pub name: String,
    /// The Sigma `id` (empty when it has none).
    pub id: String,
    /// Title.
    pub title: String,
    /// Description (the title when it has none).
    pub description: String,
    /// `Informational`, `Low`, `Medium`, `High` or `Critical`.
    pub severity: String,
    /// ATT&CK tactics from the tags.
    pub tactics: Vec<String>,
    /// ATT&CK techniques from the tags.
    pub techniques: Vec<String>,
    /// The file it came from.
    pub file: String,
    /// The events it counts: any of its detection rules (with their
    /// filters).
    pub filter: Expr,
    /// The detection rules it counts, by name.
    pub detections: Vec<String>,
    /// Correlation or single events.
    pub kind: DataKind,
    /// Suppression span, ms of event time (`rsigma.suppress`; 0: none).
    pub suppress_ms: i64,
    /// SHA-256 of the Sigma documents it was compiled from (its own, the
    /// detection rules it counts and the filters applied to them), in a
    /// canonical form: the same rule, wherever its file, digests alike, so
    /// a reload keeps the state of exactly the unchanged rules.
    pub digest: [u8; 32],
    /// Pre-filter needles: clauses, each with a needle that occurs in
    /// every record it counts (see [`Expr::needles`]); none when nothing
    /// is known.
    pub needles: matcher::Needles,
}

/// Two data rules are the same rule when they have the same name from the
/// same file (names are unique within a detector).
impl PartialEq for DataRule {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.file == other.file
    }
}

impl Eq for DataRule {}

/// Every data rule of a detector, compiled, and the paths they read.
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    /// The paths the parser reads for them.
    pub schema: Schema,
    /// The runnable rules, in file order (correlations and lone detection
    /// rules in the order they appear).
    pub rules: Vec<Arc<DataRule>>,
    /// Filters applied, as (filter name, rules it changed).
    pub filters: Vec<(String, Vec<String>)>,
}

/// A document of a file, with where it came from.
struct Doc<T> {
    file: usize,
    doc: T,
}

/// The name a document goes by: `name`, else `id`, else its title.
pub(crate) fn label(name: &Option<String>, id: &Option<String>, title: &str) -> String {
    name.clone()
        .or_else(|| id.clone())
        .unwrap_or_else(|| title.to_owned())
}

/// The line (from 1) of the first line at or after the line of `anchor`
/// that contains `needle`.
pub(crate) fn line_of(text: &str, anchor: Option<&str>, needle: &str) -> Option<u32> {
    let lines: Vec<&str> = text.lines().collect();
    let start = anchor
        .and_then(|a| lines.iter().position(|l| l.contains(a)))
        .unwrap_or(0);
    lines[start..]
        .iter()
        .position(|l| l.contains(needle))
        .map(|i| (start + i + 1) as u32)
        .or_else(|| anchor.map(|_| start as u32 + 1))
}

/// Deepest parenthesis nesting of a text.
fn paren_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for b in text.bytes() {
        match b {
            b'(' => {
                depth += 1;
                max = max.max(depth);
            }
            b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

struct Ctx<'a> {
    files: &'a [RuleFile],
    schema: Schema,
    items: usize,
}

impl Ctx<'_> {
    fn err(
        &self,
        file: usize,
        rule: Option<&str>,
        anchor: Option<&str>,
        field: Option<&str>,
        needle: &str,
        message: impl Into<String>,
    ) -> RuleError {
        let text = &self.files[file].text;
        RuleError {
            file: self.files[file].name.clone(),
            rule: rule.map(str::to_owned),
            line: line_of(text, anchor, needle),
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    /// Resolves a field name to how it is read.
    fn field(&mut self, name: &str) -> Result<FieldRef, String> {
        if let Some((_, c)) = matcher::CANONICAL.iter().find(|(n, _)| *n == name) {
            return Ok(FieldRef::Canonical(*c));
        }
        if let Some((_, d)) = matcher::DERIVED.iter().find(|(n, _)| *n == name) {
            return Ok(FieldRef::Derived(*d));
        }
        if name.starts_with("recon.") {
            let known: Vec<&str> = matcher::DERIVED.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "unknown derived field; the derived fields are {}",
                known.join(", ")
            ));
        }
        let steps = split_path(name).map_err(|e| e.0)?;
        self.schema.add(&steps).map(FieldRef::Path).map_err(|e| e.0)
    }
}

/// Parses and compiles rule files; see the module documentation.
pub fn compile(files: &[RuleFile]) -> Result<Compiled, RuleError> {
    let whole = |file: &RuleFile, message: String| RuleError {
        file: file.name.clone(),
        rule: None,
        line: None,
        field: None,
        message,
    };
    if files.len() > MAX_RULE_FILES {
        return Err(whole(
            &files[MAX_RULE_FILES],
            format!("more than {MAX_RULE_FILES} rule files"),
        ));
    }
    let mut rules: Vec<Doc<SigmaRule>> = Vec::new();
    let mut correlations: Vec<Doc<CorrelationRule>> = Vec::new();
    let mut filters: Vec<Doc<FilterRule>> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if f.text.len() > MAX_RULE_FILE_BYTES {
            return Err(whole(
                f,
                format!(
                    "the file is {} bytes; the limit is {MAX_RULE_FILE_BYTES}",
                    f.text.len()
                ),
            ));
        }
        if paren_depth(&f.text) > MAX_CONDITION_DEPTH {
            return Err(whole(
                f,
                format!("parentheses nest deeper than {MAX_CONDITION_DEPTH}"),
            ));
        }
        let collection = rsigma_parser::parse_sigma_yaml(&f.text).map_err(|e| RuleError {
            file: f.name.clone(),
            rule: None,
            line: e.location().map(|l| l.line),
            field: None,
            message: e.to_string(),
        })?;
        if let Some(e) = collection.errors.first() {
            return Err(whole(f, e.clone()));
        }
        if collection.is_empty() {
            return Err(whole(f, "the file holds no Sigma rule".into()));
        }
        rules.extend(collection.rules.into_iter().map(|doc| Doc { file: i, doc }));
        correlations.extend(
            collection
                .correlations
                .into_iter()
                .map(|doc| Doc { file: i, doc }),
        );
        filters.extend(
            collection
                .filters
                .into_iter()
                .map(|doc| Doc { file: i, doc }),
        );
        if rules.len() + correlations.len() + filters.len() > MAX_RULES {
            return Err(whole(f, format!("more than {MAX_RULES} rules in all")));
        }
    }
    let mut ctx = Ctx {
        files,
        schema: Schema::default(),
        items: 0,
    };

    // Every document's names, to refer to (`id` and `name`), once.
    let mut by_ref: HashMap<String, (char, usize)> = HashMap::new();
    let mut claim =
        |ctx: &Ctx, file: usize, title: &str, key: &Option<String>, at: (char, usize)| {
            if let Some(k) = key
                && by_ref.insert(k.clone(), at).is_some()
            {
                return Err(ctx.err(
                    file,
                    Some(title),
                    Some(title),
                    None,
                    k,
                    format!("{k:?} names two rules; ids and names must be unique"),
                ));
            }
            Ok(())
        };
    for (i, r) in rules.iter().enumerate() {
        claim(&ctx, r.file, &r.doc.title, &r.doc.id, ('r', i))?;
        claim(&ctx, r.file, &r.doc.title, &r.doc.name, ('r', i))?;
    }
    for (i, c) in correlations.iter().enumerate() {
        claim(&ctx, c.file, &c.doc.title, &c.doc.id, ('c', i))?;
        claim(&ctx, c.file, &c.doc.title, &c.doc.name, ('c', i))?;
    }

    // Filters, by the detection rules they change.
    let mut extra_conditions: Vec<Vec<Expr>> = vec![Vec::new(); rules.len()];
    // Each detection rule's documents, canonical: its own, then its filters.
    let mut sources: Vec<String> = rules.iter().map(|r| canonical(&r.doc)).collect();
    let mut filter_report = Vec::new();
    for f in &filters {
        let fl = label(&f.doc.name, &f.doc.id, &f.doc.title);
        let expr = detections(&mut ctx, f.file, &fl, &f.doc.title, &f.doc.detection)?;
        let targets: Vec<usize> = match &f.doc.rules {
            FilterRuleTarget::Any => (0..rules.len()).collect(),
            FilterRuleTarget::Specific(names) => {
                let mut out = Vec::new();
                for n in names {
                    match by_ref.get(n) {
                        Some(('r', i)) => out.push(*i),
                        Some(_) => {
                            return Err(ctx.err(
                                f.file,
                                Some(&fl),
                                Some(&f.doc.title),
                                None,
                                n,
                                format!(
                                    "the filter names correlation {n:?}; name the detection rules it counts"
                                ),
                            ));
                        }
                        None => {
                            return Err(ctx.err(
                                f.file,
                                Some(&fl),
                                Some(&f.doc.title),
                                None,
                                n,
                                format!("the filter names {n:?}, which no loaded rule is (by id or name)"),
                            ));
                        }
                    }
                }
                out
            }
        };
        for &t in &targets {
            extra_conditions[t].push(expr.clone());
            sources[t].push_str(&canonical(&f.doc));
        }
        filter_report.push((
            fl,
            targets
                .iter()
                .map(|&t| label(&rules[t].doc.name, &rules[t].doc.id, &rules[t].doc.title))
                .collect(),
        ));
    }

    // Detection rules, with their filters.
    let mut compiled_rules: Vec<Expr> = Vec::with_capacity(rules.len());
    for (i, r) in rules.iter().enumerate() {
        let rl = label(&r.doc.name, &r.doc.id, &r.doc.title);
        let mut expr = detections(&mut ctx, r.file, &rl, &r.doc.title, &r.doc.detection)?;
        if !extra_conditions[i].is_empty() {
            let mut all = vec![expr];
            all.append(&mut extra_conditions[i]);
            expr = Expr::And(all);
        }
        compiled_rules.push(expr);
    }

    // Correlations, and which detection rules they use.
    let mut used = vec![false; rules.len()];
    let mut generated = vec![false; rules.len()];
    let mut out: Vec<(usize, usize, Arc<DataRule>)> = Vec::new();
    for c in &correlations {
        let cl = label(&c.doc.name, &c.doc.id, &c.doc.title);
        let d = &c.doc;
        let fail = |ctx: &Ctx, field: Option<&str>, needle: &str, msg: String| {
            ctx.err(c.file, Some(&cl), Some(&d.title), field, needle, msg)
        };
        match d.correlation_type {
            CorrelationType::EventCount | CorrelationType::ValueCount => {}
            other => {
                return Err(fail(
                    &ctx,
                    Some("type"),
                    other.as_str(),
                    format!(
                        "correlation type {} is not supported; event_count and value_count are",
                        other.as_str()
                    ),
                ));
            }
        }
        let window_mode = match d.window {
            rsigma_parser::WindowMode::Tumbling => WindowMode::Tumbling,
            rsigma_parser::WindowMode::Sliding => WindowMode::Sliding,
            other => {
                return Err(fail(
                    &ctx,
                    Some("window"),
                    "correlation:",
                    format!(
                        "the correlation's window is {}; `window: sliding` (the default when \
                         none is named) and `window: tumbling` run here",
                        other.as_str()
                    ),
                ));
            }
        };
        let secs = d.timespan.seconds;
        let window_ms = secs.saturating_mul(1000);
        if window_ms == 0 || window_ms > MAX_DURATION_MS {
            return Err(fail(
                &ctx,
                Some("timespan"),
                "timespan",
                format!(
                    "timespan {} must be between 1 s and 7 days",
                    d.timespan.original
                ),
            ));
        }
        let suppress_ms = suppress(d.custom_attributes.get(SUPPRESS_KEY).map(|v| v.as_str()))
            .map_err(|m| fail(&ctx, Some(SUPPRESS_KEY), SUPPRESS_KEY, m))?;
        if d.group_by.len() > MAX_GROUP_BY {
            return Err(fail(
                &ctx,
                Some("group-by"),
                "group-by",
                format!("more than {MAX_GROUP_BY} group-by fields"),
            ));
        }
        let mut group_by = Vec::new();
        for g in &d.group_by {
            let f = ctx.field(g).map_err(|m| fail(&ctx, Some(g), g, m))?;
            group_by.push((g.clone(), f));
        }
        let (threshold, field) = match &d.condition {
            CorrelationCondition::Threshold {
                predicates, field, ..
            } => {
                if predicates.is_empty() {
                    return Err(fail(
                        &ctx,
                        Some("condition"),
                        "condition",
                        "the condition has no comparison (gt, gte, lt, lte, eq, neq)".into(),
                    ));
                }
                let ops = predicates
                    .iter()
                    .map(|(op, n)| {
                        let op = match op {
                            ConditionOperator::Lt => Op::Lt,
                            ConditionOperator::Lte => Op::Lte,
                            ConditionOperator::Gt => Op::Gt,
                            ConditionOperator::Gte => Op::Gte,
                            ConditionOperator::Eq => Op::Eq,
                            ConditionOperator::Neq => Op::Neq,
                        };
                        (op, *n)
                    })
                    .collect();
                (Threshold(ops), field.clone())
            }
            CorrelationCondition::Extended(_) => {
                return Err(fail(
                    &ctx,
                    Some("condition"),
                    "condition",
                    "a boolean correlation condition belongs to temporal correlations, which are not supported".into(),
                ));
            }
        };
        if window_mode == WindowMode::Sliding && !threshold.is_monotone() {
            return Err(fail(
                &ctx,
                Some("condition"),
                "condition",
                format!(
                    "a sliding window alerts when a group's count rises to the threshold, so its \
                     condition may only bound from below (gt, gte); this one is `{}`. Name \
                     `window: tumbling` for counts compared with an upper bound",
                    threshold.describe()
                ),
            ));
        }
        let (measure, measure_field) = match d.correlation_type {
            CorrelationType::ValueCount => {
                let Some(name) = field.as_ref().and_then(|f| f.first()) else {
                    return Err(fail(
                        &ctx,
                        Some("condition.field"),
                        "condition",
                        "value_count needs `field:` in its condition".into(),
                    ));
                };
                if field.as_ref().is_some_and(|f| f.len() > 1) {
                    return Err(fail(
                        &ctx,
                        Some("condition.field"),
                        "field",
                        "value_count over several fields is not supported; name one".into(),
                    ));
                }
                let f = ctx
                    .field(name)
                    .map_err(|m| fail(&ctx, Some(name), name, m))?;
                (Measure::Distinct(f), Some(name.clone()))
            }
            _ => (Measure::Count, None),
        };
        if d.rules.is_empty() {
            return Err(fail(
                &ctx,
                Some("rules"),
                "rules",
                "the correlation names no rules".into(),
            ));
        }
        let mut parts = Vec::new();
        let mut names = Vec::new();
        let mut source = canonical(d);
        for n in &d.rules {
            match by_ref.get(n) {
                Some(('r', i)) => {
                    source.push_str(&sources[*i]);
                    used[*i] = true;
                    generated[*i] |= d.generate;
                    parts.push(compiled_rules[*i].clone());
                    names.push(label(
                        &rules[*i].doc.name,
                        &rules[*i].doc.id,
                        &rules[*i].doc.title,
                    ));
                }
                Some(_) => {
                    return Err(fail(
                        &ctx,
                        Some("rules"),
                        n,
                        format!(
                            "{n:?} is a correlation; correlations of correlations are not supported"
                        ),
                    ));
                }
                None => {
                    return Err(fail(
                        &ctx,
                        Some("rules"),
                        n,
                        format!("{n:?} is not a loaded rule's id or name"),
                    ));
                }
            }
        }
        let filter = if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        };
        let kind = DataKind::Correlation {
            group_by,
            window_ms: window_ms as i64,
            measure,
            threshold,
            measure_field,
            window_mode,
        };
        let meta = Meta {
            name: cl,
            id: &d.id,
            title: &d.title,
            description: &d.description,
            level: d.level.as_ref().map(|l| l.as_str()),
            tags: &d.tags,
        };
        let (f, l, mut rule) = data_rule(files, c.file, meta, filter, names, kind, &source);
        rule.suppress_ms = suppress_ms;
        out.push((f, l, Arc::new(rule)));
    }

    // Detection rules no correlation uses (or whose correlation says
    // `generate: true`) alert on each event.
    for (i, r) in rules.iter().enumerate() {
        if used[i] && !generated[i] {
            continue;
        }
        let d = &r.doc;
        let rl = label(&d.name, &d.id, &d.title);
        if d.custom_attributes.contains_key(SUPPRESS_KEY) {
            return Err(ctx.err(
                r.file,
                Some(&rl),
                Some(&d.title),
                Some(SUPPRESS_KEY),
                SUPPRESS_KEY,
                "suppression applies to correlations (a group's repeated alerts); a detection \
                 rule alone alerts once per event",
            ));
        }
        let mut fields = Vec::new();
        for f in &d.fields {
            let fr = ctx
                .field(f)
                .map_err(|m| ctx.err(r.file, Some(&rl), Some(&d.title), Some(f), f, m))?;
            fields.push((f.clone(), fr));
        }
        let meta = Meta {
            name: rl.clone(),
            id: &d.id,
            title: &d.title,
            description: &d.description,
            level: d.level.as_ref().map(|l| l.as_str()),
            tags: &d.tags,
        };
        let kind = DataKind::Event { fields };
        let (f, l, rule) = data_rule(
            files,
            r.file,
            meta,
            compiled_rules[i].clone(),
            vec![rl],
            kind,
            &sources[i],
        );
        out.push((f, l, Arc::new(rule)));
    }
    out.sort_by_key(|(file, line, _)| (*file, *line));
    Ok(Compiled {
        schema: ctx.schema,
        rules: out.into_iter().map(|(_, _, r)| r).collect(),
        filters: filter_report,
    })
}

/// What a data rule takes from its Sigma document's metadata.
struct Meta<'a> {
    name: String,
    id: &'a Option<String>,
    title: &'a str,
    description: &'a Option<String>,
    level: Option<&'static str>,
    tags: &'a [String],
}

/// A runnable data rule, with the position it sorts by (its file, then the
/// line of its title).
fn data_rule(
    files: &[RuleFile],
    file: usize,
    meta: Meta<'_>,
    filter: Expr,
    detections: Vec<String>,
    kind: DataKind,
    source: &str,
) -> (usize, usize, DataRule) {
    use sha2::Digest;
    let (tactics, techniques) = attack(meta.tags);
    let line = line_of(&files[file].text, Some(meta.title), meta.title).unwrap_or(0) as usize;
    let rule = DataRule {
        name: meta.name,
        id: meta.id.clone().unwrap_or_default(),
        title: meta.title.to_owned(),
        description: meta
            .description
            .clone()
            .unwrap_or_else(|| meta.title.to_owned()),
        severity: severity(meta.level),
        tactics,
        techniques,
        file: files[file].name.clone(),
        needles: filter.needles(),
        filter,
        detections,
        kind,
        suppress_ms: 0,
        digest: sha2::Sha256::digest(source.as_bytes()).into(),
    };
    (file, line, rule)
}

/// A parsed document as canonical JSON text (object members sorted by
/// key at every level): the parser keeps custom attributes in a hash map,
/// whose order is not the same from one parse to the next.
fn canonical<T: Serialize>(doc: &T) -> String {
    fn write(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::from(k.as_str()).to_string());
                    out.push(':');
                    write(&m[k], out);
                }
                out.push('}');
            }
            serde_json::Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(&serde_json::to_value(doc).unwrap_or_default(), &mut out);
    out
}

/// The custom attribute that sets a correlation's suppression span
/// (rsigma's spelling).
pub const SUPPRESS_KEY: &str = "rsigma.suppress";

/// A correlation's suppression span, ms (`rsigma.suppress: 1h`; 0 when it
/// names none).
/// `value` is the attribute as text: `None` when it is absent, `Some(None)`
/// when it is not text.
fn suppress(value: Option<Option<&str>>) -> Result<i64, String> {
    let text = match value {
        None => return Ok(0),
        Some(None) => {
            return Err(format!(
                "{SUPPRESS_KEY} must be a timespan such as 1h or 30m"
            ));
        }
        Some(Some(t)) => t,
    };
    let span = rsigma_parser::Timespan::parse(text)
        .map_err(|e| format!("{SUPPRESS_KEY}: {e} (a timespan such as 1h or 30m)"))?;
    let ms = span.seconds.saturating_mul(1000);
    if ms == 0 || ms > MAX_DURATION_MS {
        return Err(format!(
            "{SUPPRESS_KEY} is {text}; it must be between 1 s and 7 days"
        ));
    }
    Ok(ms as i64)
}

/// `level` as an alert's severity.
fn severity(level: Option<&str>) -> String {
    match level {
        Some("informational") => "Informational",
        Some("low") => "Low",
        Some("high") => "High",
        Some("critical") => "Critical",
        _ => "Medium",
    }
    .to_owned()
}

/// ATT&CK tactics (`attack.credential_access` is `Credential Access`) and
/// techniques (`attack.t1087.004` is `T1087.004`) from Sigma tags.
fn attack(tags: &[String]) -> (Vec<String>, Vec<String>) {
    let mut tactics = Vec::new();
    let mut techniques = Vec::new();
    for t in tags {
        let Some(rest) = t.strip_prefix("attack.") else {
            continue;
        };
        let b = rest.as_bytes();
        let numbered =
            |c: u8| b.len() >= 2 && b[0].eq_ignore_ascii_case(&c) && b[1].is_ascii_digit();
        if numbered(b't') {
            techniques.push(rest.to_ascii_uppercase());
        } else if numbered(b'g') || numbered(b's') || rest.is_empty() {
            // Groups (`attack.g0016`) and software (`attack.s0002`).
        } else {
            let words: Vec<String> = rest
                .split(['_', '-'])
                .filter(|w| !w.is_empty())
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect();
            tactics.push(words.join(" "));
        }
    }
    (tactics, techniques)
}

/// Compiles a rule's `detection:` (named selections and condition).
fn detections(
    ctx: &mut Ctx,
    file: usize,
    rule: &str,
    title: &str,
    d: &Detections,
) -> Result<Expr, RuleError> {
    if d.timeframe.is_some() {
        return Err(ctx.err(
            file,
            Some(rule),
            Some(title),
            Some("timeframe"),
            "timeframe",
            "`timeframe` aggregations in a detection are Sigma v1; write a correlation rule",
        ));
    }
    let mut named: HashMap<&str, Expr> = HashMap::new();
    let mut names: Vec<&str> = d.named.keys().map(String::as_str).collect();
    names.sort_unstable();
    for name in &names {
        let e = detection(ctx, file, rule, title, name, &d.named[*name])?;
        named.insert(name, e);
    }
    if d.conditions.is_empty() {
        return Err(ctx.err(
            file,
            Some(rule),
            Some(title),
            Some("condition"),
            "detection",
            "the detection has no condition",
        ));
    }
    let mut conds = Vec::new();
    for c in &d.conditions {
        conds.push(condition(ctx, file, rule, title, c, &named, &names)?);
    }
    Ok(if conds.len() == 1 {
        conds.remove(0)
    } else {
        Expr::Or(conds)
    })
}

fn condition(
    ctx: &Ctx,
    file: usize,
    rule: &str,
    title: &str,
    c: &ConditionExpr,
    named: &HashMap<&str, Expr>,
    names: &[&str],
) -> Result<Expr, RuleError> {
    let rec = |x: &ConditionExpr| condition(ctx, file, rule, title, x, named, names);
    Ok(match c {
        ConditionExpr::And(xs) => Expr::And(xs.iter().map(rec).collect::<Result<_, _>>()?),
        ConditionExpr::Or(xs) => Expr::Or(xs.iter().map(rec).collect::<Result<_, _>>()?),
        ConditionExpr::Not(x) => Expr::Not(Box::new(rec(x)?)),
        ConditionExpr::Identifier(id) => match named.get(id.as_str()) {
            Some(e) => e.clone(),
            None => {
                return Err(ctx.err(
                    file,
                    Some(rule),
                    Some(title),
                    Some("condition"),
                    id,
                    format!("the condition names {id:?}, which the detection does not define"),
                ));
            }
        },
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let chosen: Vec<Expr> = names
                .iter()
                .filter(|n| match pattern {
                    SelectorPattern::Them => !n.starts_with('_'),
                    SelectorPattern::Pattern(p) => glob(p, n),
                })
                .map(|n| named[*n].clone())
                .collect();
            match quantifier {
                Quantifier::Any => Expr::Or(chosen),
                Quantifier::All => Expr::And(chosen),
                Quantifier::Count(n) => Expr::AtLeast(*n as usize, chosen),
            }
        }
    })
}

/// Sigma's selector wildcard: `*` any run, otherwise literal.
fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(p) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            match rest.find(p) {
                Some(at) => rest = &rest[at + p.len()..],
                None => return false,
            }
        }
    }
    true
}

fn detection(
    ctx: &mut Ctx,
    file: usize,
    rule: &str,
    title: &str,
    name: &str,
    d: &Detection,
) -> Result<Expr, RuleError> {
    match d {
        Detection::AllOf(items) => Ok(Expr::And(
            items
                .iter()
                .map(|i| item(ctx, file, rule, title, name, i))
                .collect::<Result<_, _>>()?,
        )),
        Detection::AnyOf(ds) => Ok(Expr::Or(
            ds.iter()
                .map(|x| detection(ctx, file, rule, title, name, x))
                .collect::<Result<_, _>>()?,
        )),
        Detection::And(ds) => Ok(Expr::And(
            ds.iter()
                .map(|x| detection(ctx, file, rule, title, name, x))
                .collect::<Result<_, _>>()?,
        )),
        Detection::Keywords(_) => Err(ctx.err(
            file,
            Some(rule),
            Some(title),
            Some(name),
            name,
            format!("selection {name:?} is a keyword search (values without a field), which is not supported; name the field"),
        )),
        Detection::ArrayMatch { .. } | Detection::Conditional { .. } => {
            let f = match d {
                Detection::ArrayMatch { field, .. } => field.as_str(),
                _ => name,
            };
            Err(ctx.err(
                file,
                Some(rule),
                Some(title),
                Some(f),
                f,
                "array blocks (`field[any]:`, `field[all]:`) are not supported; a path through an array already matches when any member does",
            ))
        }
    }
}

fn modifier_name(m: Modifier) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{m:?}").to_ascii_lowercase())
}

fn item(
    ctx: &mut Ctx,
    file: usize,
    rule: &str,
    title: &str,
    sel: &str,
    it: &DetectionItem,
) -> Result<Expr, RuleError> {
    let Some(fname) = it.field.name.as_deref() else {
        return Err(ctx.err(
            file,
            Some(rule),
            Some(title),
            Some(sel),
            sel,
            format!("selection {sel:?} holds a value without a field (a keyword search), which is not supported"),
        ));
    };
    ctx.items += 1;
    if ctx.items > MAX_ITEMS {
        return Err(ctx.err(
            file,
            Some(rule),
            Some(title),
            Some(fname),
            fname,
            format!("the rules hold more than {MAX_ITEMS} field tests"),
        ));
    }
    let fail = |ctx: &Ctx, needle: &str, msg: String| {
        ctx.err(file, Some(rule), Some(title), Some(fname), needle, msg)
    };
    let field = ctx.field(fname).map_err(|m| fail(ctx, fname, m))?;
    let mods = &it.field.modifiers;
    let has = |m: Modifier| mods.contains(&m);
    for m in mods {
        use Modifier::*;
        if !matches!(
            m,
            Contains
                | StartsWith
                | EndsWith
                | All
                | Re
                | Cidr
                | Cased
                | Exists
                | Gt
                | Gte
                | Lt
                | Lte
                | Neq
                | IgnoreCase
                | Multiline
                | DotAll
        ) {
            let n = modifier_name(*m);
            return Err(fail(
                ctx,
                &format!("|{n}"),
                format!("modifier |{n} is not supported"),
            ));
        }
    }
    if (has(Modifier::IgnoreCase) || has(Modifier::Multiline) || has(Modifier::DotAll))
        && !has(Modifier::Re)
    {
        return Err(fail(
            ctx,
            fname,
            "the regex flags |i, |m and |s need |re".into(),
        ));
    }
    for v in &it.values {
        if let SigmaValue::String(s) = v
            && s.original.len() > MAX_PATTERN_BYTES
        {
            return Err(fail(
                ctx,
                fname,
                format!(
                    "a value is {} bytes; the limit is {MAX_PATTERN_BYTES}",
                    s.original.len()
                ),
            ));
        }
    }
    if has(Modifier::Exists) {
        return match it.values.as_slice() {
            [SigmaValue::Bool(b)] => Ok(Expr::Item(field, Test::Exists(*b))),
            _ => Err(fail(ctx, fname, "|exists takes true or false".into())),
        };
    }
    let cmp = [
        (Modifier::Gt, Cmp::Gt),
        (Modifier::Gte, Cmp::Gte),
        (Modifier::Lt, Cmp::Lt),
        (Modifier::Lte, Cmp::Lte),
    ]
    .into_iter()
    .find(|(m, _)| has(*m))
    .map(|(_, c)| c);
    let cased = has(Modifier::Cased);
    let mut patterns = Vec::new();
    for v in &it.values {
        let p = if let Some(c) = cmp {
            match v {
                SigmaValue::Integer(i) => Pattern::Compare(c, *i as f64),
                SigmaValue::Float(f) => Pattern::Compare(c, *f),
                SigmaValue::String(s) => match s.original.trim().parse::<f64>() {
                    Ok(f) => Pattern::Compare(c, f),
                    Err(_) => {
                        return Err(fail(
                            ctx,
                            fname,
                            format!("{:?} is not a number", s.original),
                        ));
                    }
                },
                _ => {
                    return Err(fail(
                        ctx,
                        fname,
                        "a numeric comparison takes numbers".into(),
                    ));
                }
            }
        } else if has(Modifier::Re) {
            let SigmaValue::String(s) = v else {
                return Err(fail(ctx, fname, "|re takes a string".into()));
            };
            Pattern::Re(
                RegexBuilder::new(&s.original)
                    .case_insensitive(has(Modifier::IgnoreCase))
                    .multi_line(has(Modifier::Multiline))
                    .dot_matches_new_line(has(Modifier::DotAll))
                    .size_limit(MAX_REGEX_BYTES)
                    .dfa_size_limit(MAX_REGEX_BYTES)
                    .build()
                    .map_err(|e| fail(ctx, fname, format!("bad regular expression: {e}")))?,
            )
        } else if has(Modifier::Cidr) {
            let SigmaValue::String(s) = v else {
                return Err(fail(ctx, fname, "|cidr takes a network as a string".into()));
            };
            cidr(&s.original).map_err(|m| fail(ctx, fname, m))?
        } else {
            match v {
                SigmaValue::Null => Pattern::Null,
                SigmaValue::Bool(b) => Pattern::Text {
                    text: Text::Exact(b.to_string()),
                    cased,
                },
                SigmaValue::Integer(_) | SigmaValue::Float(_)
                    if !has(Modifier::Contains)
                        && !has(Modifier::StartsWith)
                        && !has(Modifier::EndsWith) =>
                {
                    let (n, lit) = match v {
                        SigmaValue::Integer(i) => (*i as f64, i.to_string()),
                        SigmaValue::Float(f) => (*f, crate::fields::float_text(*f)),
                        _ => unreachable!("matched above"),
                    };
                    Pattern::Number(n, lit)
                }
                SigmaValue::Integer(_) | SigmaValue::Float(_) => text_pattern(
                    &SigmaString::from_raw(&v.to_string()),
                    has(Modifier::Contains),
                    has(Modifier::StartsWith),
                    has(Modifier::EndsWith),
                    cased,
                )
                .map_err(|m| fail(ctx, fname, m))?,
                SigmaValue::String(s) => text_pattern(
                    s,
                    has(Modifier::Contains),
                    has(Modifier::StartsWith),
                    has(Modifier::EndsWith),
                    cased,
                )
                .map_err(|m| fail(ctx, fname, m))?,
            }
        };
        patterns.push(p);
    }
    if patterns.is_empty() {
        return Err(fail(ctx, fname, "the item lists no value".into()));
    }
    if has(Modifier::Neq) {
        return Ok(Expr::Item(field, Test::Neq(patterns)));
    }
    Ok(Expr::Item(
        field,
        Test::Values {
            patterns,
            all: has(Modifier::All),
        },
    ))
}

fn cidr(s: &str) -> Result<Pattern, String> {
    let bad = || format!("{s:?} is not a network (address/prefix)");
    let (addr, bits) = s.trim().split_once('/').ok_or_else(bad)?;
    let addr: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
    let bits: u8 = bits.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if bits > max {
        return Err(bad());
    }
    Ok(Pattern::Cidr(addr, bits))
}

/// A string value with its wildcards and `contains` / `startswith` /
/// `endswith`, as the cheapest comparison that means the same.
fn text_pattern(
    s: &SigmaString,
    contains: bool,
    starts: bool,
    ends: bool,
    cased: bool,
) -> Result<Pattern, String> {
    let mut parts: Vec<StringPart> = s.parts.clone();
    let any = StringPart::Special(SpecialChar::WildcardMulti);
    if (contains || ends) && parts.first() != Some(&any) {
        parts.insert(0, any.clone());
    }
    if (contains || starts) && parts.last() != Some(&any) {
        parts.push(any.clone());
    }
    let fold = |t: &str| {
        if cased {
            t.to_owned()
        } else {
            t.to_ascii_lowercase()
        }
    };
    let plain = |p: &StringPart| match p {
        StringPart::Plain(t) => Some(fold(t)),
        _ => None,
    };
    let is_any = |p: &StringPart| p == &any;
    let text = match parts.as_slice() {
        [] => Text::Exact(String::new()),
        [p] if plain(p).is_some() => Text::Exact(plain(p).unwrap_or_default()),
        [a] if is_any(a) => Text::Prefix(String::new()),
        [p, a] if is_any(a) && plain(p).is_some() => Text::Prefix(plain(p).unwrap_or_default()),
        [a, p] if is_any(a) && plain(p).is_some() => Text::Suffix(plain(p).unwrap_or_default()),
        [a, p, b] if is_any(a) && is_any(b) && plain(p).is_some() => {
            Text::Contains(plain(p).unwrap_or_default())
        }
        _ => {
            let mut re = String::from("(?s)^");
            for p in &parts {
                match p {
                    StringPart::Plain(t) => re.push_str(&regex::escape(&fold(t))),
                    StringPart::Special(SpecialChar::WildcardMulti) => re.push_str(".*"),
                    StringPart::Special(SpecialChar::WildcardSingle) => re.push('.'),
                }
            }
            re.push('$');
            Text::Wild(
                RegexBuilder::new(&re)
                    .size_limit(MAX_REGEX_BYTES)
                    .dfa_size_limit(MAX_REGEX_BYTES)
                    .build()
                    .map_err(|e| format!("the wildcard pattern is too large: {e}"))?,
            )
        }
    };
    Ok(Pattern::Text { text, cased })
}

#[cfg(test)]
mod tests;
