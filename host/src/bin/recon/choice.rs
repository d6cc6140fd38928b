//! clap parsers for the library's named settings ([`recon::choice::Choice`]):
//! the names, and the help of each value, come from the library's list.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use recon::choice::Choice;

/// A parser that takes one of `T`'s names, listing each with its meaning
/// in `--help`.
pub fn parser<T: Choice + Clone + Send + Sync>() -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(
        T::ALL
            .iter()
            .map(|v| PossibleValue::new(v.name()).help(v.about())),
    )
    .map(|name| T::from_name(&name).expect("clap accepts only the listed names"))
}
