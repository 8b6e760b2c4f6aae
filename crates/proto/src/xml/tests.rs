//! Unit tests of the XML reader and the libxml2 escaping rules.

use super::{escape_attribute, escape_text, Event, Reader, XmlError};

/// Reads the whole document into a compact trace, or the first error.
fn check(source: &str) -> Result<Vec<String>, XmlError> {
    let mut reader = Reader::new(source);
    let mut trace = Vec::new();
    loop {
        let line = match reader.next_event()? {
            Event::Start(tag) => {
                let attributes: Vec<String> = tag
                    .attributes
                    .iter()
                    .map(|(key, value)| format!(" {key}={value:?}"))
                    .collect();
                format!("<{}{}>", tag.name, attributes.concat())
            }
            Event::End { name, .. } => format!("</{name}>"),
            Event::Text { text, .. } => format!("{text:?}"),
            Event::Other { .. } => "other".to_owned(),
            Event::Eof => return Ok(trace),
        };
        trace.push(line);
    }
}

fn error_at(source: &str) -> usize {
    match check(source) {
        Err(error) => error.position,
        Ok(trace) => panic!("{source:?} parsed: {trace:?}"),
    }
}

#[test]
fn reads_elements_attributes_and_text() {
    assert_eq!(
        check(r#"<a x="1" y='two'><b/>text</a>"#).unwrap(),
        [r#"<a x="1" y="two">"#, "<b>", "</b>", "\"text\"", "</a>"]
    );
}

#[test]
fn declaration_bom_comments_and_whitespace_around_the_root_are_skipped() {
    let source = "\u{feff}<?xml version='1.0' encoding='utf-8'?>\n<!-- c -->\n<a/>\n<?pi x?>\n";
    assert_eq!(check(source).unwrap(), ["<a>", "</a>"]);
    assert_eq!(
        check("<?xml version=\"1.0\" encoding=\"UTF-8\"?><a/>").unwrap(),
        ["<a>", "</a>"]
    );
}

#[test]
fn other_encodings_and_doctypes_are_refused() {
    assert_eq!(
        error_at("<?xml version='1.0' encoding='iso-8859-1'?><a/>"),
        0
    );
    assert_eq!(error_at("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>"), 0);
    assert_eq!(error_at("<a/><?xml version='1.0'?>"), 4);
}

#[test]
fn entities_and_character_references_are_decoded() {
    assert_eq!(
        check("<a>&lt;&gt;&amp;&quot;&apos;&#233;&#x65E5;</a>").unwrap()[1],
        "\"<>&\\\"'é日\""
    );
    assert_eq!(check("<a>&#1;&#0;</a>").unwrap()[1], "\"\\u{1}\\0\"");
    assert_eq!(error_at("<a>x&nbsp;</a>"), 4);
    assert_eq!(error_at("<a>&#xD800;</a>"), 3);
    assert_eq!(error_at("<a>&#99999999999;</a>"), 3);
    assert_eq!(error_at("<a>& b</a>"), 3);
}

#[test]
fn line_ends_fold_to_newline_but_references_survive() {
    assert_eq!(
        check("<a>1\r\n2\r3&#13;</a>").unwrap()[1],
        "\"1\\n2\\n3\\r\""
    );
    assert_eq!(
        check("<a k=\"x\r\ny\tz&#10;\"/>").unwrap()[0],
        "<a k=\"x y z\\n\">"
    );
}

#[test]
fn cdata_is_raw_text_and_comments_inside_are_reported() {
    assert_eq!(
        check("<a><![CDATA[<&amp;>]]><!--c--><?p?></a>").unwrap(),
        ["<a>", "\"<&amp;>\"", "other", "other", "</a>"]
    );
}

#[test]
fn namespace_prefixes_are_stripped_and_declarations_dropped() {
    assert_eq!(
        check(r#"<m:a xmlns:m="urn:x" xmlns="urn:y" m:k="v"></m:a>"#).unwrap(),
        [r#"<a k="v">"#, "</a>"]
    );
}

#[test]
fn malformed_documents_report_where() {
    assert_eq!(error_at(""), 0);
    assert_eq!(error_at("   "), 3);
    assert_eq!(error_at("text"), 0);
    assert_eq!(error_at("<a>"), 3);
    assert_eq!(error_at("<a></b>"), 3);
    assert_eq!(error_at("<a/><b/>"), 4);
    assert_eq!(error_at("<a/>text"), 4);
    assert_eq!(error_at("</a>"), 0);
    assert_eq!(error_at("<a x='1' x='2'/>"), 9);
    assert_eq!(error_at("<a x='1'y='2'/>"), 8);
    assert_eq!(error_at("<a x=1/>"), 5);
    assert_eq!(error_at("<a x='<'/>"), 6);
    assert_eq!(error_at("<a>\u{1}</a>"), 3);
    assert_eq!(error_at("<a><!-- never closed</a>"), 3);
    assert_eq!(error_at("<a><![CDATA[never closed</a>"), 3);
    assert_eq!(error_at("<1a/>"), 1);
}

#[test]
fn text_escaping_follows_libxml2() {
    let mut ascii = String::new();
    escape_text(
        &mut ascii,
        "a&<>\"'\t\n\r\u{7f}\u{85}é😀\u{1}\u{fffe}",
        true,
    );
    assert_eq!(
        ascii,
        "a&amp;&lt;&gt;\"'\t\n&#13;\u{7f}&#133;&#233;&#128512;&#1;&#65534;"
    );
    let mut utf8 = String::new();
    escape_text(&mut utf8, "é\r\u{0}", false);
    assert_eq!(utf8, "é&#13;&#0;");
}

#[test]
fn attribute_escaping_follows_libxml2() {
    let mut out = String::new();
    escape_attribute(&mut out, "a\"b'<&>\t\n\ré");
    assert_eq!(out, "a&quot;b'&lt;&amp;&gt;&#9;&#10;&#13;é");
}
