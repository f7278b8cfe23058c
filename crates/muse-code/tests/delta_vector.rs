//! The structured delta example of docs/formats.md §12.1 is what this version writes.

use muse_code::{diff_files, extract, FileSides, Language, StructuredDelta};
use muse_core::SemVerBump;

#[test]
fn the_documented_structured_delta_is_written_byte_for_byte() {
    let old = "def greet(name, punctuation='!'):\n    return 'hi ' + name + punctuation\n";
    let new = "def greet(name):\n    return 'hi ' + name + punctuation\n";
    let sides = FileSides {
        path: "lib/api.py".into(),
        language: Some(Language::Python),
        old: Some(extract(Language::Python, old.as_bytes())),
        new: Some(extract(Language::Python, new.as_bytes())),
    };
    let delta = StructuredDelta::new(&diff_files(&[sides]), Some(SemVerBump::Minor));
    let json = delta.to_json();
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/formats.md")).unwrap();
    let section = &doc[doc.find("### 12.1").expect("§12.1 in formats.md")..];
    let example = section.lines().skip_while(|l| *l != "```json").nth(1).expect("a JSON example");
    assert_eq!(json, example);
    assert_eq!(StructuredDelta::parse(example), Some(delta));
    assert_eq!(StructuredDelta::parse(&example.replace("muse-semver/1", "muse-semver/2")), None, "another format is not read");
}
