//! Snapshots of any size in a stream: cut into chunks below the server's
//! payload limit (1 MiB by default, smaller than a busy partition's
//! snapshot), found again by their stream sequences, checked by SHA-256
//! before the component checks its own checksum.

use async_nats::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

/// Deletes snapshot `id` of partition `p` (one no longer referenced).
pub fn remove(nats: &Nats, p: PartitionId, id: &str) -> Result<(), NatsError> {
    nats.block_on(async {
        let stream = nats
            .js
            .get_stream_no_info(SNAPSHOTS_STREAM)
            .await
            .map_err(|e| nats.err("opening the snapshot stream", e))?;
        stream
            .purge()
            .filter(p.snapshot_subject(id))
            .await
            .map_err(|e| nats.err("removing an old snapshot", e))?;
        Ok(())
    })
}
