//! The version 3 store pack format on hand-made packs: the test vector of `docs/formats.md`
//! §6, and damaged packs and indexes (truncated, bad offsets, bad delta bases, cycles, chains
//! too deep), every one of which must be a corrupt-store error, never a panic.

use std::fs;
use std::path::Path;

use muse_core::ObjectId;

use super::pack::{encode_entry_header, encode_index, StoredBase, PACK_MAGIC, PACK_VERSION};
use super::{compress, Encoding, ObjectKind, ObjectStore};
use crate::error::{ErrorKind, StoreError};

/// One hand-made entry: id, kind, base, decoded size and payload (a standard zstd frame).
struct Entry {
    id: ObjectId,
    kind: ObjectKind,
    base: StoredBase,
    size: u64,
    frame: Vec<u8>,
}

fn whole(data: &[u8]) -> Entry {
    Entry { id: muse_core::blob_id(data), kind: ObjectKind::Blob, base: StoredBase::None, size: data.len() as u64, frame: compress(data) }
}

fn delta(data: &[u8], base_data: &[u8], base: StoredBase) -> Entry {
    let frame = delta_frame(base_data, data);
    Entry { id: muse_core::blob_id(data), kind: ObjectKind::Blob, base, size: data.len() as u64, frame }
}

fn delta_frame(base: &[u8], target: &[u8]) -> Vec<u8> {
    let mut cctx = zstd::zstd_safe::CCtx::create();
    cctx.ref_prefix(base).unwrap();
    let mut payload = Vec::with_capacity(zstd::zstd_safe::compress_bound(target.len()));
    cctx.compress2(&mut payload, target).unwrap();
    payload
}

/// The bytes of a pack of `entries` (in order) and of its index.
fn pack_bytes(entries: &[Entry]) -> (Vec<u8>, Vec<u8>) {
    let mut pack = PACK_MAGIC.to_vec();
    pack.extend_from_slice(&PACK_VERSION.to_be_bytes());
    let mut index = Vec::new();
    for entry in entries {
        index.push((entry.id, pack.len() as u64));
        let frame = &entry.frame[4..];
        pack.extend(encode_entry_header(entry.kind, entry.base, entry.size, frame.len() as u64));
        pack.extend_from_slice(frame);
    }
    let checksum = ObjectId::sha256(&pack);
    pack.extend_from_slice(checksum.as_bytes());
    (pack.clone(), encode_index(&mut index, &checksum))
}

/// Writes a pack and its index into a new store under `dir`.
fn install(dir: &Path, pack: &[u8], index: &[u8]) {
    let packs = dir.join("packs");
    fs::create_dir_all(&packs).unwrap();
    fs::write(packs.join("p.pack"), pack).unwrap();
    fs::write(packs.join("p.idx"), index).unwrap();
}

/// Opens the store, reads `ids` and verifies the packs, returning every error. Whatever
/// happens, it must not panic.
fn read_all(dir: &Path, ids: &[ObjectId]) -> Vec<StoreError> {
    let store = match ObjectStore::open(dir) {
        Ok(store) => store,
        Err(e) => return vec![e],
    };
    let mut errors = Vec::new();
    for id in ids {
        errors.extend(store.read(id).err());
        errors.extend(store.read_raw(id).err());
    }
    match store.verify_packs() {
        Ok(problems) => errors.extend(problems.into_iter().map(|(path, reason)| StoreError::CorruptPack { path, reason })),
        Err(e) => errors.push(e),
    }
    errors
}

/// Damage must show as a corrupt store (a damaged index may also make an id unfindable).
fn assert_corrupt(dir: &Path, ids: &[ObjectId], what: &str) {
    let errors = read_all(dir, ids);
    assert!(errors.iter().any(|e| e.kind() == ErrorKind::Corrupt), "{what}: no corrupt-store error in {errors:?}");
    for e in &errors {
        assert!(matches!(e.kind(), ErrorKind::Corrupt | ErrorKind::NotFound), "{what}: {e}");
    }
}

const V1: &[u8] = b"hello\n";
const V2: &[u8] = b"hello, world\n";

/// The bytes an entry takes in a pack.
fn entry_len(e: &Entry) -> u64 {
    (encode_entry_header(e.kind, e.base, e.size, e.frame.len() as u64 - 4).len() + e.frame.len() - 4) as u64
}

fn sample() -> Vec<Entry> {
    let first = whole(V1);
    let distance = entry_len(&first);
    vec![first, delta(V2, V1, StoredBase::Distance(distance))]
}

#[test]
fn a_hand_made_pack_reads_back_and_the_writer_makes_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (pack, index) = pack_bytes(&sample());
    install(dir.path(), &pack, &index);
    assert!(read_all(dir.path(), &[muse_core::blob_id(V1), muse_core::blob_id(V2)]).is_empty());
    let store = ObjectStore::open(dir.path()).unwrap();
    assert_eq!(store.read(&muse_core::blob_id(V2)).unwrap().data, V2);
    assert_eq!(store.read_raw(&muse_core::blob_id(V2)).unwrap().encoding, Encoding::ZstdDelta(muse_core::blob_id(V1)));
    // The writer, given the same frames, writes the same pack and index.
    let other = tempfile::tempdir().unwrap();
    let fresh = ObjectStore::create(other.path()).unwrap();
    let mut writer = fresh.begin_write().unwrap();
    for entry in sample() {
        let encoding = match entry.base {
            StoredBase::None => Encoding::Zstd,
            _ => Encoding::ZstdDelta(muse_core::blob_id(V1)),
        };
        writer.add_raw(entry.kind, entry.id, encoding, entry.size, &entry.frame).unwrap();
    }
    let written = writer.finish().unwrap().unwrap();
    assert_eq!(fs::read(&written).unwrap(), pack);
    assert_eq!(fs::read(written.with_extension("idx")).unwrap(), index);
}

#[test]
fn every_truncation_and_every_flipped_byte_is_an_error_or_harmless_never_a_panic() {
    let (pack, index) = pack_bytes(&sample());
    let ids = [muse_core::blob_id(V1), muse_core::blob_id(V2)];
    let dir = tempfile::tempdir().unwrap();
    for len in 0..index.len() {
        install(dir.path(), &pack, &index[..len]);
        assert_corrupt(dir.path(), &ids, &format!("index truncated to {len} bytes"));
    }
    for len in 0..pack.len() {
        install(dir.path(), &pack[..len], &index);
        assert_corrupt(dir.path(), &ids, &format!("pack truncated to {len} bytes"));
    }
    for at in 0..pack.len() {
        let mut damaged = pack.clone();
        damaged[at] ^= 0x41;
        install(dir.path(), &damaged, &index);
        assert_corrupt(dir.path(), &ids, &format!("pack byte {at} flipped"));
    }
    // Every byte but most of the fanout table (checked as a whole).
    for at in (0..index.len()).filter(|at| !(12..12 + 1024).contains(at) || at % 61 == 0) {
        let mut damaged = index.clone();
        damaged[at] ^= 0x41;
        install(dir.path(), &pack, &damaged);
        assert_corrupt(dir.path(), &ids, &format!("index byte {at} flipped"));
    }
}

/// A pack whose index is re-made to match, so that only the entries are wrong.
fn install_entries(dir: &Path, entries: &[Entry]) -> Vec<ObjectId> {
    let (pack, index) = pack_bytes(entries);
    install(dir, &pack, &index);
    entries.iter().map(|e| e.id).collect()
}

#[test]
fn bad_delta_bases_are_corrupt_store_errors() {
    let dir = tempfile::tempdir().unwrap();
    let first_len = entry_len(&whole(V1));
    // Distance 0 (itself), past the pack header, into the middle of an entry, and to an
    // entry of a kind that cannot be a blob's base.
    for (distance, what) in [(0, "distance 0"), (first_len + 13, "before the first entry"), (first_len - 1, "inside an entry")] {
        let ids = install_entries(dir.path(), &[whole(V1), delta(V2, V1, StoredBase::Distance(distance))]);
        assert_corrupt(dir.path(), &ids[1..], what);
    }
    // A base named by id that no pack holds.
    let ids = install_entries(dir.path(), &[delta(V2, V1, StoredBase::Id(muse_core::blob_id(V1)))]);
    assert!(matches!(read_all(dir.path(), &ids)[..], [StoreError::ObjectNotFound(_), ..]));
    // A cycle through ids: A's base is B and B's base is A.
    let a = b"first\n".to_vec();
    let b = b"second\n".to_vec();
    let ids = install_entries(dir.path(), &[delta(&a, &b, StoredBase::Id(muse_core::blob_id(&b))), delta(&b, &a, StoredBase::Id(muse_core::blob_id(&a)))]);
    assert_corrupt(dir.path(), &ids, "a cycle of bases");
    // A commit's base must be a commit.
    let mut commit = whole(V1);
    commit.kind = ObjectKind::Commit;
    let ids = install_entries(dir.path(), &[whole(V2), commit]);
    assert_corrupt(dir.path(), &ids[1..], "bytes that are no commit");
}

#[test]
fn a_chain_longer_than_the_limit_is_a_corrupt_store_error() {
    let dir = tempfile::tempdir().unwrap();
    let versions: Vec<Vec<u8>> = (0..=super::MAX_DELTA_DEPTH + 1).map(|i| format!("version {i}\n").into_bytes()).collect();
    let mut entries = vec![whole(&versions[0])];
    for i in 1..versions.len() {
        let distance = entry_len(&entries[i - 1]);
        entries.push(delta(&versions[i], &versions[i - 1], StoredBase::Distance(distance)));
    }
    let ids = install_entries(dir.path(), &entries);
    let store = ObjectStore::open(dir.path()).unwrap();
    assert_eq!(store.read(&ids[super::MAX_DELTA_DEPTH]).unwrap().data, versions[super::MAX_DELTA_DEPTH]);
    let err = store.read(ids.last().unwrap()).unwrap_err();
    assert!(matches!(&err, StoreError::CorruptObject { reason, .. } if reason.contains("too long")), "{err}");
}

#[test]
fn large_offsets_go_through_the_large_offset_table() {
    let id = ObjectId::sha256(b"far");
    let index = encode_index(&mut [(id, 1 << 33), (ObjectId::sha256(b"near"), 12)], &ObjectId::sha256(b"pack"));
    // Two ids, one large offset: 8 bytes beyond the two 36-byte entries.
    assert_eq!(index.len(), 12 + 1024 + 2 * 36 + 8 + 64);
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), &pack_bytes(&[whole(V1)]).0, &index);
    assert_corrupt(dir.path(), &[id], "an offset past the pack");
}

/// The pack and index of the test vector in `docs/formats.md` §6.
fn documented_vector() -> (Vec<u8>, Vec<u8>) {
    let doc = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/formats.md")).expect("docs/formats.md");
    let start = doc.find("<!-- store-pack-vector:begin -->").expect("vector start");
    let end = doc.find("<!-- store-pack-vector:end -->").expect("vector end");
    let lines: Vec<&str> = doc[start..end].lines().filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_hexdigit())).collect();
    assert_eq!(lines.len(), 2, "two hex lines: the pack, then its index");
    (hex::decode(lines[0]).expect("pack hex"), hex::decode(lines[1]).expect("index hex"))
}

/// docs/formats.md §6: the documented pack reads back as documented, the writer given its
/// frames writes it byte for byte, and the header vectors are what the encoder writes.
#[test]
fn the_documented_vector_reads_back_and_is_what_the_writer_writes() {
    let (pack, index) = documented_vector();
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), &pack, &index);
    let store = ObjectStore::open(dir.path()).unwrap();
    assert!(store.verify_packs().unwrap().is_empty());
    let (v1, v2) = (muse_core::blob_id(V1), muse_core::blob_id(V2));
    assert_eq!(store.read(&v1).unwrap().data, V1);
    assert_eq!(store.read(&v2).unwrap().data, V2);
    let (first, second) = (store.read_raw(&v1).unwrap(), store.read_raw(&v2).unwrap());
    assert_eq!((first.encoding, second.encoding), (Encoding::Zstd, Encoding::ZstdDelta(v1)));
    let other = tempfile::tempdir().unwrap();
    let fresh = ObjectStore::create(other.path()).unwrap();
    let mut writer = fresh.begin_write().unwrap();
    writer.add_raw(ObjectKind::Blob, v1, first.encoding, first.size, &first.payload).unwrap();
    writer.add_raw(ObjectKind::Blob, v2, second.encoding, second.size, &second.payload).unwrap();
    let written = writer.finish().unwrap().unwrap();
    assert_eq!(hex::encode(fs::read(&written).unwrap()), hex::encode(&pack));
    assert_eq!(hex::encode(fs::read(written.with_extension("idx")).unwrap()), hex::encode(&index));
    let id = ObjectId::sha256(b"x");
    let mut tree_header = vec![0x12, 0x01, 0x02];
    tree_header.extend_from_slice(id.as_bytes());
    assert_eq!(encode_entry_header(ObjectKind::Tree, StoredBase::Id(id), 1, 2), tree_header);
    assert_eq!(encode_entry_header(ObjectKind::Commit, StoredBase::Distance(129), 1, 2), [0x23, 0x01, 0x02, 0x81, 0x01]);
}

/// Prints the vector for `docs/formats.md` (run with `--ignored --nocapture` to regenerate).
#[test]
#[ignore = "prints the vector for docs/formats.md §6, which the test above checks; run to regenerate it"]
fn print_the_vector() {
    let (pack, index) = pack_bytes(&sample());
    println!("{}\n{}", hex::encode(pack), hex::encode(index));
}
