//! What `recon detect` says about single records on its diagnostics stream
//! (stderr): rejections, far-ahead notices, records too large for the
//! reader, quarantined records, unreadable inputs. Each report names the
//! input and the place in it; the wording of the record's fault is the
//! reader crate's (`recon_reader::wording`), the one every host uses.
//! Reports share one budget (`--show-rejects`); past it they are counted,
//! and the counts are said once at the end.

use std::io::Write;

use recon_reader::wording;

use crate::input::Loc;
use crate::runtime::RejectReason;

/// The kebab-case name of a reject reason, as the contract spells it.
pub fn reason_name(r: RejectReason) -> &'static str {
    use recon_guest::event::RejectReason as Core;
    match r {
        RejectReason::InvalidJson => Core::InvalidJson,
        RejectReason::NotAnObject => Core::NotAnObject,
        RejectReason::UnknownShape => Core::UnknownShape,
        RejectReason::MissingTime => Core::MissingTime,
        RejectReason::InvalidTime => Core::InvalidTime,
        RejectReason::TooLarge => Core::TooLarge,
        RejectReason::StateLimit => Core::StateLimit,
    }
    .as_str()
}

/// The diagnostics stream of a run, with its budget of single reports.
pub(super) struct Diagnostics<'a, E: Write> {
    err: &'a mut E,
    /// The inputs' names, by source index.
    sources: Vec<String>,
    show_rejects: usize,
    /// Reports written one by one so far.
    shown: usize,
    /// Rejected (or too large) records not reported one by one.
    hidden_rejects: u64,
    /// Far-ahead notices not reported one by one (not rejections: those
    /// records count).
    hidden_notices: u64,
    /// Far-ahead notices are listed one by one (within `show_rejects`):
    /// `--show-rejects` was given. Otherwise each input's are summarised
    /// in one line at the end.
    list_notices: bool,
    /// Per input (by source index): far-ahead records and the first
    /// places, for the summary line.
    ahead: Vec<(u64, Vec<Loc>)>,
    /// The reader's line limit, for messages.
    max_line: u64,
}

impl<'a, E: Write> Diagnostics<'a, E> {
    pub(super) fn new(
        err: &'a mut E,
        sources: Vec<String>,
        show_rejects: usize,
        list_notices: bool,
        max_line: usize,
    ) -> Self {
        Diagnostics {
            err,
            sources,
            show_rejects,
            shown: 0,
            hidden_rejects: 0,
            hidden_notices: 0,
            list_notices,
            ahead: Vec::new(),
            max_line: max_line as u64,
        }
    }

    /// One report about a record of `source`, if the budget allows;
    /// counted otherwise (as a notice or a rejection).
    fn single(&mut self, source: usize, report: &str, notice: bool) -> std::io::Result<()> {
        if self.shown < self.show_rejects {
            writeln!(self.err, "recon: {}: {report}", self.sources[source])?;
            self.shown += 1;
        } else if notice {
            self.hidden_notices += 1;
        } else {
            self.hidden_rejects += 1;
        }
        Ok(())
    }

    /// A record rejected, by a rule or by all of them.
    pub(super) fn rejected(
        &mut self,
        source: usize,
        loc: Loc,
        reason: RejectReason,
        message: &str,
        rule: Option<&str>,
    ) -> std::io::Result<()> {
        let report = wording::rejected(loc, reason_name(reason), message, rule);
        self.single(source, &report, false)
    }

    /// A record far ahead of the others: counted, and said.
    pub(super) fn far_ahead(&mut self, source: usize, loc: Loc) -> std::io::Result<()> {
        if self.list_notices {
            return self.single(source, &wording::far_ahead(loc), true);
        }
        if self.ahead.len() <= source {
            self.ahead.resize_with(source + 1, Default::default);
        }
        let (count, first) = &mut self.ahead[source];
        *count += 1;
        if first.len() < wording::FAR_AHEAD_SHOWN {
            first.push(loc);
        }
        Ok(())
    }

    /// A line the reader skipped for its size.
    pub(super) fn too_large(&mut self, source: usize, loc: Loc, bytes: u64) -> std::io::Result<()> {
        let report = wording::too_large(loc, bytes, self.max_line);
        self.single(source, &report, false)
    }

    /// A value of an envelope that holds no record.
    pub(super) fn bad_envelope(
        &mut self,
        source: usize,
        loc: Loc,
        message: &str,
    ) -> std::io::Result<()> {
        let report = wording::bad_envelope(loc, message);
        self.single(source, &report, false)
    }

    /// The inputs' names, by source index.
    pub(super) fn source_name(&self, source: usize) -> &str {
        &self.sources[source]
    }

    /// A record that made the component trap on its own: always said.
    pub(super) fn quarantined(
        &mut self,
        source: usize,
        loc: Loc,
        why: &str,
    ) -> std::io::Result<()> {
        writeln!(
            self.err,
            "recon: {}: {loc}: quarantined: the record made the component trap on its own \
             ({why}); left out, the stream goes on",
            self.sources[source],
        )
    }

    /// An input that could not be read (whole or in part): always said.
    pub(super) fn unreadable(&mut self, what: &str) -> std::io::Result<()> {
        writeln!(self.err, "recon: {what}")
    }

    /// At the end: how many reports the budget held back.
    pub(super) fn finish(&mut self) -> std::io::Result<()> {
        for (source, (count, first)) in self.ahead.iter().enumerate() {
            if *count > 0 {
                writeln!(
                    self.err,
                    "recon: {}: {}",
                    self.sources[source],
                    wording::far_ahead_summary(*count, first)
                )?;
            }
        }
        if self.hidden_rejects > 0 {
            writeln!(
                self.err,
                "recon: {} more rejected records not shown (--show-rejects)",
                self.hidden_rejects
            )?;
        }
        if self.hidden_notices > 0 {
            writeln!(
                self.err,
                "recon: {} more far-ahead notices not shown (--show-rejects); those records were \
                 counted, not rejected",
                self.hidden_notices
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_are_the_contracts() {
        for (r, name) in [
            (RejectReason::InvalidJson, "invalid-json"),
            (RejectReason::NotAnObject, "not-an-object"),
            (RejectReason::UnknownShape, "unknown-shape"),
            (RejectReason::MissingTime, "missing-time"),
            (RejectReason::InvalidTime, "invalid-time"),
            (RejectReason::TooLarge, "too-large"),
            (RejectReason::StateLimit, "state-limit"),
        ] {
            assert_eq!(reason_name(r), name);
        }
    }
}
