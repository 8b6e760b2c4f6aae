//! `.installed.cfg` encoding against zc.buildout 6.0.1's own files: each
//! case of `test_data/installed_cfg/cases.json` rendered by the engine must
//! equal, byte for byte, the `<case>.cfg` that `generate.py` made
//! zc.buildout write, and reading that file must give the case back (or its
//! `read_back`, where buildout itself loses tabs).

use std::collections::BTreeMap;
use std::path::PathBuf;

use profile::lifecycle::InstalledRecord;

fn data_dir() -> PathBuf {
    crate::crate_dir().join("test_data/installed_cfg")
}

type Sections = BTreeMap<String, BTreeMap<String, String>>;

fn sections(value: &serde_json::Value) -> Sections {
    serde_json::from_value(value.clone()).expect("sections are string maps")
}

fn record(case: &serde_json::Value, sections_key: &str) -> InstalledRecord {
    let buildout: BTreeMap<String, String> = serde_json::from_value(case["buildout"].clone()).expect("buildout map");
    let parts: Vec<String> = serde_json::from_value(case["parts"].clone()).expect("parts list");
    let mut record = InstalledRecord { buildout, ..InstalledRecord::default() };
    let sections = sections(&case[sections_key]);
    for part in parts {
        record.put(&part, sections[&part].clone());
    }
    record
}

#[test]
fn records_are_written_and_read_as_zc_buildout_does() {
    let cases: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(data_dir().join("cases.json")).expect("cases.json")).expect("cases parse");
    assert!(cases.len() >= 5);
    for (name, case) in &cases {
        let golden_path = data_dir().join(format!("{name}.cfg"));
        let golden = std::fs::read_to_string(&golden_path).expect("golden written by generate.py");
        assert_eq!(record(case, "sections").render(), golden, "case {name}: bytes differ from zc.buildout's");
        let expected = if case.get("read_back").is_some() { record(case, "read_back") } else { record(case, "sections") };
        let read = InstalledRecord::parse(&golden, &golden_path.to_string_lossy()).expect("golden parses");
        assert_eq!(read, expected, "case {name}: read back differs");
    }
}

#[test]
fn appended_buildout_sections_read_as_one_last_value_winning() {
    // zc.buildout 6.0.1 appends `[buildout] parts = ...` after each update
    // and uninstall instead of rewriting the file.
    let text = "[buildout]\ninstalled_develop_eggs = \nparts = a b\n\n[a]\n__buildout_installed__ = \nrecipe = r\n\n[b]\n__buildout_installed__ = \nrecipe = r\n\n[buildout]\nparts = b\n";
    let record = InstalledRecord::parse(text, "x.cfg").expect("parses");
    assert_eq!(record.parts, ["b"]);
    assert!(!record.sections.contains_key("a"));
}
