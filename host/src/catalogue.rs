//! The rule catalogue: published CloudTrail detections as Sigma files
//! (`rules/` at the top of the repository, embedded at build time), each
//! naming its source. `--rules catalogue` runs them; `recon rules list`
//! lists them.

mod files {
    include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));
}

/// The catalogue's files: (name as `rules/<file>`, YAML text).
pub const FILES: &[(&str, &str)] = files::FILES;

/// The catalogue as (name, text) pairs, for a configuration's rule files.
pub fn files() -> Vec<(String, String)> {
    FILES
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect()
}
