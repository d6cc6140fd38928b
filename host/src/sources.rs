//! What `recon detect` reads: the inputs named on the command line turned
//! into a list of sources (a file, a member of a zip archive, stdin), each
//! with the name messages use, in the order they are read.
//!
//! - A directory is read recursively: CloudTrail files (`.json`,
//!   `.json.gz`, `.jsonl`, `.ndjson`, each gzipped or not) and the members
//!   of `.zip` archives; CloudTrail-Digest files and any other file are
//!   skipped and counted ([`Skipped`]).
//! - A file named on the command line is read whatever its name; a zip
//!   archive (told by its first bytes) is read member by member.
//! - Files found in a directory, and the members of an archive, are read in
//!   delivery order: by the time in CloudTrail's object names
//!   (`<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<id>.json.gz`), then
//!   by name; names without that time come first, by name. A list given on
//!   the command line is read as given unless [`Order::Delivery`] is asked.
//!
//! Delivery order is the order in which CloudTrail wrote the objects, the
//! order a live pipeline sees them; it keeps the disorder the detector must
//! absorb to what CloudTrail's delivery makes (see docs/delivery.md), where
//! the order `find` or a shell glob gives would mix regions and days.
//!
//! A zip archive on stdin cannot be listed (its directory is at the end),
//! so it is refused with a clear message, as is any input that turns out to
//! be one; a damaged archive is an unreadable input, never read as text.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::thread;

use crossbeam_channel::{Receiver, bounded};

/// The first bytes of a zip archive (a local file header), and of an empty
/// one (the end of central directory record alone).
const ZIP_MAGIC: [&[u8]; 2] = [b"PK\x03\x04", b"PK\x05\x06"];
/// Bytes a zip member is read in, on its own thread.
const ZIP_PIECE_BYTES: usize = 256 * 1024;

/// The order of a list of inputs given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// As given.
    #[default]
    Given,
    /// By the delivery time in CloudTrail's object names, then by name.
    Delivery,
}

impl crate::choice::Choice for Order {
    const ALL: &'static [Order] = &[Order::Given, Order::Delivery];

    fn name(self) -> &'static str {
        match self {
            Order::Given => "given",
            Order::Delivery => "delivery",
        }
    }

    fn about(self) -> &'static str {
        match self {
            Order::Given => "as given",
            Order::Delivery => "by the delivery time in CloudTrail's object names, then by name",
        }
    }
}

/// One thing to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
    /// A member of a zip archive.
    ZipMember {
        /// The archive.
        archive: PathBuf,
        /// The member's index in the archive.
        index: usize,
        /// The member's name in the archive.
        name: String,
    },
    /// Something that was found but cannot be read (a damaged archive, a
    /// directory that cannot be listed): reported as unreadable in its turn.
    Unreadable {
        /// What it is.
        name: String,
        /// Why it cannot be read.
        reason: String,
    },
}

impl Source {
    /// The name messages use.
    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "<stdin>".to_owned(),
            Source::File(p) => p.display().to_string(),
            Source::ZipMember { archive, name, .. } => format!("{}:{name}", archive.display()),
            Source::Unreadable { name, .. } => name.clone(),
        }
    }

    /// The bytes it holds, when that is known before reading (a regular
    /// file's size; not a pipe's or stdin's): the reader sizes its first
    /// read by it.
    pub fn size_hint(&self) -> Option<u64> {
        match self {
            Source::File(p) => std::fs::metadata(p)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len()),
            _ => None,
        }
    }

    /// Opens the source for reading. Zip content read from here (stdin, a
    /// member that is itself an archive) is refused by the reader, which
    /// reports it as unreadable rather than reading it as text.
    pub fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(match self {
            Source::Stdin => Box::new(io::stdin()),
            Source::File(p) => Box::new(File::open(p)?),
            Source::ZipMember { archive, index, .. } => Box::new(open_member(archive, *index)?),
            Source::Unreadable { reason, .. } => return Err(io::Error::other(reason.clone())),
        })
    }
}

/// Files and members passed over, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// CloudTrail-Digest files (integrity digests: no records).
    pub digests: u64,
    /// Files that are not CloudTrail by their name (another extension,
    /// hidden files).
    pub other: u64,
}

impl Skipped {
    /// Both counts together.
    pub fn total(&self) -> u64 {
        self.digests + self.other
    }
}

/// The sources of a run, in reading order.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// What to read, in order.
    pub sources: Vec<Source>,
    /// What was passed over.
    pub skipped: Skipped,
}

/// Turns the command line's inputs (`-` is stdin) into sources.
pub fn list(inputs: &[PathBuf], order: Order) -> Listing {
    let mut listing = Listing::default();
    let mut named = Vec::new();
    for path in inputs {
        if path.as_os_str() == "-" {
            named.push(vec![Source::Stdin]);
        } else if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found, &mut listing.skipped);
            let mut files: Vec<Source> = Vec::new();
            for f in found {
                match f {
                    Found::File(p) => files.push(Source::File(p)),
                    Found::Zip(p) => files.extend(members(&p, &mut listing.skipped)),
                    Found::Unreadable(s) => files.push(s),
                }
            }
            files.sort_by(delivery_cmp);
            named.push(files);
        } else if is_zip_file(path) {
            named.push(members(path, &mut listing.skipped));
        } else {
            // Read whatever its name; a missing file is reported when opened.
            named.push(vec![Source::File(path.clone())]);
        }
    }
    match order {
        Order::Given => listing.sources = named.into_iter().flatten().collect(),
        Order::Delivery => {
            listing.sources = named.into_iter().flatten().collect();
            listing.sources.sort_by(delivery_cmp);
        }
    }
    listing
}

/// What a directory walk finds.
enum Found {
    File(PathBuf),
    Zip(PathBuf),
    Unreadable(Source),
}

/// How a file name reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    CloudTrail,
    Zip,
    Digest,
    Other,
}

fn kind_of(name: &str) -> Kind {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with('.') {
        return Kind::Other;
    }
    if lower.contains("cloudtrail-digest") {
        return Kind::Digest;
    }
    let base = lower.strip_suffix(".gz").unwrap_or(&lower);
    if [".json", ".jsonl", ".ndjson"]
        .iter()
        .any(|e| base.ends_with(e))
    {
        Kind::CloudTrail
    } else if lower.ends_with(".zip") {
        Kind::Zip
    } else {
        Kind::Other
    }
}

/// Every file under `dir`, in name order at each level; digest and other
/// files counted in `skipped`. Symbolic links to directories are not
/// followed (a loop would never end); links to files are read.
fn walk(dir: &Path, found: &mut Vec<Found>, skipped: &mut Skipped) {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd.collect::<Result<Vec<_>, _>>(),
        Err(e) => Err(e),
    };
    let mut entries = match entries {
        Ok(e) => e,
        Err(e) => {
            found.push(Found::Unreadable(Source::Unreadable {
                name: dir.display().to_string(),
                reason: format!("listing the directory: {e}"),
            }));
            return;
        }
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_dir {
            if name.starts_with('.') {
                continue;
            }
            walk(&path, found, skipped);
            continue;
        }
        match kind_of(&name) {
            Kind::CloudTrail => found.push(Found::File(path)),
            Kind::Zip => found.push(Found::Zip(path)),
            Kind::Digest => skipped.digests += 1,
            Kind::Other => skipped.other += 1,
        }
    }
}

/// True if the file starts with a zip archive's magic bytes.
fn is_zip_file(path: &Path) -> bool {
    // Only a regular file is sniffed: reading a named pipe (`<(zcat …)`,
    // a FIFO) would take its first bytes away from the reader.
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut head = [0u8; 4];
    match File::open(path).and_then(|mut f| f.read_exact(&mut head)) {
        Ok(()) => ZIP_MAGIC.iter().any(|m| head == **m),
        Err(_) => false,
    }
}

/// The CloudTrail members of a zip archive, in delivery order; the others
/// counted in `skipped`. A damaged archive is one unreadable source.
fn members(archive: &Path, skipped: &mut Skipped) -> Vec<Source> {
    let listed = File::open(archive)
        .map_err(|e| e.to_string())
        .and_then(|f| {
            zip::ZipArchive::new(f).map_err(|e| format!("not a readable zip archive: {e}"))
        });
    let mut zip = match listed {
        Ok(z) => z,
        Err(reason) => {
            return vec![Source::Unreadable {
                name: archive.display().to_string(),
                reason,
            }];
        }
    };
    let mut out = Vec::new();
    for index in 0..zip.len() {
        let member = zip
            .by_index_raw(index)
            .and_then(|m| Ok((m.name()?.into_owned(), m.is_dir())));
        let (name, is_dir) = match member {
            Ok(m) => m,
            Err(e) => {
                out.push(Source::Unreadable {
                    name: format!("{}:#{index}", archive.display()),
                    reason: format!("damaged zip member: {e}"),
                });
                continue;
            }
        };
        if is_dir {
            continue;
        }
        let base = name.rsplit('/').next().unwrap_or(&name);
        match kind_of(base) {
            Kind::CloudTrail => out.push(Source::ZipMember {
                archive: archive.to_owned(),
                index,
                name,
            }),
            Kind::Digest => skipped.digests += 1,
            Kind::Zip | Kind::Other => skipped.other += 1,
        }
    }
    out.sort_by(delivery_cmp);
    out
}

/// The delivery time in a CloudTrail object name
/// (`<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<id>…`), as its
/// sortable text `YYYYMMDDTHHMM`.
pub fn delivery_time(file_name: &str) -> Option<&str> {
    let mut parts = file_name.split('_');
    let account = parts.next()?;
    if account.is_empty() || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if parts.next()? != "CloudTrail" {
        return None;
    }
    let _region = parts.next()?;
    let stamp = parts.next()?;
    let b = stamp.as_bytes();
    let ok = b.len() == 14
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..13].iter().all(u8::is_ascii_digit)
        && b[13] == b'Z';
    ok.then(|| &stamp[..13])
}

/// The last component of a source's name (a member's own name).
fn base_name(s: &Source) -> String {
    match s {
        Source::Stdin => String::new(),
        Source::File(p) => p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        Source::ZipMember { name, .. } => name.rsplit('/').next().unwrap_or(name).to_owned(),
        Source::Unreadable { name, .. } => name.clone(),
    }
}

/// Delivery order: the time in the object name (none first), then the
/// file name, then the whole name (stable for equal file names in
/// different folders).
fn delivery_cmp(a: &Source, b: &Source) -> Ordering {
    let (na, nb) = (base_name(a), base_name(b));
    delivery_time(&na)
        .cmp(&delivery_time(&nb))
        .then_with(|| na.cmp(&nb))
        .then_with(|| a.name().cmp(&b.name()))
}

/// Reads a zip member on its own thread (the `zip` crate's member reader
/// borrows its archive, so the archive lives on that thread), in pieces
/// through a bounded channel.
fn open_member(archive: &Path, index: usize) -> io::Result<MemberReader> {
    let file = File::open(archive)?;
    let mut zip = zip::ZipArchive::new(file).map_err(io::Error::other)?;
    // Fail here, not on the thread, for what can be known at once
    // (encrypted members, compression methods not built in).
    drop(zip.by_index(index).map_err(io::Error::other)?);
    let (tx, rx) = bounded::<io::Result<Vec<u8>>>(2);
    thread::Builder::new()
        .name("recon-unzip".into())
        .spawn(move || {
            let mut member = match zip.by_index(index) {
                Ok(m) => m,
                Err(e) => {
                    let _ = tx.send(Err(io::Error::other(e)));
                    return;
                }
            };
            loop {
                let mut piece = vec![0u8; ZIP_PIECE_BYTES];
                match member.read(&mut piece) {
                    Ok(0) => return,
                    Ok(n) => {
                        piece.truncate(n);
                        if tx.send(Ok(piece)).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        })?;
    Ok(MemberReader {
        rx,
        piece: Vec::new(),
        at: 0,
        pending: None,
    })
}

/// The reading end of a zip member's thread.
struct MemberReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    piece: Vec<u8>,
    at: usize,
    /// An error that came after bytes already handed out.
    pending: Option<io::Error>,
}

impl Read for MemberReader {
    /// Fills `buf` with what the member's thread has ready, waiting only for
    /// the first byte: a short read then means the same as from a file or a
    /// pipe (nothing more for now), not a piece boundary.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            if self.at == self.piece.len() {
                let next = if filled == 0 {
                    self.rx.recv().ok()
                } else {
                    self.rx.try_recv().ok()
                };
                match next {
                    Some(Ok(piece)) => {
                        self.piece = piece;
                        self.at = 0;
                    }
                    // An error after some bytes: those first, the error on
                    // the next call (the thread has ended, so it is kept).
                    Some(Err(e)) if filled == 0 => return Err(e),
                    Some(Err(e)) => {
                        self.pending = Some(e);
                        break;
                    }
                    None => break,
                }
                continue;
            }
            let n = (buf.len() - filled).min(self.piece.len() - self.at);
            buf[filled..filled + n].copy_from_slice(&self.piece[self.at..self.at + n]);
            self.at += n;
            filled += n;
        }
        if filled == 0
            && let Some(e) = self.pending.take()
        {
            return Err(e);
        }
        Ok(filled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn delivery_times_come_from_cloudtrail_object_names() {
        assert_eq!(
            delivery_time("218007301253_CloudTrail_us-east-1_20230710T1145Z_7xgocspSowgK0Gto.json"),
            Some("20230710T1145")
        );
        assert_eq!(
            delivery_time("111122223333_CloudTrail_eu-west-1_20260105T0005Z_a1.json.gz"),
            Some("20260105T0005")
        );
        assert_eq!(
            delivery_time("111122223333_CloudTrail-Digest_eu-west-1_20260105T0005Z_a1.json.gz"),
            None
        );
        assert_eq!(delivery_time("trail.json"), None);
        assert_eq!(delivery_time("x_CloudTrail_r_20260105T0005Z_a.json"), None);
        assert_eq!(delivery_time("1_CloudTrail_r_2026010T0005Z_a.json"), None);
    }

    #[test]
    fn names_say_what_is_read() {
        assert_eq!(kind_of("a.json"), Kind::CloudTrail);
        assert_eq!(kind_of("a.JSON.GZ"), Kind::CloudTrail);
        assert_eq!(kind_of("a.jsonl.gz"), Kind::CloudTrail);
        assert_eq!(kind_of("a.ndjson"), Kind::CloudTrail);
        assert_eq!(
            kind_of("1_CloudTrail-Digest_r_20260105T0005Z.json.gz"),
            Kind::Digest
        );
        assert_eq!(kind_of("export.zip"), Kind::Zip);
        assert_eq!(kind_of("notes.txt"), Kind::Other);
        assert_eq!(kind_of(".hidden.json"), Kind::Other);
    }

    #[test]
    fn delivery_order_is_by_slot_then_name_across_folders() {
        let s = |p: &str| Source::File(PathBuf::from(p));
        let mut v = [
            s("b/1_CloudTrail_us-east-1_20260105T0010Z_a.json.gz"),
            s("a/1_CloudTrail_us-west-2_20260105T0005Z_b.json.gz"),
            s("plain.json"),
            s("c/1_CloudTrail_eu-west-1_20260105T0005Z_c.json.gz"),
        ];
        v.sort_by(delivery_cmp);
        let names: Vec<String> = v.iter().map(Source::name).collect();
        assert_eq!(
            names,
            [
                "plain.json",
                "c/1_CloudTrail_eu-west-1_20260105T0005Z_c.json.gz",
                "a/1_CloudTrail_us-west-2_20260105T0005Z_b.json.gz",
                "b/1_CloudTrail_us-east-1_20260105T0010Z_a.json.gz",
            ]
        );
    }

    #[test]
    fn zip_members_are_listed_in_delivery_order_and_read() {
        let dir = std::env::temp_dir().join(format!("recon-sources-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.zip");
        let mut w = zip::ZipWriter::new(File::create(&path).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, body) in [
            ("x/1_CloudTrail_r_20260105T0010Z_b.json", "second"),
            ("x/1_CloudTrail-Digest_r_20260105T0010Z_b.json.gz", "digest"),
            ("README.txt", "other"),
            ("x/1_CloudTrail_r_20260105T0005Z_a.json", "first"),
        ] {
            w.start_file(name, opts).unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap();
        let listing = list(std::slice::from_ref(&path), Order::Given);
        assert_eq!(
            listing.skipped,
            Skipped {
                digests: 1,
                other: 1
            }
        );
        let bodies: Vec<String> = listing
            .sources
            .iter()
            .map(|s| {
                let mut t = String::new();
                s.open().unwrap().read_to_string(&mut t).unwrap();
                t
            })
            .collect();
        assert_eq!(bodies, ["first", "second"]);
        assert!(
            listing.sources[0]
                .name()
                .ends_with("t.zip:x/1_CloudTrail_r_20260105T0005Z_a.json")
        );
        // Damaged: the same bytes cut short are one unreadable source.
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.join("cut.zip");
        std::fs::write(&cut, &bytes[..bytes.len() - 30]).unwrap();
        let listing = list(std::slice::from_ref(&cut), Order::Given);
        assert!(matches!(&listing.sources[..], [Source::Unreadable { .. }]));
        assert!(listing.sources[0].open().is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
