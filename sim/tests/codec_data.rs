//! A sector's byte form ([`Data`]'s hand codec, whose common cases are read as
//! one pair of bytes) against its slow twin, postcard over the serde derive.
//!
//! - Every sector of a list that crosses each varint length (stale blocks and initial
//!   blocks around 2^7, 2^14, 2^21, 2^28 and the top of a `u32`, every write, the zero
//!   sector) is postcard's bytes exactly, alone and as one sequence, and reads back equal,
//!   consuming what it wrote.
//! - A pair cut after its tag panics with [`codec::CUT`].

use model::state::Data;
use sim::codec::{self, Codec};

/// Block numbers around each varint length's edge.
fn blocks() -> Vec<u32> {
    let edges = [0u32, 1 << 7, 1 << 14, 1 << 21, 1 << 28];
    let mut out: Vec<u32> = edges
        .iter()
        .flat_map(|&e| e.saturating_sub(3)..e.saturating_add(3))
        .collect();
    out.extend((0..300).chain([u32::MAX - 1, u32::MAX]));
    out
}

/// Every kind of sector, over [`blocks`].
fn sectors() -> Vec<Data> {
    let mut out = vec![Data::Zero];
    out.extend(blocks().into_iter().map(Data::Stale));
    for inode in [0, 1, 200, u8::MAX] {
        out.extend(
            blocks()
                .into_iter()
                .map(|lblk| Data::Initial { inode, lblk }),
        );
    }
    out.extend((0..=u8::MAX).map(Data::Write));
    out
}

#[test]
fn every_sector_is_postcards_bytes_and_reads_back() {
    for data in sectors() {
        let mut bytes = Vec::new();
        data.put(&mut bytes);
        let want = postcard::to_allocvec(&data).expect("encodes");
        assert_eq!(bytes, want, "{data:?}");
        bytes.push(0xAA);
        let mut input = &bytes[..];
        assert_eq!(Data::take(&mut input), data, "{data:?}");
        assert_eq!(input, &[0xAA], "{data:?} consumed what it wrote");
    }
}

#[test]
fn a_list_of_sectors_is_postcards_bytes_and_reads_back() {
    let all = sectors();
    let mut bytes = Vec::new();
    all.put(&mut bytes);
    assert_eq!(bytes, postcard::to_allocvec(&all).expect("encodes"));
    let mut input = &bytes[..];
    assert_eq!(Vec::<Data>::take(&mut input), all);
    assert!(input.is_empty());
}

#[test]
#[should_panic(expected = "a queued record is cut short")]
fn a_pair_cut_after_its_tag_panics() {
    assert_eq!(codec::CUT, "a queued record is cut short");
    let _ = Data::take(&mut &[1u8][..]);
}
