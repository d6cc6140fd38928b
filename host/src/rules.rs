//! The rules this host runs, one row each in [`RULES`]: the name the
//! configuration file and the command line use, the contract's rule, the
//! detection core's rule (whose name alerts carry) and the file's section.
//! Every mapping between them goes through the table, so a new rule is one
//! row here (its logic is in the guest: see `guest/src/rules/mod.rs`).

use crate::choice::Choice;
use crate::runtime::Rule;
use crate::settings::{FileSettings, RuleSection};

/// A rule as named on the command line and in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleName {
    /// Sentinel "Suspicious AWS CLI Command Execution".
    Sentinel,
    /// Elastic "AWS Discovery API Calls via CLI from a Single Resource".
    Elastic,
}

/// One rule's names and its section of the configuration file.
#[derive(Debug)]
pub struct RuleInfo {
    /// Its name on the command line, in `rules = [...]`, and of its
    /// section of the file.
    pub name: RuleName,
    /// The same name as text.
    pub key: &'static str,
    /// What it detects, for `--help`.
    pub about: &'static str,
    /// The contract's rule.
    pub contract: Rule,
    /// The detection core's rule (alerts carry its name).
    pub core: recon_guest::config::Rule,
    /// Its section of the configuration file.
    pub section: fn(&FileSettings) -> &RuleSection,
}

/// Every rule, in output order.
pub const RULES: &[RuleInfo] = &[
    RuleInfo {
        name: RuleName::Sentinel,
        key: "sentinel",
        about: "Sentinel \"Suspicious AWS CLI Command Execution\"",
        contract: Rule::SentinelAwsCliRecon,
        core: recon_guest::config::Rule::Sentinel,
        section: |s| &s.sentinel,
    },
    RuleInfo {
        name: RuleName::Elastic,
        key: "elastic",
        about: "Elastic \"AWS Discovery API Calls via CLI from a Single Resource\"",
        contract: Rule::ElasticAwsDiscoveryBurst,
        core: recon_guest::config::Rule::Elastic,
        section: |s| &s.elastic,
    },
];

impl RuleName {
    /// The rule's row of [`RULES`].
    pub fn info(self) -> &'static RuleInfo {
        RULES
            .iter()
            .find(|r| r.name == self)
            .expect("every rule has a row in RULES")
    }

    /// The contract's rule.
    pub fn rule(self) -> Rule {
        self.info().contract
    }

    /// The name alerts carry (`sentinel-aws-cli-recon`, ...).
    pub fn alert_name(self) -> &'static str {
        self.info().core.name()
    }

    /// The rule of the contract's `rule`.
    pub fn of(rule: Rule) -> RuleName {
        RULES
            .iter()
            .find(|r| r.contract == rule)
            .expect("every contract rule has a row in RULES")
            .name
    }
}

impl Choice for RuleName {
    const ALL: &'static [RuleName] = &[RuleName::Sentinel, RuleName::Elastic];

    fn name(self) -> &'static str {
        self.info().key
    }

    fn about(self) -> &'static str {
        self.info().about
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_rule_once_and_in_order() {
        let names: Vec<RuleName> = RULES.iter().map(|r| r.name).collect();
        assert_eq!(names, RuleName::ALL);
        for r in RULES {
            assert_eq!(RuleName::of(r.contract), r.name);
            assert_eq!(RuleName::from_name(r.key), Some(r.name));
            // The file's name of the rule is the serde name of its section.
            let parsed: FileSettings = toml::from_str(&format!(
                "rules = [{:?}]\n[{}]\nmin_distinct = 3",
                r.key, r.key
            ))
            .unwrap();
            assert_eq!(parsed.rules, Some(vec![r.name]));
            assert_eq!((r.section)(&parsed).min_distinct, Some(3));
        }
        // The core knows the same rules, in the same order.
        let core: Vec<&str> = RULES.iter().map(|r| r.core.name()).collect();
        assert_eq!(
            core,
            ["sentinel-aws-cli-recon", "elastic-aws-discovery-burst"]
        );
    }
}
