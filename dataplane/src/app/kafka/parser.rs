//! Pure Kafka request parsing: the request header (v1/v2), API names and version ranges,
//! and the topic names of Produce, Fetch and Metadata requests in their non-flexible
//! versions.
use crate::app::bytes::{be16, be32, u8_at};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// More bytes are needed.
    Incomplete,
    /// The bytes are not this protocol.
    Invalid,
}

/// Largest request accepted (`socket.request.max.bytes` default is 100 MiB).
pub const MAX_SIZE: u32 = 100 << 20;
/// Longest client id accepted.
pub const MAX_CLIENT_ID: usize = 255;
/// Topics read from one request at most.
pub const MAX_TOPICS: usize = 16;
/// Partitions of one topic walked at most.
pub const MAX_PARTITIONS: u32 = 1024;
/// Versions accepted above the highest known one (newer brokers and clients).
const VERSION_MARGIN: u16 = 2;

/// (name, highest known version) by API key.
const APIS: [(&str, u16); 68] = [
    ("Produce", 11),
    ("Fetch", 17),
    ("ListOffsets", 9),
    ("Metadata", 13),
    ("LeaderAndIsr", 7),
    ("StopReplica", 4),
    ("UpdateMetadata", 8),
    ("ControlledShutdown", 3),
    ("OffsetCommit", 9),
    ("OffsetFetch", 9),
    ("FindCoordinator", 6),
    ("JoinGroup", 9),
    ("Heartbeat", 4),
    ("LeaveGroup", 5),
    ("SyncGroup", 5),
    ("DescribeGroups", 5),
    ("ListGroups", 5),
    ("SaslHandshake", 1),
    ("ApiVersions", 4),
    ("CreateTopics", 7),
    ("DeleteTopics", 6),
    ("DeleteRecords", 2),
    ("InitProducerId", 5),
    ("OffsetForLeaderEpoch", 4),
    ("AddPartitionsToTxn", 5),
    ("AddOffsetsToTxn", 4),
    ("EndTxn", 4),
    ("WriteTxnMarkers", 1),
    ("TxnOffsetCommit", 4),
    ("DescribeAcls", 3),
    ("CreateAcls", 3),
    ("DeleteAcls", 3),
    ("DescribeConfigs", 4),
    ("AlterConfigs", 2),
    ("AlterReplicaLogDirs", 2),
    ("DescribeLogDirs", 4),
    ("SaslAuthenticate", 2),
    ("CreatePartitions", 3),
    ("CreateDelegationToken", 3),
    ("RenewDelegationToken", 2),
    ("ExpireDelegationToken", 2),
    ("DescribeDelegationToken", 3),
    ("DeleteGroups", 2),
    ("ElectLeaders", 2),
    ("IncrementalAlterConfigs", 1),
    ("AlterPartitionReassignments", 0),
    ("ListPartitionReassignments", 0),
    ("OffsetDelete", 0),
    ("DescribeClientQuotas", 1),
    ("AlterClientQuotas", 1),
    ("DescribeUserScramCredentials", 0),
    ("AlterUserScramCredentials", 0),
    ("Vote", 1),
    ("BeginQuorumEpoch", 1),
    ("EndQuorumEpoch", 1),
    ("DescribeQuorum", 2),
    ("AlterPartition", 3),
    ("UpdateFeatures", 1),
    ("Envelope", 0),
    ("FetchSnapshot", 1),
    ("DescribeCluster", 1),
    ("DescribeProducers", 0),
    ("BrokerRegistration", 4),
    ("BrokerHeartbeat", 1),
    ("UnregisterBroker", 0),
    ("DescribeTransactions", 0),
    ("ListTransactions", 1),
    ("AllocateProducerIds", 0),
];

pub const PRODUCE: u16 = 0;
pub const FETCH: u16 = 1;
pub const METADATA: u16 = 3;

pub fn api_name(key: u16) -> &'static str {
    APIS.get(usize::from(key)).map_or("unknown", |a| a.0)
}

/// A request header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// Bytes after the size field.
    pub size: u32,
    pub api_key: u16,
    pub api_version: u16,
    pub correlation_id: u32,
    pub client_id: Option<&'a [u8]>,
    /// Offset of the body (after the client id) from the start of the request.
    pub body: usize,
}

/// Parses and checks a request header: size in bounds, known API key, version in range,
/// non-negative correlation id, non-empty printable client id inside the request.
pub fn header(b: &[u8]) -> Result<Header<'_>, Error> {
    let size = be32(b, 0).ok_or(Error::Incomplete)?;
    if !(10..=MAX_SIZE).contains(&size) {
        return Err(Error::Invalid);
    }
    let api_key = be16(b, 4).ok_or(Error::Incomplete)?;
    let max = APIS.get(usize::from(api_key)).ok_or(Error::Invalid)?.1;
    let api_version = be16(b, 6).ok_or(Error::Incomplete)?;
    if api_version > max + VERSION_MARGIN {
        return Err(Error::Invalid);
    }
    let correlation_id = be32(b, 8).ok_or(Error::Incomplete)?;
    if correlation_id & 0x8000_0000 != 0 {
        return Err(Error::Invalid);
    }
    let n = be16(b, 12).ok_or(Error::Incomplete)?;
    // Clients name themselves (`rdkafka`, `producer-1`, `sarama`, ...): a null or empty
    // client id is too weak a sign (a response with a small correlation id reads the same).
    let (client_id, body) = {
        let n = usize::from(n);
        if n == 0 || n > MAX_CLIENT_ID || 14 + n > 4 + size as usize {
            return Err(Error::Invalid);
        }
        let id = b.get(14..14 + n).ok_or(Error::Incomplete)?;
        if !id.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
            return Err(Error::Invalid);
        }
        (Some(id), 14 + n)
    };
    Ok(Header { size, api_key, api_version, correlation_id, client_id, body })
}

/// A bounds-checked big-endian reader.
struct Reader<'a> {
    b: &'a [u8],
    off: usize,
}

impl<'a> Reader<'a> {
    fn skip(&mut self, n: usize) -> Option<()> {
        self.b.get(self.off..self.off + n)?;
        self.off += n;
        Some(())
    }
    fn i16(&mut self) -> Option<i16> {
        let v = be16(self.b, self.off)?;
        self.off += 2;
        Some(v as i16)
    }
    fn i32(&mut self) -> Option<i32> {
        let v = be32(self.b, self.off)?;
        self.off += 4;
        Some(v as i32)
    }
    /// An int16-length string (-1 = null).
    fn string(&mut self) -> Option<Option<&'a [u8]>> {
        let n = self.i16()?;
        if n < 0 {
            return Some(None);
        }
        let s = self.b.get(self.off..self.off + n as usize)?;
        self.off += n as usize;
        Some(Some(s))
    }
}

/// Topic names of a Produce (v0..=8), Fetch (v0..=11) or Metadata (v0..=8) request body,
/// as far as `body` goes; `out` gets at most [`MAX_TOPICS`].
pub fn topics<'a>(api_key: u16, version: u16, body: &'a [u8], out: &mut Vec<&'a [u8]>) {
    let mut r = Reader { b: body, off: 0 };
    let _ = match (api_key, version) {
        (METADATA, 0..=8) => metadata(&mut r, out),
        (PRODUCE, 0..=8) => produce(&mut r, version, out),
        (FETCH, 0..=11) => fetch(&mut r, version, out),
        _ => None,
    };
}

fn count(r: &mut Reader<'_>) -> Option<usize> {
    usize::try_from(r.i32()?).ok()
}

fn metadata<'a>(r: &mut Reader<'a>, out: &mut Vec<&'a [u8]>) -> Option<()> {
    for _ in 0..count(r)?.min(MAX_TOPICS) {
        out.push(r.string()??);
    }
    Some(())
}

fn produce<'a>(r: &mut Reader<'a>, version: u16, out: &mut Vec<&'a [u8]>) -> Option<()> {
    if version >= 3 {
        r.string()?; // transactional id
    }
    r.skip(2 + 4)?; // acks, timeout
    for _ in 0..count(r)?.min(MAX_TOPICS) {
        out.push(r.string()??);
        let parts = count(r)?;
        if parts > MAX_PARTITIONS as usize {
            return None;
        }
        for _ in 0..parts {
            r.skip(4)?;
            let n = r.i32()?;
            r.skip(usize::try_from(n).unwrap_or(0))?;
        }
    }
    Some(())
}

fn fetch<'a>(r: &mut Reader<'a>, version: u16, out: &mut Vec<&'a [u8]>) -> Option<()> {
    let mut fixed = 12;
    if version >= 3 {
        fixed += 4;
    }
    if version >= 4 {
        fixed += 1;
    }
    if version >= 7 {
        fixed += 8;
    }
    r.skip(fixed)?;
    let per_partition = 4 + if version >= 9 { 4 } else { 0 } + 8 + if version >= 5 { 8 } else { 0 } + 4;
    for _ in 0..count(r)?.min(MAX_TOPICS) {
        out.push(r.string()??);
        let parts = count(r)?;
        if parts > MAX_PARTITIONS as usize {
            return None;
        }
        r.skip(parts * per_partition)?;
    }
    Some(())
}

/// Whether a byte looks like the first of a size field (sizes stay far below 2^31).
pub fn size_plausible(b: &[u8]) -> bool {
    u8_at(b, 0).is_none_or(|c| u32::from(c) <= MAX_SIZE >> 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_topics() {
        let req = b"\x00\x00\x00\x1f\x00\x03\x00\x01\x00\x00\x00\x07\x00\x07rdkafka\x00\x00\x00\x01\x00\x06events";
        let h = header(req).unwrap();
        assert_eq!((h.api_key, h.api_version, h.correlation_id, h.client_id), (3, 1, 7, Some(&b"rdkafka"[..])));
        let mut t = Vec::new();
        topics(h.api_key, h.api_version, &req[h.body..], &mut t);
        assert_eq!(t, [b"events"]);
        assert_eq!(header(b"\x00\x00\x00\x1f\x00\x63"), Err(Error::Invalid));
        assert_eq!(header(b"\x00\x00\x00\x1f\x00\x03\x00\x30"), Err(Error::Invalid));
        assert_eq!(api_name(18), "ApiVersions");
    }
}
