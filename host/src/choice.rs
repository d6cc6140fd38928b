//! Settings that take one of a fixed set of names (`--rules`, `--profile`,
//! `--format`, `--order`). The library lists each set here, with what each
//! value means; the command line (the `recon` binary, the only code that
//! knows clap) builds its parsers and help from the same list.

/// A setting with a fixed set of values, each written by its name.
pub trait Choice: Copy + Eq + 'static {
    /// Every value, in the order help lists them.
    const ALL: &'static [Self];

    /// The name written on the command line and in the configuration file.
    fn name(self) -> &'static str;

    /// What the value means, in a line.
    fn about(self) -> &'static str;

    /// The value of a name; `None` for a name that is not one.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == name)
    }
}
