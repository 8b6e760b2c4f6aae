//! Unit tests of the record encoding (spec §8.1, §12 case 14) and the
//! comparison rules; the whole run is tested in `tests/it/lifecycle*.rs`.

use super::record::{quote, unquote, InstalledRecord};

#[test]
fn quote_matches_the_spec_examples() {
    assert_eq!(quote("\nlead"), "%(__buildout_space_n__)slead");
    assert_eq!(quote(" sp "), "%(__buildout_space__)ssp%(__buildout_space__)s");
    assert_eq!(
        quote("x\n  y\n\nz"),
        "x\n\t%(__buildout_space__)s%(__buildout_space__)sy\n\t%(__buildout_space_n__)sz"
    );
    assert_eq!(quote("trail\n"), "trail%(__buildout_space_n__)s");
    assert_eq!(quote("a  b\tc"), "a  b\tc");
}

#[test]
fn values_round_trip_through_a_record() {
    let values = ["\nlead", " sp ", "x\n  y\n\nz", "", "   ", "multi\n\n\nblank", "# c\n;d", "\r\x0c\x0b z \x0b", "a = b"];
    let mut record = InstalledRecord::empty();
    let options = values.iter().enumerate().map(|(index, value)| (format!("k{index}"), (*value).to_owned())).collect();
    record.put("p", options);
    let text = record.render();
    let back = InstalledRecord::parse(&text, "test.cfg").expect("own output parses");
    assert_eq!(back, record, "{text}");
    assert_eq!(unquote("%(__buildout_space__)sa%(__buildout_space_v__)s"), " a\x0b");
}

#[test]
fn vacant_record_has_no_part_and_no_develop_egg() {
    let mut record = InstalledRecord::empty();
    assert!(record.is_vacant());
    record.put("p", Default::default());
    assert!(!record.is_vacant());
    record.remove("p");
    assert!(record.is_vacant());
}
