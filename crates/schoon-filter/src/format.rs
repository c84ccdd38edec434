//! The serialized layout, the zero-copy view ([`FilterRef`]) and the owned buffer
//! ([`FilterBuf`]).

use core::fmt;

use crate::bloom::{self, BLOCK_BYTES};
use crate::fuse::{self, MAX_SEGMENT_LENGTH};
use crate::{Error, Kind, Membership};

/// Length of the fixed header that precedes the payload.
pub const HEADER_LEN: usize = 48;
/// The first four bytes of every filter.
pub const MAGIC: [u8; 4] = *b"SCHF";
/// The layout version this code writes and reads.
pub const VERSION: u16 = 1;

/// The decoded, validated header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) kind: Kind,
    pub(crate) num_keys: u64,
    pub(crate) seed: u64,
    /// Bloom: number of blocks. Fuse: segment length.
    pub(crate) param0: u32,
    /// Bloom: zero. Fuse: segment count × segment length.
    pub(crate) param1: u32,
    pub(crate) payload_len: u64,
}

/// FNV-1a (64 bits) over the first 40 header bytes. Every byte step is a bijection of the state,
/// so any change confined to one byte (in particular any single flipped bit) changes the result.
fn header_check(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Reads fixed-size fields in order; the header is a fixed array, so it never runs short.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        match self.0.split_first_chunk::<N>() {
            Some((field, rest)) => {
                self.0 = rest;
                *field
            }
            None => [0; N],
        }
    }
}

impl Header {
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let fields: [&[u8]; 9] = [
            &MAGIC,
            &VERSION.to_le_bytes(),
            &[self.kind.tag(), 0],
            &self.num_keys.to_le_bytes(),
            &self.seed.to_le_bytes(),
            &self.param0.to_le_bytes(),
            &self.param1.to_le_bytes(),
            &self.payload_len.to_le_bytes(),
            &[0; 8],
        ];
        let mut at = out.iter_mut();
        for byte in fields.into_iter().flatten() {
            if let Some(slot) = at.next() {
                *slot = *byte;
            }
        }
        let check = header_check(out.get(..HEADER_LEN - 8).unwrap_or_default());
        if let Some((_, tail)) = out.split_last_chunk_mut::<8>() {
            *tail = check.to_le_bytes();
        }
        out
    }

    /// Validates the header of `bytes` and that the payload after it has exactly the declared
    /// length. Allocates nothing; every count is checked against the bytes actually present.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Header, Error> {
        let Some((head, payload)) = bytes.split_first_chunk::<HEADER_LEN>() else {
            return Err(Error::TooShort { len: bytes.len(), header_len: HEADER_LEN });
        };
        let mut f = Fields(head);
        let magic = f.take::<4>();
        if magic != MAGIC {
            return Err(Error::BadMagic { found: magic });
        }
        let version = u16::from_le_bytes(f.take());
        if version != VERSION {
            return Err(Error::UnsupportedVersion { version });
        }
        let [tag, reserved] = f.take::<2>();
        let num_keys = u64::from_le_bytes(f.take());
        let seed = u64::from_le_bytes(f.take());
        let param0 = u32::from_le_bytes(f.take());
        let param1 = u32::from_le_bytes(f.take());
        let payload_len = u64::from_le_bytes(f.take());
        let stored = u64::from_le_bytes(f.take());
        let computed = header_check(head.get(..HEADER_LEN - 8).unwrap_or_default());
        if stored != computed {
            return Err(Error::HeaderCheck { stored, computed });
        }
        let kind = Kind::from_tag(tag).ok_or(Error::UnknownKind { tag })?;
        if reserved != 0 {
            return Err(invalid("reserved", reserved.into(), "must be 0"));
        }
        let expected = match kind {
            Kind::SplitBlockBloom => {
                if param0 == 0 {
                    return Err(invalid("num_blocks", 0, "a bloom filter has at least one block"));
                }
                if param1 != 0 {
                    return Err(invalid("param1", param1.into(), "must be 0 for a bloom filter"));
                }
                u64::from(param0) * BLOCK_BYTES as u64
            }
            Kind::BinaryFuse8 | Kind::BinaryFuse16 | Kind::BinaryFuse32 => {
                let length = param0;
                if !length.is_power_of_two() || length > MAX_SEGMENT_LENGTH {
                    return Err(invalid(
                        "segment_length",
                        length.into(),
                        "not a power of two between 1 and 262144",
                    ));
                }
                let scl = param1;
                if scl == 0 || scl % length != 0 {
                    return Err(invalid(
                        "segment_count_length",
                        scl.into(),
                        "not a positive multiple of the segment length",
                    ));
                }
                let slots = u64::from(scl) + 2 * u64::from(length);
                if slots > u64::from(u32::MAX) {
                    return Err(invalid(
                        "segment_count_length",
                        scl.into(),
                        "more than 2^32 fingerprints",
                    ));
                }
                if num_keys > slots {
                    return Err(invalid("num_keys", num_keys, "more keys than fingerprint slots"));
                }
                slots * kind.fingerprint_bytes()
            }
        };
        if payload_len != expected {
            return Err(invalid(
                "payload_len",
                payload_len,
                "does not match the filter parameters",
            ));
        }
        let actual = payload.len() as u64;
        if actual != payload_len {
            return Err(Error::PayloadLength { actual, declared: payload_len });
        }
        Ok(Header { kind, num_keys, seed, param0, param1, payload_len })
    }

    fn fuse_params(&self) -> fuse::Params {
        fuse::Params {
            seed: self.seed,
            segment_length: self.param0,
            segment_count_length: self.param1,
        }
    }
}

fn invalid(field: &'static str, value: u64, reason: &'static str) -> Error {
    Error::InvalidHeader { field, value, reason }
}

/// The payload, typed without copying.
#[derive(Clone, Copy)]
enum Payload<'a> {
    Bloom(&'a [[u8; BLOCK_BYTES]]),
    Fuse8(&'a [[u8; 1]], fuse::Params),
    Fuse16(&'a [[u8; 2]], fuse::Params),
    Fuse32(&'a [[u8; 4]], fuse::Params),
}

/// A validated, read-only view of a serialized filter: queries index straight into the bytes.
///
/// Made by [`FilterRef::parse`] (O(1): reads the 48-byte header, checks the payload length,
/// slices) or [`FilterBuf::view`].
#[derive(Clone, Copy)]
pub struct FilterRef<'a> {
    header: Header,
    bytes: &'a [u8],
    payload: Payload<'a>,
}

impl<'a> FilterRef<'a> {
    /// Validates the header of `bytes` and that the payload is exactly as long as declared.
    ///
    /// Never allocates, never trusts a count: a truncated, padded or edited header is an
    /// [`Error`]. The payload itself is not checksummed (the outer container signs it); any
    /// payload of the right length is a valid filter.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let header = Header::decode(bytes)?;
        Ok(Self::from_parts(header, bytes))
    }

    /// The view of `bytes` whose header decoded to `header` (total: a mismatch can only make
    /// lookups answer `false`).
    fn from_parts(header: Header, bytes: &'a [u8]) -> Self {
        let body = bytes.get(HEADER_LEN..).unwrap_or_default();
        let payload = match header.kind {
            Kind::SplitBlockBloom => Payload::Bloom(body.as_chunks().0),
            Kind::BinaryFuse8 => Payload::Fuse8(body.as_chunks().0, header.fuse_params()),
            Kind::BinaryFuse16 => Payload::Fuse16(body.as_chunks().0, header.fuse_params()),
            Kind::BinaryFuse32 => Payload::Fuse32(body.as_chunks().0, header.fuse_params()),
        };
        FilterRef { header, bytes, payload }
    }

    /// The serialized filter (header and payload) this view reads.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The hash seed stored in the header.
    pub fn seed(&self) -> u64 {
        self.header.seed
    }

    /// Bloom only: the number of 256-bit blocks (`None` for binary fuse filters).
    pub fn num_blocks(&self) -> Option<u32> {
        match self.payload {
            Payload::Bloom(_) => Some(self.header.param0),
            _ => None,
        }
    }
}

impl Membership for FilterRef<'_> {
    // Inlined so that a caller's loop hoists the kind dispatch and overlaps the memory accesses
    // of successive lookups.
    #[inline(always)]
    fn contains(&self, key: u64) -> bool {
        match &self.payload {
            Payload::Bloom(blocks) => bloom::contains(blocks, self.header.seed, key),
            Payload::Fuse8(fp, p) => fuse::contains(fp, p, key),
            Payload::Fuse16(fp, p) => fuse::contains(fp, p, key),
            Payload::Fuse32(fp, p) => fuse::contains(fp, p, key),
        }
    }

    fn kind(&self) -> Kind {
        self.header.kind
    }

    fn num_keys(&self) -> u64 {
        self.header.num_keys
    }

    fn size_bytes(&self) -> usize {
        self.bytes.len()
    }

    fn false_positive_rate(&self) -> f64 {
        match self.header.kind {
            Kind::SplitBlockBloom => {
                bloom::bloom_false_positive_rate(self.header.num_keys, self.header.param0)
            }
            kind => kind.fingerprint_fpr(),
        }
    }
}

impl fmt::Debug for FilterRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilterRef")
            .field("kind", &self.header.kind)
            .field("num_keys", &self.header.num_keys)
            .field("seed", &self.header.seed)
            .field("size_bytes", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// An owned, serialized filter (header and payload), as built; ship [`FilterBuf::as_bytes`].
///
/// Split-block Bloom filters can also be updated in place ([`FilterBuf::insert`],
/// [`FilterBuf::merge`]).
#[derive(Clone, PartialEq, Eq)]
pub struct FilterBuf {
    header: Header,
    bytes: Vec<u8>,
}

impl FilterBuf {
    /// Wraps serialized bytes after validating them as [`FilterRef::parse`] does (no copy).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Error> {
        let header = Header::decode(&bytes)?;
        Ok(FilterBuf { header, bytes })
    }

    /// Assembles a filter from its header fields and payload.
    pub(crate) fn from_payload(
        kind: Kind,
        num_keys: u64,
        seed: u64,
        (param0, param1): (u32, u32),
        payload: &[u8],
    ) -> Result<Self, Error> {
        let total =
            payload.len().checked_add(HEADER_LEN).filter(|&n| isize::try_from(n).is_ok()).ok_or(
                Error::TooLarge { bytes: (payload.len() as u64).saturating_add(HEADER_LEN as u64) },
            )?;
        let header =
            Header { kind, num_keys, seed, param0, param1, payload_len: payload.len() as u64 };
        let mut bytes = Vec::with_capacity(total);
        bytes.extend_from_slice(&header.encode());
        bytes.extend_from_slice(payload);
        Ok(FilterBuf { header, bytes })
    }

    /// An empty split-block Bloom filter of `num_blocks` 256-bit blocks, ready for
    /// [`insert`](Self::insert). Filters that will be [merged](Self::merge) must share
    /// `num_blocks` and `seed`; size them with [`bloom_num_blocks`](crate::bloom_num_blocks).
    pub fn empty_bloom(num_blocks: u32, seed: u64) -> Result<Self, Error> {
        if num_blocks == 0 {
            return Err(invalid("num_blocks", 0, "a bloom filter has at least one block"));
        }
        let payload_len = u64::from(num_blocks) * BLOCK_BYTES as u64;
        let total = payload_len + HEADER_LEN as u64;
        let len = usize::try_from(total)
            .ok()
            .filter(|&n| isize::try_from(n).is_ok())
            .ok_or(Error::TooLarge { bytes: total })?;
        let header = Header {
            kind: Kind::SplitBlockBloom,
            num_keys: 0,
            seed,
            param0: num_blocks,
            param1: 0,
            payload_len,
        };
        let mut bytes = vec![0u8; len];
        if let Some(head) = bytes.first_chunk_mut::<HEADER_LEN>() {
            *head = header.encode();
        }
        Ok(FilterBuf { header, bytes })
    }

    /// The serialized filter: header then payload.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The serialized filter, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// A zero-copy view for queries (cheap; take it once, query many times).
    pub fn view(&self) -> FilterRef<'_> {
        FilterRef::from_parts(self.header, &self.bytes)
    }

    /// Adds one key to a split-block Bloom filter. Use [`insert_all`](Self::insert_all) for
    /// many keys (it rewrites the header once).
    pub fn insert(&mut self, key: u64) -> Result<(), Error> {
        self.insert_all(&[key])
    }

    /// Adds keys to a split-block Bloom filter in place. The key count grows by `keys.len()`
    /// (duplicates included: for Bloom filters it is an upper bound on the distinct keys, which
    /// keeps [`Membership::false_positive_rate`] conservative).
    pub fn insert_all(&mut self, keys: &[u64]) -> Result<(), Error> {
        self.require_bloom()?;
        let seed = self.header.seed;
        let blocks = self.blocks_mut();
        for &key in keys {
            bloom::insert(blocks, seed, key);
        }
        self.add_keys(keys.len() as u64);
        Ok(())
    }

    /// ORs another split-block Bloom filter with the same number of blocks and seed into this
    /// one; the result answers like a filter built from both key sets. The key count becomes
    /// the (saturating) sum.
    pub fn merge(&mut self, other: &FilterRef<'_>) -> Result<(), Error> {
        self.require_bloom()?;
        if other.header.kind != Kind::SplitBlockBloom {
            return Err(Error::Immutable { kind: other.header.kind });
        }
        let checks = [
            ("num_blocks", self.header.param0.into(), other.header.param0.into()),
            ("seed", self.header.seed, other.header.seed),
        ];
        for (what, ours, theirs) in checks {
            if ours != theirs {
                return Err(Error::Mismatch { what, ours, theirs });
            }
        }
        let theirs = other.bytes.get(HEADER_LEN..).unwrap_or_default();
        let ours = self.bytes.get_mut(HEADER_LEN..).unwrap_or_default();
        for (a, b) in ours.iter_mut().zip(theirs) {
            *a |= *b;
        }
        self.add_keys(other.header.num_keys);
        Ok(())
    }

    fn require_bloom(&self) -> Result<(), Error> {
        match self.header.kind {
            Kind::SplitBlockBloom => Ok(()),
            kind => Err(Error::Immutable { kind }),
        }
    }

    fn blocks_mut(&mut self) -> &mut [[u8; BLOCK_BYTES]] {
        self.bytes.get_mut(HEADER_LEN..).unwrap_or_default().as_chunks_mut().0
    }

    fn add_keys(&mut self, n: u64) {
        self.header.num_keys = self.header.num_keys.saturating_add(n);
        if let Some(head) = self.bytes.first_chunk_mut::<HEADER_LEN>() {
            *head = self.header.encode();
        }
    }
}

impl Membership for FilterBuf {
    #[inline]
    fn contains(&self, key: u64) -> bool {
        self.view().contains(key)
    }

    fn kind(&self) -> Kind {
        self.header.kind
    }

    fn num_keys(&self) -> u64 {
        self.header.num_keys
    }

    fn size_bytes(&self) -> usize {
        self.bytes.len()
    }

    fn false_positive_rate(&self) -> f64 {
        self.view().false_positive_rate()
    }
}

impl fmt::Debug for FilterBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.view(), f)
    }
}
