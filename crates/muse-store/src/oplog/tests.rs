use super::*;
use muse_core::ObjectId;
use std::fs;

fn id(n: u8) -> CommitId {
    CommitId(ObjectId::sha256(&[n]))
}

fn op(command: &str, refs: Vec<RefChange>) -> Operation {
    Operation {
        id: 0,
        unix_ms: 1_700_000_000_000,
        command: command.into(),
        args: vec![command.into()],
        author: "A <a@example.com>".into(),
        agent_id: String::new(),
        workspace: None,
        refs,
        heads: Vec::new(),
        undoes: None,
        restores: None,
    }
}

fn change(name: &str, old: Option<u8>, new: Option<u8>) -> RefChange {
    RefChange { name: name.into(), old: old.map(id), new: new.map(id) }
}

#[test]
fn appends_are_numbered_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let log = OpLog::new(dir.path());
    assert!(log.read().unwrap().operations.is_empty());
    let first = log.append(op("commit", vec![change("refs/heads/main", None, Some(1))])).unwrap();
    let second = log.append(op("branch", vec![change("refs/heads/x", None, Some(1))])).unwrap();
    assert_eq!((first.id, second.id), (1, 2));
    let read = log.read().unwrap();
    assert_eq!(read.operations, vec![first, second]);
    assert!(read.torn.is_none());
}

#[test]
fn a_torn_tail_is_ignored_and_cut_by_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let log = OpLog::new(dir.path());
    log.append(op("commit", vec![change("refs/heads/main", None, Some(1))])).unwrap();
    log.append(op("commit", vec![change("refs/heads/main", Some(1), Some(2))])).unwrap();
    let full = fs::metadata(log.path()).unwrap().len();
    for cut in [1, 5, 30, 40] {
        let file = OpenOptions::new().write(true).open(log.path()).unwrap();
        file.set_len(full - cut).unwrap();
        let read = log.read().unwrap();
        assert_eq!(read.operations.len(), 1, "cut {cut}");
        let (at, bytes) = read.torn.unwrap();
        assert_eq!(at + bytes, full - cut);
        // Put the record back for the next cut.
        fs::remove_file(log.path()).unwrap();
        log.append(op("commit", vec![change("refs/heads/main", None, Some(1))])).unwrap();
        log.append(op("commit", vec![change("refs/heads/main", Some(1), Some(2))])).unwrap();
    }
    let file = OpenOptions::new().write(true).open(log.path()).unwrap();
    file.set_len(full - 3).unwrap();
    let third = log.append(op("tag", vec![change("refs/tags/v1", None, Some(2))])).unwrap();
    assert_eq!(third.id, 2, "numbered after the last readable record");
    let read = log.read().unwrap();
    assert!(read.torn.is_none());
    assert_eq!(read.operations.iter().map(|o| o.command.as_str()).collect::<Vec<_>>(), ["commit", "tag"]);
}

#[test]
fn garbage_and_flipped_bits_are_never_read_as_operations() {
    let dir = tempfile::tempdir().unwrap();
    let log = OpLog::new(dir.path());
    log.append(op("commit", vec![change("refs/heads/main", None, Some(1))])).unwrap();
    let bytes = fs::read(log.path()).unwrap();
    for i in MAGIC.len()..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x40;
        let read = parse_log(&damaged);
        assert!(read.operations.is_empty(), "byte {i}");
        assert!(read.torn.is_some());
    }
    let huge = [MAGIC, &u32::MAX.to_le_bytes()[..]].concat();
    assert!(parse_log(&huge).torn.is_some());
    assert!(parse_log(b"not a log").operations.is_empty());
}

#[test]
fn concurrent_appends_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let path = dir.path().to_path_buf();
            s.spawn(move || {
                let log = OpLog::new(&path);
                for i in 0..10u8 {
                    log.append(op(&format!("t{t}-{i}"), vec![])).unwrap();
                }
            });
        }
    });
    let read = OpLog::new(dir.path()).read().unwrap();
    assert_eq!(read.operations.len(), 40);
    let ids: Vec<u64> = read.operations.iter().map(|o| o.id).collect();
    assert_eq!(ids, (1..=40).collect::<Vec<_>>());
}

#[test]
fn undo_walks_back_past_undone_operations() {
    let mut ops: Vec<Operation> = (1..=3).map(|i| Operation { id: i, ..op("commit", vec![]) }).collect();
    assert_eq!(undo_target(&ops).map(|o| o.id), Some(3));
    ops.push(Operation { id: 4, undoes: Some(3), ..op("undo", vec![]) });
    assert_eq!(undo_target(&ops).map(|o| o.id), Some(2));
    ops.push(Operation { id: 5, undoes: Some(2), ..op("undo", vec![]) });
    assert_eq!(undo_target(&ops).map(|o| o.id), Some(1));
    ops.push(Operation { id: 6, ..op("commit", vec![]) });
    assert_eq!(undo_target(&ops).map(|o| o.id), Some(6));
    ops.push(Operation { id: 7, undoes: Some(6), ..op("undo", vec![]) });
    ops.push(Operation { id: 8, undoes: Some(1), ..op("undo", vec![]) });
    assert!(undo_target(&ops).is_none());
}

#[test]
fn restore_takes_the_value_before_the_earliest_later_move() {
    let ops = vec![
        Operation { id: 1, ..op("commit", vec![change("refs/heads/main", None, Some(1))]) },
        Operation { id: 2, ..op("commit", vec![change("refs/heads/main", Some(1), Some(2))]) },
        Operation { id: 3, ..op("branch", vec![change("refs/heads/x", None, Some(2))]) },
        Operation { id: 4, ..op("commit", vec![change("refs/heads/main", Some(2), Some(3))]) },
    ];
    let current = |name: &str| Ok(if name == "refs/heads/main" { Some(id(3)) } else { Some(id(2)) });
    let no_head = |_: &Option<String>| Ok(None);
    let (refs, heads) = restore_transition(&ops, 1, &current, &no_head).unwrap();
    assert_eq!(refs, vec![change("refs/heads/main", Some(3), Some(1)), change("refs/heads/x", Some(2), None)]);
    assert!(heads.is_empty());
    let (refs, _) = restore_transition(&ops, 4, &current, &no_head).unwrap();
    assert!(refs.is_empty());
    assert!(restore_transition(&ops, 9, &current, &no_head).is_err());
}

#[test]
fn retained_commits_name_every_old_and_new_value_within_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path(), "main").unwrap();
    let log = OpLog::of(&repo);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    log.append(Operation { unix_ms: now - 10 * 86_400_000, ..op("commit", vec![change("refs/heads/main", None, Some(1))]) }).unwrap();
    let mut recent = op("commit", vec![change("refs/heads/main", Some(2), Some(3))]);
    recent.unix_ms = now;
    recent.heads.push(HeadChange {
        workspace: None,
        path: "/x".into(),
        old: Some(Head::Detached(id(4))),
        new: Some(Head::Branch(RefName::branch("main").unwrap())),
        checkout: true,
    });
    log.append(recent).unwrap();
    let mut kept = retained_commits(&repo, Duration::from_secs(86_400)).unwrap();
    kept.sort();
    let mut want = vec![id(2), id(3), id(4)];
    want.sort();
    assert_eq!(kept, want);
    assert_eq!(retained_commits(&repo, Duration::from_secs(30 * 86_400)).unwrap().len(), 4);
}

#[test]
fn heads_round_trip_through_their_text() {
    for head in [Head::Branch(RefName::branch("feature/x").unwrap()), Head::Detached(id(7))] {
        assert_eq!(head_from_text(&head_to_text(&head)), Some(head));
    }
    assert_eq!(head_from_text("ref: nonsense"), None);
}

#[test]
fn the_documented_vector_encodes_and_decodes() {
    let doc = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/formats.md")).unwrap();
    let block = &doc[doc.find("<!-- oplog-vector:begin -->").unwrap()..doc.find("<!-- oplog-vector:end -->").unwrap()];
    let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).unwrap().trim().to_string();
    let payload = field("payload:");
    let record = hex::decode(field("record:")).unwrap();
    let op: Operation = serde_json::from_str(&payload).unwrap();
    assert_eq!(op.refs[0].new.map(|id| id.to_string()).as_deref(), Some("sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"));
    assert_eq!(encode_record(&op).unwrap(), record);
    let parsed = parse_log(&[MAGIC, &record[..]].concat());
    assert_eq!(parsed.operations, vec![op]);
    assert!(parsed.torn.is_none());
}
