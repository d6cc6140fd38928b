//! Snapshots of any size in a stream: cut into chunks below the server's
//! payload limit (1 MiB by default, smaller than a busy partition's
//! snapshot), found again by their stream sequences, checked by SHA-256
//! before the component checks its own checksum.

use async_nats::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::tenants::TenantId;

use super::layout::{PartitionId, SNAPSHOTS_STREAM};
use super::publish::hex;
use super::{Nats, NatsError};

/// Room left in a chunk message for its headers.
const HEADER_ROOM: usize = 4 << 10;

/// Where a stored snapshot is and how to check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRef {
    /// Its id, unique for the partition: `<epoch>-<position>`.
    pub id: String,
    /// Stream sequences of its chunks, in order.
    pub chunks: Vec<u64>,
    /// Its length.
    pub bytes: u64,
    /// SHA-256 of the whole, hex.
    pub sha256: String,
}

/// Stores `bytes` as snapshot `id` of partition `p`.
pub fn store(
    nats: &Nats,
    p: PartitionId,
    id: &str,
    bytes: &[u8],
) -> Result<SnapshotRef, NatsError> {
    let size = nats.max_payload().saturating_sub(HEADER_ROOM).max(1024);
    let subject = p.snapshot_subject(id);
    let pieces: Vec<&[u8]> = if bytes.is_empty() {
        vec![bytes]
    } else {
        bytes.chunks(size).collect()
    };
    let total = pieces.len();
    let chunks = nats.block_on(async {
        let mut acks = Vec::with_capacity(total);
        for (i, piece) in pieces.into_iter().enumerate() {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", format!("{}:{id}:{i}", p.name()).as_str());
            headers.insert("Recon-Chunk", format!("{i}/{total}").as_str());
            acks.push(
                nats.js
                    .publish_with_headers(
                        subject.clone(),
                        headers,
                        bytes::Bytes::copy_from_slice(piece),
                    )
                    .await
                    .map_err(|e| nats.err("storing a snapshot", e))?,
            );
        }
        let mut seqs = Vec::with_capacity(total);
        for a in acks {
            seqs.push(
                a.await
                    .map_err(|e| nats.err("storing a snapshot", e))?
                    .sequence,
            );
        }
        Ok::<_, NatsError>(seqs)
    })?;
    Ok(SnapshotRef {
        id: id.to_owned(),
        chunks,
        bytes: bytes.len() as u64,
        sha256: hex(&Sha256::digest(bytes)),
    })
}

/// Reads snapshot `r` back, refusing it if its length or checksum differ.
pub fn load(nats: &Nats, p: PartitionId, r: &SnapshotRef) -> Result<Vec<u8>, NatsError> {
    let subject = p.snapshot_subject(&r.id);
    let out = nats.block_on(async {
        let stream = nats
            .js
            .get_stream_no_info(SNAPSHOTS_STREAM)
            .await
            .map_err(|e| nats.err("opening the snapshot stream", e))?;
        let mut out = Vec::with_capacity(r.bytes as usize);
        for seq in &r.chunks {
            let m = stream.get_raw_message(*seq).await.map_err(|e| {
                NatsError::Damaged(format!(
                    "snapshot {} of partition {}: chunk at sequence {seq} cannot be read: {e}",
                    r.id,
                    p.name()
                ))
            })?;
            if m.subject.as_str() != subject {
                return Err(NatsError::Damaged(format!(
                    "snapshot {} of partition {}: sequence {seq} holds {}, not a chunk of it",
                    r.id,
                    p.name(),
                    m.subject
                )));
            }
            out.extend_from_slice(&m.payload);
        }
        Ok::<_, NatsError>(out)
    })?;
    let sum = hex(&Sha256::digest(&out));
    if out.len() as u64 != r.bytes || sum != r.sha256 {
        return Err(NatsError::Damaged(format!(
            "snapshot {} of partition {} is damaged: {} bytes with SHA-256 {sum}, expected {} \
             bytes with {}",
            r.id,
            p.name(),
            out.len(),
            r.bytes,
            r.sha256
        )));
    }
    Ok(out)
}

/// Deletes snapshot `r` (one no longer referenced), chunk by chunk.
///
/// Each chunk is deleted by its sequence rather than purged by subject:
/// nats-server before 2.9.15 does not take a filtered purge off the
/// account's store use (nats-server#3876), so purged bytes would still count
/// against `max_file_store` until the server restarts. A chunk already gone
/// is fine.
pub fn remove(nats: &Nats, r: &SnapshotRef) -> Result<(), NatsError> {
    nats.block_on(async {
        let stream = nats
            .js
            .get_stream_no_info(SNAPSHOTS_STREAM)
            .await
            .map_err(|e| nats.err("opening the snapshot stream", e))?;
        delete_each(nats, &stream, &r.chunks, "removing an old snapshot").await
    })
}

/// Deletes the messages at `sequences` from `stream`; one already gone is
/// fine.
pub(super) async fn delete_each<I>(
    nats: &Nats,
    stream: &async_nats::jetstream::stream::Stream<I>,
    sequences: &[u64],
    what: &str,
) -> Result<(), NatsError> {
    for &seq in sequences {
        if let Err(e) = stream.delete_message(seq).await {
            let text = e.to_string().to_ascii_lowercase();
            // Gone already: "no message found" (10037) or "sequence not
            // found" (10043), as 2.9 words it.
            let gone =
                text.contains("not found") || text.contains("10037") || text.contains("10043");
            if !gone {
                return Err(nats.err(what, e));
            }
        }
    }
    Ok(())
}

/// Deletes every message of `subject` in `stream` with a sequence below
/// `before`, one by one (see [`remove`]), each found as the subject's first
/// from where the last one was.
pub(super) async fn delete_subject_before<I>(
    nats: &Nats,
    stream: &async_nats::jetstream::stream::Stream<I>,
    subject: &str,
    before: u64,
    what: &str,
) -> Result<(), NatsError> {
    let mut from = 1;
    while from < before {
        let seq = match stream.get_first_raw_message_by_subject(subject, from).await {
            Ok(m) if m.sequence < before => m.sequence,
            Ok(_) => break,
            Err(e)
                if e.kind()
                    == async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
            {
                break;
            }
            Err(e) => return Err(nats.err(what, e)),
        };
        delete_each(nats, stream, &[seq], what).await?;
        from = seq + 1;
    }
    Ok(())
}

/// The first bytes of a partition snapshot that holds one detector per
/// tenant (a deployment with `tenants.key`).
const TENANTS_MAGIC: &[u8] = b"recon-tenant-snapshots 1\n";

/// One snapshot of every tenant's detector of a partition: the magic, the
/// number of tenants (u32, little-endian), then for each tenant its state name's length (u32, little-endian), the name
/// (as [`TenantId::state_name`] writes it), the snapshot's length (u64)
/// and the component's snapshot bytes.
pub fn encode_tenants(tenants: &[(TenantId, Vec<u8>)]) -> Vec<u8> {
    let size: usize = tenants.iter().map(|(_, s)| s.len() + 64).sum();
    let mut out = Vec::with_capacity(TENANTS_MAGIC.len() + size);
    out.extend_from_slice(TENANTS_MAGIC);
    out.extend_from_slice(&(tenants.len() as u32).to_le_bytes());
    for (id, snapshot) in tenants {
        let name = id.state_name();
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(snapshot.len() as u64).to_le_bytes());
        out.extend_from_slice(snapshot);
    }
    out
}

/// Reads back what [`encode_tenants`] wrote; an error says what is wrong.
pub fn decode_tenants(bytes: &[u8]) -> Result<Vec<(TenantId, Vec<u8>)>, String> {
    struct Cursor<'a>(&'a [u8]);
    impl<'a> Cursor<'a> {
        fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
            if self.0.len() < n {
                return Err(format!("it ends within {what}"));
            }
            let (head, tail) = self.0.split_at(n);
            self.0 = tail;
            Ok(head)
        }
        fn len(&mut self, width: usize, what: &str) -> Result<usize, String> {
            let mut b = [0u8; 8];
            b[..width].copy_from_slice(self.take(width, what)?);
            usize::try_from(u64::from_le_bytes(b)).map_err(|_| format!("{what} is too long"))
        }
    }
    let mut c = Cursor(bytes.strip_prefix(TENANTS_MAGIC).ok_or(
        "it is not a snapshot of tenants' detectors (made by a deployment without tenants.key?)",
    )?);
    let count = c.len(4, "the number of tenants")?;
    let mut out = Vec::new();
    for _ in 0..count {
        let n = c.len(4, "a tenant's name")?;
        let name = std::str::from_utf8(c.take(n, "a tenant's name")?)
            .map_err(|_| "a tenant's name is not UTF-8".to_owned())?;
        let id = TenantId::from_state_name(name)
            .ok_or_else(|| format!("{name:?} does not name a tenant"))?;
        let n = c.len(8, "a tenant's snapshot")?;
        out.push((id, c.take(n, "a tenant's snapshot")?.to_vec()));
    }
    if !c.0.is_empty() {
        return Err(format!("{} bytes follow the last tenant", c.0.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_snapshots_round_trip_and_damage_is_named() {
        let tenants = vec![
            (TenantId::Named("111".into()), b"abc".to_vec()),
            (TenantId::Missing, Vec::new()),
            (TenantId::Other, vec![0u8; 300]),
        ];
        let bytes = encode_tenants(&tenants);
        assert_eq!(decode_tenants(&bytes).unwrap(), tenants);
        assert_eq!(decode_tenants(&encode_tenants(&[])).unwrap(), vec![]);
        // Every truncation is refused, never read as fewer tenants.
        for cut in TENANTS_MAGIC.len()..bytes.len() {
            let e = decode_tenants(&bytes[..cut]);
            assert!(e.is_err(), "cut at {cut}: {e:?}");
        }
        assert!(
            decode_tenants(b"\x00asm")
                .unwrap_err()
                .contains("not a snapshot")
        );
        let mut bad = bytes.clone();
        bad[TENANTS_MAGIC.len() + 8] = b'x';
        assert!(
            decode_tenants(&bad)
                .unwrap_err()
                .contains("does not name a tenant")
        );
    }
}
