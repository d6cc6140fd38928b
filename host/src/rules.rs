//! The rules a run asks for: the built-ins, one row each in [`RULES`] (the
//! name the configuration file and the command line use, the contract's
//! name, which alerts carry, and the file's section), and rule files
//! (Sigma, compiled by the component). Every other place names a rule by
//! the contract's text; what a configuration runs, built in or data, comes
//! from the component's registry (`list-rules`), not from here.

use std::path::{Path, PathBuf};

use crate::choice::Choice;
use crate::settings::{FileSettings, RuleSection, SettingsError};

/// A built-in rule as named on the command line and in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuiltIn {
    /// Sentinel "Suspicious AWS CLI Command Execution".
    Sentinel,
    /// Elastic "AWS Discovery API Calls via CLI from a Single Resource".
    Elastic,
}

/// One built-in's names and its section of the configuration file.
#[derive(Debug)]
pub struct RuleInfo {
    /// Its name on the command line, in `rules = [...]`, and of its
    /// section of the file.
    pub name: BuiltIn,
    /// The same name as text.
    pub key: &'static str,
    /// What it detects, for `--help`.
    pub about: &'static str,
    /// The detection core's built-in (its name is the contract's, which
    /// alerts carry).
    pub core: recon_guest::Rule,
    /// Its section of the configuration file.
    pub section: fn(&FileSettings) -> &RuleSection,
}

/// Every built-in, in output order.
pub const RULES: &[RuleInfo] = &[
    RuleInfo {
        name: BuiltIn::Sentinel,
        key: "sentinel",
        about: "Sentinel \"Suspicious AWS CLI Command Execution\"",
        core: recon_guest::Rule::Sentinel,
        section: |s| &s.sentinel,
    },
    RuleInfo {
        name: BuiltIn::Elastic,
        key: "elastic",
        about: "Elastic \"AWS Discovery API Calls via CLI from a Single Resource\"",
        core: recon_guest::Rule::Elastic,
        section: |s| &s.elastic,
    },
];

impl BuiltIn {
    /// The rule's row of [`RULES`].
    pub fn info(self) -> &'static RuleInfo {
        RULES
            .iter()
            .find(|r| r.name == self)
            .expect("every rule has a row in RULES")
    }

    /// The contract's name of it (`sentinel-aws-cli-recon`, ...), which
    /// alerts carry.
    pub fn rule(self) -> String {
        self.info().core.name().to_owned()
    }

    /// The built-in of a contract name; `None` for a data rule's.
    pub fn of(rule: &str) -> Option<BuiltIn> {
        RULES.iter().find(|r| r.core.name() == rule).map(|r| r.name)
    }
}

impl Choice for BuiltIn {
    const ALL: &'static [BuiltIn] = &[BuiltIn::Sentinel, BuiltIn::Elastic];

    fn name(self) -> &'static str {
        self.info().key
    }

    fn about(self) -> &'static str {
        self.info().about
    }
}

/// One entry of `--rules` or of the file's `rules = [...]`: a built-in by
/// its name, or a Sigma rule file or directory by its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleChoice {
    /// A built-in.
    BuiltIn(BuiltIn),
    /// The rule catalogue this program embeds (`rules/`): `catalogue`.
    Catalogue,
    /// A rule file, or a directory of them (`*.yml`, `*.yaml`, searched
    /// recursively).
    Path(PathBuf),
}

impl RuleChoice {
    /// A built-in's name, `catalogue`, else a path.
    pub fn parse(text: &str) -> RuleChoice {
        match BuiltIn::from_name(text) {
            Some(b) => RuleChoice::BuiltIn(b),
            None if text == CATALOGUE => RuleChoice::Catalogue,
            None => RuleChoice::Path(PathBuf::from(text)),
        }
    }
}

impl<'de> serde::Deserialize<'de> for RuleChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        Ok(RuleChoice::parse(&s))
    }
}

/// The `--rules` name of the embedded catalogue.
pub const CATALOGUE: &str = "catalogue";

/// The rule files `choices` name, read, in order: the catalogue's, and
/// those under each path (see [`load_rule_files`]). Built-ins name none.
pub fn rule_files(choices: &[RuleChoice]) -> Result<Vec<(String, String)>, SettingsError> {
    let mut out = Vec::new();
    for c in choices {
        match c {
            RuleChoice::BuiltIn(_) => {}
            RuleChoice::Catalogue => out.extend(crate::catalogue::files()),
            RuleChoice::Path(p) => out.extend(load_rule_files(std::slice::from_ref(p))?),
        }
    }
    Ok(out)
}

/// Most bytes of rule files one run loads (all files together): the
/// component refuses larger files one by one; this bounds a directory.
pub const MAX_RULE_BYTES: u64 = 64 << 20;

/// The rule files under `paths`, read: a file as it is, a directory's
/// `*.yml` and `*.yaml` files (recursively, in path order). Each is named
/// by its path, for the component's messages.
pub fn load_rule_files(paths: &[PathBuf]) -> Result<Vec<(String, String)>, SettingsError> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files)?;
    }
    let mut out = Vec::new();
    let mut total = 0u64;
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|source| SettingsError::Io {
            path: f.display().to_string(),
            source,
        })?;
        total += text.len() as u64;
        if total > MAX_RULE_BYTES {
            return Err(SettingsError::Invalid(format!(
                "the rule files come to more than {MAX_RULE_BYTES} bytes"
            )));
        }
        out.push((f.display().to_string(), text));
    }
    Ok(out)
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), SettingsError> {
    let io = |source| SettingsError::Io {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            SettingsError::Invalid(format!(
                "rules: {} is neither a built-in ({}) nor an existing rule file or directory",
                path.display(),
                BuiltIn::ALL
                    .iter()
                    .map(|b| b.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        } else {
            io(e)
        }
    })?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()).map_err(io))
        .collect::<Result<_, _>>()?;
    entries.sort();
    let before = out.len();
    for e in entries {
        if e.is_dir() {
            collect(&e, out)?;
        } else if e.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(e);
        }
    }
    if out.len() == before {
        return Err(SettingsError::Invalid(format!(
            "rules: the directory {} holds no .yml or .yaml file",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_rule_once_and_in_order() {
        let names: Vec<BuiltIn> = RULES.iter().map(|r| r.name).collect();
        assert_eq!(names, BuiltIn::ALL);
        for r in RULES {
            assert_eq!(BuiltIn::of(r.core.name()), Some(r.name));
            assert_eq!(BuiltIn::from_name(r.key), Some(r.name));
            // The file's name of the rule is the serde name of its section.
            let parsed: FileSettings = toml::from_str(&format!(
                "rules = [{:?}]\n[{}]\nmin_distinct = 3",
                r.key, r.key
            ))
            .unwrap();
            assert_eq!(parsed.rules, Some(vec![RuleChoice::BuiltIn(r.name)]));
            assert_eq!((r.section)(&parsed).min_distinct, Some(3));
        }
        // The core knows the same rules, in the same order.
        let core: Vec<&str> = recon_guest::Rule::ALL.iter().map(|r| r.name()).collect();
        let here: Vec<&str> = RULES.iter().map(|r| r.core.name()).collect();
        assert_eq!(core, here);
    }

    #[test]
    fn a_rules_entry_is_a_built_in_or_a_path() {
        assert_eq!(
            RuleChoice::parse("elastic"),
            RuleChoice::BuiltIn(BuiltIn::Elastic)
        );
        assert_eq!(
            RuleChoice::parse("rules/x.yml"),
            RuleChoice::Path("rules/x.yml".into())
        );
        let e = load_rule_files(&["no/such/file.yml".into()]).unwrap_err();
        assert!(e.to_string().contains("neither a built-in"), "{e}");
    }
}
