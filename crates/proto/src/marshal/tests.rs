//! Unit tests of the marshal codec: the spec's examples verbatim, each
//! encoding rule and decoder quirk. Golden files from the real library are
//! checked by `tests/it/golden.rs`; properties live in `proptests.rs`.

use super::{decode, encode, Class, DecodeError, Value, MAX_DEPTH};

fn s(text: &str) -> Value {
    Value::str(text)
}

/// Encodes `value`, checks the bytes, and checks they decode back to it.
fn check(value: Value, expected: &str) {
    let encoded = encode(&value);
    assert_eq!(encoded, expected);
    let decoded = decode(encoded.as_bytes()).unwrap_or_else(|error| panic!("{expected}: {error}"));
    assert!(decoded.equivalent(&value), "{decoded:?} != {value:?}");
}

fn decoded(xml: &str) -> Value {
    decode(xml.as_bytes()).unwrap_or_else(|error| panic!("{xml}: {error}"))
}

fn decode_error(xml: &[u8]) -> DecodeError {
    match decode(xml) {
        Err(error) => error,
        Ok(value) => panic!("{} decoded to {value:?}", String::from_utf8_lossy(xml)),
    }
}

#[test]
fn spec_examples() {
    check(
        Value::Dict(vec![]),
        r#"<marshal><dictionary id="i2"/></marshal>"#,
    );
    check(s("started"), "<marshal><string>started</string></marshal>");
    check(Value::None, "<marshal><none/></marshal>");
    check(Value::Bool(false), "<marshal><bool>0</bool></marshal>");
    check(
        Value::dict_from([
            ("a", Value::Int(1)),
            ("b", Value::List(vec![Value::None, Value::Bool(true)])),
            ("c", Value::Tuple(vec![Value::Int(1)])),
        ]),
        r#"<marshal><dictionary id="i2"><string>a</string><int>1</int><string>b</string><list id="i3"><none/><bool>1</bool></list><string>c</string><tuple><int>1</int></tuple></dictionary></marshal>"#,
    );
    check(
        Value::object(
            Class::SoftwareRelease,
            vec![s("http://sr/"), s("COMP-1")],
            vec![
                (s("_computer_guid"), s("COMP-1")),
                (s("_requested_state"), s("available")),
                (s("_software_instance_list"), Value::List(vec![])),
                (s("_software_release"), s("http://sr/")),
            ],
        ),
        r#"<marshal><object id="i2" module="slapos.slap.slap" class="SoftwareRelease"><tuple><string>http://sr/</string><string>COMP-1</string></tuple><dictionary id="i3"><string>_computer_guid</string><string>COMP-1</string><string>_requested_state</string><string>available</string><string>_software_instance_list</string><list id="i4"/><string>_software_release</string><string>http://sr/</string></dictionary></object></marshal>"#,
    );
}

#[test]
fn strings_are_escaped_twice() {
    check(
        s("x&<y>"),
        "<marshal><string>x&amp;amp;&amp;lt;y&amp;gt;</string></marshal>",
    );
    check(s("\"'"), "<marshal><string>\"'</string></marshal>");
    check(
        s("&amp;"),
        "<marshal><string>&amp;amp;amp;</string></marshal>",
    );
    assert_eq!(
        decoded("<marshal><string>x&amp;amp;&amp;lt;y&amp;gt;</string></marshal>"),
        s("x&<y>")
    );
    // A single-escaped producer still reads right.
    assert_eq!(
        decoded("<marshal><string>a&lt;b&gt;&amp;c</string></marshal>"),
        s("a<b>&c")
    );
}

#[test]
fn carriage_returns_and_non_ascii_become_references() {
    check(
        s("a\r\nb\t"),
        "<marshal><string>a&#13;\nb\t</string></marshal>",
    );
    check(
        s("é日本😀"),
        "<marshal><string>&#233;&#26085;&#26412;&#128512;</string></marshal>",
    );
    check(
        s("\u{7f}\u{85}\u{a0}"),
        "<marshal><string>\u{7f}&#133;&#160;</string></marshal>",
    );
    check(s(""), "<marshal><string></string></marshal>");
    check(s("  "), "<marshal><string>  </string></marshal>");
    // Python refuses these; we write references and read them back.
    check(
        s("\u{0}\u{1}\u{fffe}"),
        "<marshal><string>&#0;&#1;&#65534;</string></marshal>",
    );
    // A raw carriage return folds into a newline, as in any XML parser.
    assert_eq!(
        decoded("<marshal><string>a\r\nb\rc</string></marshal>"),
        s("a\nb\nc")
    );
}

#[test]
fn ints_switch_to_long_at_the_float_1e24() {
    check(Value::Int(42), "<marshal><int>42</int></marshal>");
    check(Value::Int(-7), "<marshal><int>-7</int></marshal>");
    let below = 999_999_999_999_999_983_222_783_i128;
    check(
        Value::Int(below),
        "<marshal><int>999999999999999983222783</int></marshal>",
    );
    check(
        Value::Int(below + 1),
        "<marshal><long>999999999999999983222784</long></marshal>",
    );
    check(
        Value::Int(-below - 1),
        "<marshal><long>-999999999999999983222784</long></marshal>",
    );
    check(
        Value::Int(10_i128.pow(24) - 1),
        "<marshal><long>999999999999999999999999</long></marshal>",
    );
    check(
        Value::Int(i128::MAX),
        "<marshal><long>170141183460469231731687303715884105727</long></marshal>",
    );
    check(
        Value::BigInt("-1".to_owned() + &"0".repeat(50)),
        &format!("<marshal><long>-1{}</long></marshal>", "0".repeat(50)),
    );
    // A BigInt that fits is written as the int it is.
    assert_eq!(
        encode(&Value::BigInt("0005".to_owned())),
        "<marshal><int>5</int></marshal>"
    );
}

#[test]
fn floats_are_python_reprs() {
    for (number, text) in [
        (1.5, "1.5"),
        (1e100, "1e+100"),
        (1e-5, "1e-05"),
        (1.5e-5, "1.5e-05"),
        (0.1, "0.1"),
        (100.0, "100.0"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (-0.0, "-0.0"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
        (f64::NAN, "nan"),
    ] {
        check(
            Value::Float(number),
            &format!("<marshal><float>{text}</float></marshal>"),
        );
    }
}

#[test]
fn ids_are_assigned_in_pre_order_and_tuples_have_none() {
    let value = Value::Tuple(vec![
        Value::List(vec![Value::Dict(vec![(s("k"), Value::Set(vec![]))])]),
        Value::object(
            Class::SoftwareInstance,
            vec![],
            vec![(s("l"), Value::List(vec![]))],
        ),
        Value::List(vec![]),
    ]);
    check(
        value,
        r#"<marshal><tuple><list id="i2"><dictionary id="i3"><string>k</string><set id="i4"/></dictionary></list><object id="i5" module="slapos.slap.slap" class="SoftwareInstance"><tuple/><dictionary id="i6"><string>l</string><list id="i7"/></dictionary></object><list id="i8"/></tuple></marshal>"#,
    );
}

fn key_order(keys: Vec<Value>) -> Vec<Value> {
    let dict = Value::Dict(keys.into_iter().map(|key| (key, Value::None)).collect());
    match decoded(&encode(&dict)) {
        Value::Dict(items) => items.into_iter().map(|(key, _)| key).collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn dict_keys_sort_as_python_sorts_them() {
    assert_eq!(
        key_order(vec![s("é"), s("e"), s("Z"), s("日"), s("😀"), s("")]),
        [s(""), s("Z"), s("e"), s("é"), s("日"), s("😀")]
    );
    assert_eq!(
        key_order(vec![
            Value::Int(3),
            Value::Float(1.5),
            Value::Bool(false),
            Value::Int(-1)
        ]),
        [
            Value::Int(-1),
            Value::Bool(false),
            Value::Float(1.5),
            Value::Int(3)
        ]
    );
    // Mixed types: cmp, else cmp of reprs, through CPython's insertion sort.
    assert_eq!(
        key_order(vec![Value::Int(1), s("b")]),
        [s("b"), Value::Int(1)]
    );
    assert_eq!(
        key_order(vec![
            Value::Tuple(vec![Value::Int(1), s("a")]),
            Value::Tuple(vec![Value::Int(1), Value::Int(2)]),
            Value::None,
            s("x"),
            Value::Float(2.5),
            Value::Bool(true),
            Value::Int(-3),
        ]),
        [
            s("x"),
            Value::Tuple(vec![Value::Int(1), s("a")]),
            Value::Tuple(vec![Value::Int(1), Value::Int(2)]),
            Value::Int(-3),
            Value::Float(2.5),
            Value::None,
            Value::Bool(true),
        ]
    );
    // Exact comparison of big ints and floats.
    assert_eq!(
        key_order(vec![
            Value::Float(1e300),
            Value::BigInt("1".to_owned() + &"0".repeat(299)),
            Value::Int(i128::MAX)
        ]),
        [
            Value::Int(i128::MAX),
            Value::BigInt("1".to_owned() + &"0".repeat(299)),
            Value::Float(1e300)
        ]
    );
}

#[test]
fn large_mixed_dicts_sort_deterministically() {
    let mut keys: Vec<Value> = (0..40).map(Value::from).collect();
    keys.extend((0..40).map(|n| s(&format!("k{n}"))));
    keys.push(Value::None);
    keys.push(Value::Float(f64::NAN));
    keys.push(Value::Tuple(vec![]));
    let first = encode(&Value::Dict(
        keys.iter().cloned().map(|key| (key, Value::None)).collect(),
    ));
    keys.reverse();
    let second = encode(&Value::Dict(
        keys.into_iter().map(|key| (key, Value::None)).collect(),
    ));
    assert_eq!(first, second);
    assert!(
        first.starts_with(r#"<marshal><dictionary id="i2"><string>k0</string>"#),
        "{first}"
    );
}

#[test]
fn decoder_ignores_whitespace_between_elements_and_around_numbers() {
    let xml = "<?xml version='1.0'?>\n<marshal>\n <list id=\"i2\">\n  <int> 5 </int>\n  <string> a </string>\n  <float>\t1.5\n</float>\n </list>\n</marshal>\n";
    assert_eq!(
        decoded(xml),
        Value::List(vec![Value::Int(5), s(" a "), Value::Float(1.5)])
    );
}

#[test]
fn decoder_reads_python_spellings() {
    assert_eq!(
        decoded("<marshal><unicode>legacy</unicode></marshal>"),
        s("legacy")
    );
    assert_eq!(decoded("<marshal><long>5</long></marshal>"), Value::Int(5));
    assert_eq!(
        decoded("<marshal><int>+1_000</int></marshal>"),
        Value::Int(1000)
    );
    assert_eq!(
        decoded("<marshal><bool>2</bool></marshal>"),
        Value::Bool(true)
    );
    assert_eq!(
        decoded("<marshal><bool> 0 </bool></marshal>"),
        Value::Bool(false)
    );
    assert_eq!(
        decoded("<marshal><none>ignored</none></marshal>"),
        Value::None
    );
    assert_eq!(
        decoded("<marshal><float>-Infinity</float></marshal>"),
        Value::Float(f64::NEG_INFINITY)
    );
    assert_eq!(
        decoded("<marshal><float>3</float></marshal>"),
        Value::Float(3.0)
    );
    assert_eq!(
        decoded("<marshal><float>1_0.5</float></marshal>"),
        Value::Float(10.5)
    );
    assert_eq!(
        decoded("<marshal><string>a<!-- c -->b</string></marshal>"),
        s("ab")
    );
    assert_eq!(
        decoded("<m:marshal xmlns:m=\"urn:m\"><m:string>ns</m:string></m:marshal>"),
        s("ns")
    );
    let huge = "1".to_owned() + &"0".repeat(40);
    assert_eq!(
        decoded(&format!("<marshal><int>{huge}</int></marshal>")),
        Value::BigInt(huge.clone())
    );
    assert_eq!(
        decoded(&format!("<marshal><long>-{huge}</long></marshal>")),
        Value::BigInt(format!("-{huge}"))
    );
}

#[test]
fn decoder_refuses_bad_scalars() {
    for xml in [
        "<int>1.5</int>",
        "<int></int>",
        "<int>1__0</int>",
        "<bool>yes</bool>",
        "<float>1,5</float>",
        "<float>_1</float>",
    ] {
        let error = decode_error(format!("<marshal>{xml}</marshal>").as_bytes());
        assert!(
            matches!(error, DecodeError::InvalidScalar { position: 9, .. }),
            "{xml}: {error}"
        );
    }
    let digits = "9".repeat(4301);
    let error = decode_error(format!("<marshal><int>{digits}</int></marshal>").as_bytes());
    assert_eq!(
        error.to_string(),
        "byte 9: invalid <int> text \"more than 4300 digits\""
    );
}

#[test]
fn repeated_keys_keep_the_first_position_and_last_value() {
    let xml = r#"<marshal><dictionary id="i2"><int>1</int><string>int</string><string>b</string><none/><bool>1</bool><string>bool</string><float>1.0</float><string>float</string></dictionary></marshal>"#;
    assert_eq!(
        decoded(xml),
        Value::Dict(vec![(Value::Int(1), s("float")), (s("b"), Value::None)])
    );
    let xml = r#"<marshal><set id="i2"><int>1</int><float>1.0</float><float>nan</float><float>nan</float></set></marshal>"#;
    match decoded(xml) {
        Value::Set(items) => assert_eq!(items.len(), 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unhashable_keys_are_refused() {
    let error = decode_error(
        br#"<marshal><dictionary id="i2"><list id="i3"/><int>1</int></dictionary></marshal>"#,
    );
    assert_eq!(
        error.to_string(),
        "byte 9: unhashable type list used as a dictionary key or set item"
    );
    let error = decode_error(
        br#"<marshal><set id="i2"><tuple><dictionary id="i3"/></tuple></set></marshal>"#,
    );
    assert!(matches!(error, DecodeError::Unhashable { .. }), "{error}");
}

#[test]
fn references_resolve_to_copies() {
    let xml = r#"<marshal><list id="i2"><list id="i3"><int>1</int></list><reference id="i3"/><dictionary id="i4"/><tuple><reference id="i4"/></tuple></list></marshal>"#;
    let one = Value::List(vec![Value::Int(1)]);
    assert_eq!(
        decoded(xml),
        Value::List(vec![
            one.clone(),
            one,
            Value::Dict(vec![]),
            Value::Tuple(vec![Value::Dict(vec![])])
        ])
    );
    let xml = r#"<marshal><list id="i2"><object id="i3" module="slapos.slap.slap" class="SoftwareInstance"><tuple/><dictionary id="i4"/></object><reference id="i3"/></list></marshal>"#;
    match decoded(xml) {
        Value::List(items) => assert_eq!(items[0], items[1]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_references_are_refused() {
    let error = decode_error(br#"<marshal><list id="i2"><reference id="i2"/></list></marshal>"#);
    assert_eq!(
        error.to_string(),
        "byte 23: reference to \"i2\", an element still open (a cycle)"
    );
    let error = decode_error(br#"<marshal><reference id="i9"/></marshal>"#);
    assert_eq!(error.to_string(), "byte 9: reference to unknown id \"i9\"");
    let error = decode_error(
        br#"<marshal><list id="i2"><reference id="i9"><int>1</int></reference></list></marshal>"#,
    );
    assert!(
        matches!(error, DecodeError::UnknownReference { .. }),
        "{error}"
    );
}

#[test]
fn reference_bombs_hit_the_copy_budget() {
    let mut xml =
        String::from(r#"<marshal><tuple><list id="i0"><string>xxxxxxxxxxxxxxxx</string></list>"#);
    for level in 1..40 {
        xml.push_str(&format!(r#"<list id="i{level}">"#));
        for _ in 0..4 {
            xml.push_str(&format!(r#"<reference id="i{}"/>"#, level - 1));
        }
        xml.push_str("</list>");
    }
    xml.push_str("</tuple></marshal>");
    let error = decode_error(xml.as_bytes());
    assert!(matches!(error, DecodeError::TooLarge { .. }), "{error}");
}

#[test]
fn only_the_four_slapos_classes_are_built() {
    let error = decode_error(br#"<marshal><object id="i2" module="os" class="system"><tuple><string>true</string></tuple><dictionary id="i3"/></object></marshal>"#);
    assert_eq!(
        error.to_string(),
        "byte 9: refusing to unmarshall os.system"
    );
    let error = decode_error(br#"<marshal><object id="i2" module="slapos.slap.slap" class="slap"><tuple/><dictionary id="i3"/></object></marshal>"#);
    assert_eq!(
        error.to_string(),
        "byte 9: refusing to unmarshall slapos.slap.slap.slap"
    );
}

fn object_xml(class: &str, initargs: &str) -> String {
    format!(
        r#"<marshal><object id="i2" module="slapos.slap.slap" class="{class}"><tuple>{initargs}</tuple><dictionary id="i3"/></object></marshal>"#
    )
}

#[test]
fn objects_need_arguments_their_constructor_takes() {
    for (class, initargs) in [
        ("Computer", "<string>C</string>"),
        (
            "ComputerPartition",
            "<string>C</string><string>P</string><none/>",
        ),
        ("ComputerPartition", "<string>C</string><string>P</string>"),
        ("ComputerPartition", "<none/><none/><dictionary id=\"i4\"/>"),
        (
            "ComputerPartition",
            "<string></string><string></string><none/>",
        ),
        ("SoftwareRelease", "<string>u</string><string>C</string>"),
        ("SoftwareRelease", ""),
        ("SoftwareInstance", ""),
    ] {
        decoded(&object_xml(class, initargs));
    }
    for (class, initargs, reason) in [
        (
            "Computer",
            "",
            "takes 1 to 3 positional arguments but 0 were given",
        ),
        (
            "SoftwareInstance",
            "<int>1</int>",
            "takes 0 to 0 positional arguments but 1 were given",
        ),
        (
            "ComputerPartition",
            "<string>C</string><none/><none/>",
            "computer_id and partition_id or request_dict are required",
        ),
        (
            "ComputerPartition",
            "<string>C</string><string>P</string><dictionary id=\"i4\"/>",
            "request_dict conflicts with computer_id and partition_id",
        ),
    ] {
        let error = decode_error(object_xml(class, initargs).as_bytes());
        assert_eq!(
            error.to_string(),
            format!("byte 9: cannot build {class}: {reason}")
        );
    }
    let error = decode_error(br#"<marshal><object module="slapos.slap.slap" class="SoftwareInstance"><tuple/><dictionary><int>1</int><none/></dictionary></object></marshal>"#);
    assert_eq!(
        error.to_string(),
        "byte 9: cannot build SoftwareInstance: attribute name must be string"
    );
    let error = decode_error(br#"<marshal><object module="slapos.slap.slap" class="SoftwareInstance"><tuple/></object></marshal>"#);
    assert!(matches!(error, DecodeError::BadObject { .. }), "{error}");
    let error = decode_error(br#"<marshal><object module="slapos.slap.slap" class="SoftwareInstance"><tuple/><dictionary/><none/></object></marshal>"#);
    assert!(matches!(error, DecodeError::Unexpected { .. }), "{error}");
}

#[test]
fn nesting_is_bounded() {
    let depth_ok = MAX_DEPTH;
    let xml = format!(
        "<marshal>{}{}</marshal>",
        "<tuple>".repeat(depth_ok),
        "</tuple>".repeat(depth_ok)
    );
    decoded(&xml);
    let xml = format!(
        "<marshal>{}{}</marshal>",
        "<tuple>".repeat(depth_ok + 1),
        "</tuple>".repeat(depth_ok + 1)
    );
    let error = decode_error(xml.as_bytes());
    assert_eq!(
        error,
        DecodeError::TooDeep {
            position: 9 + 7 * MAX_DEPTH,
            limit: MAX_DEPTH
        }
    );
}

#[test]
fn malformed_documents_name_position_and_expectation() {
    assert_eq!(
        decode_error(b"<marshal><string>\xff</string></marshal>"),
        DecodeError::NotUtf8 { position: 17 }
    );
    assert_eq!(
        decode_error(b"").to_string(),
        "byte 0: malformed xml, expected a root element"
    );
    assert_eq!(decode_error(b"<marshal></marshal>").to_string(), "byte 9: unexpected </marshal>, expected a value element (none, bool, int, long, float, string, tuple, list, dictionary, set, object, reference)");
    assert_eq!(
        decode_error(b"<marshal><none/><none/></marshal>").to_string(),
        "byte 16: unexpected a second value, expected </marshal>"
    );
    assert_eq!(
        decode_error(b"<int>5</int>").to_string(),
        "byte 0: unexpected element <int>, expected <marshal>"
    );
    assert_eq!(
        decode_error(b"<marshal><frobnicate/></marshal>").position(),
        9
    );
    assert_eq!(
        decode_error(b"<marshal><complex>1 2</complex></marshal>").position(),
        9
    );
    assert_eq!(
        decode_error(b"<marshal><list id=\"i2\"><int>1</int></marshal>").to_string(),
        "byte 35: malformed xml, expected `</list>`"
    );
    assert_eq!(
        decode_error(b"<marshal><list>junk</list></marshal>").to_string(),
        "byte 15: unexpected text, expected an element"
    );
    assert_eq!(
        decode_error(b"<marshal><int><none/></int></marshal>").to_string(),
        "byte 14: unexpected element <none>, expected text"
    );
    assert_eq!(
        decode_error(b"<marshal><marshal><none/></marshal></marshal>").position(),
        9
    );
    assert_eq!(decode_error(b"<marshal><dictionary><none/></dictionary></marshal>").to_string(), "byte 9: unexpected a key without a value, expected an even number of children in <dictionary>");
    assert_eq!(
        decode_error(b"<marshal><string>&nbsp;</string></marshal>").position(),
        17
    );
}

#[test]
fn value_accessors() {
    let value = Value::dict_from([
        ("a", Value::str("x")),
        ("b", Value::Bool(true)),
        ("c", Value::Tuple(vec![Value::Int(1)])),
    ]);
    assert_eq!(value.dict_get("a").and_then(Value::as_str), Some("x"));
    assert_eq!(value.dict_get("b").and_then(Value::as_bool), Some(true));
    assert_eq!(
        value
            .dict_get("c")
            .and_then(Value::as_seq)
            .map(<[Value]>::len),
        Some(1)
    );
    assert_eq!(value.dict_get("z"), None);
    assert_eq!(value.as_dict().map(<[(Value, Value)]>::len), Some(3));
    assert_eq!(Value::Int(1).dict_get("a"), None);
    assert_eq!(Value::List(vec![]).as_seq(), Some(&[][..]));
    assert_eq!(Value::from(Some("x")), s("x"));
    assert_eq!(Value::from(None::<&str>), Value::None);
    let object = Value::object(
        Class::Computer,
        vec![s("C")],
        vec![(s("_computer_id"), s("C"))],
    );
    assert_eq!(
        object.as_object().and_then(|o| o.attribute("_computer_id")),
        Some(&s("C"))
    );
    assert_eq!(object.type_name(), "Computer");
    assert_eq!(
        Class::from_name("ComputerPartition"),
        Some(Class::ComputerPartition)
    );
    assert_eq!(Class::from_name("slap"), None);
    assert!(Value::Float(f64::NAN).equivalent(&Value::Float(-f64::NAN)));
    assert!(!Value::Float(0.0).equivalent(&Value::Float(-0.0)));
}
