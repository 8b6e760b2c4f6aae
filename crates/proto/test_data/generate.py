#!/usr/bin/env python3
"""Record golden data for the `proto` crate from the real Python libraries.

The Rust tests in `crates/proto/tests/it/golden.rs` walk what this script
writes and check our codecs byte for byte against it. Regenerate with the
venv that holds slapos.core 1.26.1 (which pulls xml_marshaller 1.0.3 and
lxml):

    /var/cache/slapos-rs/venv/bin/python crates/proto/test_data/generate.py

(or, from scratch: `python3 -m venv /tmp/proto-venv &&
/tmp/proto-venv/bin/pip install xml_marshaller lxml slapos.core==1.26.1`).
The output is deterministic (fixed seeds, sorted names); commit it together
with any change to this script.

What it writes, relative to this file:

* `marshal/NAME.xml`: `xml_marshaller.dumps(value)`; `marshal/NAME.json`: the
  value described with type tags (see `describe`), plus `"expanded"` naming
  `NAME.expanded.xml` when the value shares sub-objects (the real marshaller
  then emits `<reference>`, which our encoder never does: the expanded file
  is the output for an unshared copy).
* `marshal/decode_NAME.xml` + `.json`: hand-written inputs and what
  `slapos.util.loads` makes of them (`"value"`) or that it refuses
  (`"error"`).
* `instance_xml/NAME.xml` + `.json`: `slapos.util.dict2xml(input)` and
  `xml2dict` of it; `instance_xml/decode_NAME.xml` + `.json`: hand-written
  inputs for `xml2dict`.
* `python_repr/values.json` (`str()` and `repr()` of values) and
  `python_repr/floats.json` (`repr()` of random doubles).
* `../src/python_repr/unprintable.rs`: the code point ranges this Python's
  `str.isprintable()` rejects, which `repr()` escapes.

Type tags of `describe`: ["none"], ["bool", b], ["int", "digits"],
["float", "repr"], ["str", s], ["tuple", [..]], ["list", [..]],
["set", [..]], ["dict", [[k, v], ..]] in insertion order (the Rust side
sorts them as the marshaller does), ["object", class, [initargs..],
[[attribute, value], ..]].
"""

import json
import os
import random
import struct
import sys
import unicodedata

from xml_marshaller import xml_marshaller
from slapos.slap.slap import (Computer, ComputerPartition, SoftwareInstance,
                              SoftwareRelease)
from slapos.util import dict2xml, loads as safe_loads, xml2dict

HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = {c.__name__: c for c in (Computer, ComputerPartition,
                                   SoftwareInstance, SoftwareRelease)}


def describe(value):
  """Type-tagged JSON description of a Python value."""
  if value is None:
    return ["none"]
  if isinstance(value, bool):
    return ["bool", value]
  if isinstance(value, int):
    return ["int", str(value)]
  if isinstance(value, float):
    return ["float", repr(value)]
  if isinstance(value, bytes):
    return ["str", value.decode("utf-8")]
  if isinstance(value, str):
    return ["str", value]
  if isinstance(value, tuple):
    return ["tuple", [describe(v) for v in value]]
  if isinstance(value, list):
    return ["list", [describe(v) for v in value]]
  if isinstance(value, set):
    return ["set", [describe(v) for v in value]]
  if isinstance(value, dict):
    return ["dict", [[describe(k), describe(v)] for k, v in value.items()]]
  cls = type(value)
  assert cls.__module__ == "slapos.slap.slap", cls
  initargs = value.__getinitargs__() if hasattr(value, "__getinitargs__") else ()
  return ["object", cls.__name__, [describe(v) for v in initargs],
          [[k, describe(v)] for k, v in value.__dict__.items()]]


def build(desc):
  """Inverse of `describe`, never sharing sub-objects."""
  tag = desc[0]
  if tag == "none":
    return None
  if tag in ("bool", "str"):
    return desc[1]
  if tag == "int":
    return int(desc[1])
  if tag == "float":
    return float(desc[1])
  if tag == "tuple":
    return tuple(build(d) for d in desc[1])
  if tag == "list":
    return [build(d) for d in desc[1]]
  if tag == "set":
    return {build(d) for d in desc[1]}
  if tag == "dict":
    return {build(k): build(v) for k, v in desc[1]}
  cls = CLASSES[desc[1]]
  initargs = [build(d) for d in desc[2]]
  if not initargs and not hasattr(cls, "__getinitargs__"):
    obj = cls()
  else:
    obj = cls(*initargs)
  for key, d in desc[3]:
    setattr(obj, key, build(d))
  return obj


def software_release(url, computer_id, requested_state=None):
  """As the proxy builds them (slapos/proxy/slap_tool.py)."""
  sr = SoftwareRelease(software_release=url, computer_guid=computer_id)
  if requested_state is not None:
    sr._requested_state = requested_state
  return sr


def free_partition(computer_id, slot):
  """`partitiondict2partition` for a slot without software release."""
  p = ComputerPartition(computer_id, slot)
  p._software_release_document = None
  p._requested_state = "destroyed"
  p._need_modification = 0
  p._instance_guid = "%s-%s" % (computer_id, slot)
  return p


def allocated_partition(computer_id, slot):
  """`partitiondict2partition` for a busy slot."""
  p = free_partition(computer_id, slot)
  p._need_modification = 1
  p._requested_state = "started"
  p._parameter_dict = xml2dict(dict2xml({"foo": "bar", "n": 1}))
  p._parameter_dict["ip_list"] = [("slaptap0", "10.0.0.2"),
                                  ("slaptap0", "fe80::2")]
  p._parameter_dict["full_address_list"] = []
  p._parameter_dict["slap_software_type"] = "default"
  p._parameter_dict["instance_title"] = "MyInstance"
  p._parameter_dict["root_instance_title"] = "MyInstance"
  p._parameter_dict["slap_computer_id"] = computer_id
  p._parameter_dict["slap_computer_partition_id"] = slot
  p._parameter_dict["slap_software_release_url"] = "http://sr/"
  p._parameter_dict["slave_instance_list"] = [
      {"slave_title": "_shared", "slave_reference": "_shared",
       "slap_software_type": "default", "url": "http://x/", "port": 8080}]
  p._parameter_dict["timestamp"] = str(1700000000.123456)
  p._connection_dict = xml2dict(dict2xml({"url": "http://i/", "empty": ""}))
  p._software_release_document = software_release("http://sr/", computer_id)
  return p


def software_instance():
  """`requestNotSlave`'s answer (slapos/proxy/db.py)."""
  parameter_dict = xml2dict(dict2xml({"a": 1}))
  parameter_dict["timestamp"] = str(1700000000.5)
  connection_xml = dict2xml({"url": "http://i/"})
  return SoftwareInstance(
      _connection_dict=xml2dict(connection_xml),
      _parameter_dict=parameter_dict,
      connection_xml=connection_xml,
      slap_computer_id="COMP-1",
      slap_computer_partition_id="slappart0",
      slap_software_release_url="http://sr/",
      slap_server_url="slap_server_url",
      slap_software_type="default",
      _instance_guid="COMP-1-slappart0",
      _requested_state="started",
      ip_list=[("slaptap0", "10.0.0.2")])


def shared_software_instance():
  """`requestSlave`'s answer: no state, no guid."""
  return SoftwareInstance(
      _connection_dict=xml2dict(None),
      _parameter_dict=xml2dict(dict2xml({"x": "y"})),
      slap_computer_id="COMP-1",
      slap_computer_partition_id="slappart0",
      slap_software_release_url="http://sr/",
      slap_server_url="slap_server_url",
      slap_software_type="default",
      ip_list=[("slaptap0", "10.0.0.2")])


def computer():
  c = Computer("COMP-1")
  c._software_release_list = [software_release("http://sr/", "COMP-1", "available"),
                              software_release("http://old/", "COMP-1", "destroyed")]
  c._computer_partition_list = [allocated_partition("COMP-1", "slappart0"),
                                free_partition("COMP-1", "slappart1")]
  return c


def marshal_cases():
  shared = [1, "x"]
  shared_dict = {"k": "v"}
  return {
      "none": None,
      "bool_true": True,
      "bool_false": False,
      "int_zero": 0,
      "int_small": 42,
      "int_negative": -7,
      "int_i64_max": 2 ** 63 - 1,
      "int_1e20": 10 ** 20,
      "int_below_long_threshold": 999999999999999983222783,
      "int_long_threshold": 999999999999999983222784,
      "int_1e24_minus_1": 10 ** 24 - 1,
      "int_1e24": 10 ** 24,
      "int_negative_long": -999999999999999983222784,
      "int_negative_below_threshold": -999999999999999983222783,
      "int_i128_max": 2 ** 127 - 1,
      "int_i128_min": -(2 ** 127),
      "int_beyond_i128": 2 ** 127,
      "int_huge": 10 ** 60,
      "int_huge_negative": -(10 ** 50) - 3,
      "float_1_5": 1.5,
      "float_1e100": 1e100,
      "float_1e_5": 1e-5,
      "float_1_5e_5": 1.5e-5,
      "float_0_1": 0.1,
      "float_0_0001": 0.0001,
      "float_100": 100.0,
      "float_1e15": 1e15,
      "float_1e16": 1e16,
      "float_1234567890123456": 1234567890123456.0,
      "float_zero": 0.0,
      "float_negative_zero": -0.0,
      "float_nan": float("nan"),
      "float_inf": float("inf"),
      "float_negative_inf": float("-inf"),
      "float_min_subnormal": 5e-324,
      "float_max": 1.7976931348623157e308,
      "float_third": 1 / 3,
      "float_timestamp": 1700000000.123456,
      "string_started": "started",
      "string_empty": "",
      "string_markup": "x&<y>",
      "string_quotes": "\"double\" 'single'",
      "string_whitespace": "\r\n\t \r",
      "string_crlf": "line1\r\nline2",
      "string_spaces": "  padded  ",
      "string_accent": "\u00e9t\u00e9",
      "string_cjk": "\u65e5\u672c",
      "string_emoji": "\U0001f600",
      "string_del_c1_nbsp": "\x7f\x85\xa0",
      "string_entities": "&amp;&lt;&gt;&#13;&quot;",
      "string_cdata_end": "]]>",
      "string_bytes": b"bytes value",
      "string_json": json.dumps({"a": [1, 2], "b": "c"}, indent=2),
      "list_empty": [],
      "tuple_empty": (),
      "dict_empty": {},
      "set_empty": set(),
      "set_one": {"a"},
      "tuple_one": (1,),
      "spec_example": {"a": 1, "b": [None, True], "c": (1,)},
      "nested": [[[]], ((), [{}]), {"k": {"k": [1, (2, [3])]}}],
      "tuple_of_containers": ([1], {"a": []}, ([2],)),
      "dict_int_keys": {3: "c", 1: "a", 2: "b", -1: "z"},
      "dict_float_int_keys": {1.5: "x", 1: "y", 2: "z", -0.5: "w"},
      "dict_unicode_keys": {"\u00e9": 1, "e": 2, "z": 3, "\u00c9": 4,
                            "\u65e5": 5, "\U0001f600": 6, "Z": 7, "": 8},
      "dict_mixed_keys": {1: "a", "b": 2},
      "dict_mixed_keys_many": {(1, "a"): 1, (1, 2): 2, None: 3, "x": 4,
                               2.5: 5, True: 6, -3: 7},
      "dict_mixed_keys_other_order": {None: 1, -3: 2, "x": 3, 2.5: 4},
      "dict_tuple_keys": {("b", 1): 1, ("a", 2): 2, ("a", 1): 3},
      "dict_bool_none_keys": {None: "n", False: "f"},
      "shared_list_in_dict": {"a": shared, "b": shared},
      "shared_list_in_list": [shared, shared, shared_dict, [shared_dict]],
      "software_release_spec": software_release("http://sr/", "COMP-1", "available"),
      "software_release_plain": software_release("http://sr/", "COMP-1"),
      "computer_partition_free": free_partition("COMP-1", "slappart1"),
      "computer_partition_allocated": allocated_partition("COMP-1", "slappart0"),
      "computer": computer(),
      "computer_empty": Computer("COMP-9"),
      "software_instance": software_instance(),
      "software_instance_shared": shared_software_instance(),
      "certificate": {"certificate": "", "key": ""},
      "url_list": ["http://a/", "http://b/"],
  }


# Hand-written inputs for the decoder: what `slapos.util.loads` does.
MARSHAL_DECODE_CASES = {
    "int_spaces": b"<marshal><int> 5 </int></marshal>",
    "int_underscore": b"<marshal><int>1_000</int></marshal>",
    "int_plus": b"<marshal><int>+12</int></marshal>",
    "long_small": b"<marshal><long>5</long></marshal>",
    "int_huge": b"<marshal><int>100000000000000000000000000000000000000000</int></marshal>",
    "bool_two": b"<marshal><bool>2</bool></marshal>",
    "bool_spaces": b"<marshal><bool> 0 </bool></marshal>",
    "float_spaces": b"<marshal><float> 1.5 </float></marshal>",
    "float_exponent": b"<marshal><float>1E5</float></marshal>",
    "float_infinity": b"<marshal><float>-Infinity</float></marshal>",
    "float_int_text": b"<marshal><float>3</float></marshal>",
    "none_text": b"<marshal><none>ignored</none></marshal>",
    "unicode_element": b"<marshal><unicode>legacy</unicode></marshal>",
    "declaration": b"<?xml version='1.0' encoding='utf-8'?>\n<marshal><string>a</string></marshal>",
    "whitespace": b"<marshal>\n  <list id=\"i2\">\n    <int>1</int>\n    <string> a </string>\n  </list>\n</marshal>\n",
    "comment": b"<marshal><!-- c --><string>a<!-- inside -->b</string></marshal>",
    "cdata": b"<marshal><string><![CDATA[x&amp;<y>]]></string></marshal>",
    "single_escaped": b"<marshal><string>a&lt;b&gt;&amp;c</string></marshal>",
    "char_refs": b"<marshal><string>&#233;&#x65e5;&#13;&#10;</string></marshal>",
    "raw_utf8": "<marshal><string>\u00e9\u65e5</string></marshal>".encode("utf-8"),
    "raw_cr": b"<marshal><string>a\r\nb\rc</string></marshal>",
    "reference_list": b"<marshal><list id=\"i2\"><list id=\"i3\"><int>1</int></list><reference id=\"i3\"/></list></marshal>",
    "reference_dict": b"<marshal><tuple><dictionary id=\"i2\"><string>a</string><int>1</int></dictionary><reference id=\"i2\"/></tuple></marshal>",
    "dict_duplicate_key": b"<marshal><dictionary id=\"i2\"><string>a</string><int>1</int><string>b</string><int>2</int><string>a</string><int>3</int></dictionary></marshal>",
    "dict_equal_numeric_keys": b"<marshal><dictionary id=\"i2\"><int>1</int><string>int</string><bool>1</bool><string>bool</string><float>1.0</float><string>float</string></dictionary></marshal>",
    "set_duplicates": b"<marshal><set id=\"i2\"><int>1</int><int>1</int></set></marshal>",
    "no_ids": b"<marshal><list><dictionary><string>a</string><list/></dictionary></list></marshal>",
    "namespaced": b"<m:marshal xmlns:m=\"http://www.erp5.org/namespaces/marshaller\"><m:string>ns</m:string></m:marshal>",
    "error_forbidden_module": b"<marshal><object id=\"i2\" module=\"os\" class=\"system\"><tuple><string>true</string></tuple><dictionary id=\"i3\"/></object></marshal>",
    "error_forbidden_class": b"<marshal><object id=\"i2\" module=\"slapos.slap.slap\" class=\"slap\"><tuple/><dictionary id=\"i3\"/></object></marshal>",
    "error_partition_missing_id": b"<marshal><object id=\"i2\" module=\"slapos.slap.slap\" class=\"ComputerPartition\"><tuple><string>C</string><none/><none/></tuple><dictionary id=\"i3\"/></object></marshal>",
    "error_computer_no_args": b"<marshal><object id=\"i2\" module=\"slapos.slap.slap\" class=\"Computer\"><tuple/><dictionary id=\"i3\"/></object></marshal>",
    "error_instance_with_args": b"<marshal><object id=\"i2\" module=\"slapos.slap.slap\" class=\"SoftwareInstance\"><tuple><int>1</int></tuple><dictionary id=\"i3\"/></object></marshal>",
    "error_unknown_reference": b"<marshal><reference id=\"i9\"/></marshal>",
    "error_empty_root": b"<marshal></marshal>",
    "error_two_children": b"<marshal><none/><none/></marshal>",
    "error_bad_int": b"<marshal><int>1.5</int></marshal>",
    "error_empty_int": b"<marshal><int></int></marshal>",
    "error_bad_bool": b"<marshal><bool>yes</bool></marshal>",
    "error_bad_float": b"<marshal><float>1,5</float></marshal>",
    "error_unknown_element": b"<marshal><frobnicate/></marshal>",
    "error_unclosed": b"<marshal><list id=\"i2\"><int>1</int></marshal>",
    "error_not_xml": b"not xml at all",
    "error_empty": b"",
    "error_unhashable_key": b"<marshal><dictionary id=\"i2\"><list id=\"i3\"/><int>1</int></dictionary></marshal>",
    "error_undefined_entity": b"<marshal><string>&nbsp;</string></marshal>",
    "error_control_char_ref": b"<marshal><string>&#1;</string></marshal>",
    "error_not_utf8": b"<marshal><string>\xff</string></marshal>",
}

INSTANCE_CASES = {
    "empty": {},
    "simple": {"a": "1"},
    "json_in_xml": {"_": json.dumps({"a": 1, "b": [True, None]}, indent=2)},
    "spec_example": {"_": json.dumps({"a": 1}), "foo": "bar"},
    "non_string_values": {"int": 1, "none": None, "bool": True, "float": 1.5,
                          "big": 10 ** 30, "list": [1, "a", None, 0.1],
                          "dict": {"k": "v", "n": (1,)}, "tuple": (1,),
                          "nested_quotes": ["it's", 'say "hi"', "both '\""]},
    "escaping": {"amp": "a&b", "lt": "<tag attr=\"v\">", "quotes": "\"'",
                 "cr": "a\r\nb", "tab": "\t", "empty": "", "gt": "a>b"},
    "key_escaping": {"a\"b": "1", "k<&>": "2", "it's": "3", "new\nline": "4",
                     "tab\tcr\r": "5"},
    "unicode": {"\u00e9": "\u65e5\u672c\U0001f600", "nbsp": "\xa0",
                "del_c1": "\x7f\x85"},
    "whitespace": {"spaces": "  padded  ", "newline": "\n", "blank": " "},
    "sorted_keys": {"b": "2", "a": "1", "B": "3", "_": "4", "aa": "5"},
    "bytes_value": {"b": b"raw bytes"},
}

INSTANCE_DECODE_CASES = {
    "no_declaration": '<instance><parameter id="a">1</parameter></instance>',
    "repeated_id": '<instance><parameter id="a">1</parameter><parameter id="a">2</parameter></instance>',
    "repeated_id_first_empty": '<instance><parameter id="a"/><parameter id="a">2</parameter></instance>',
    "repeated_id_both_empty": '<instance><parameter id="a"/><parameter id="a"></parameter></instance>',
    "self_closing": '<instance><parameter id="a"/></instance>',
    "other_children": '<instance><other id="x">1</other><parameter id="a">1</parameter></instance>',
    "nested_child": '<instance><parameter id="a">x<b>y</b>z</parameter></instance>',
    "cdata": '<instance><parameter id="a"><![CDATA[<&>]]></parameter></instance>',
    "char_refs": '<instance><parameter id="a&#10;b">&#233;&#13;</parameter></instance>',
    "whitespace_only_text": '<instance><parameter id="a">  </parameter></instance>',
    "other_root": '<root><parameter id="a">1</parameter></root>',
    "empty_string": "",
    "error_repeated_then_empty": '<instance><parameter id="a">1</parameter><parameter id="a"/></instance>',
    "error_not_xml": "not xml",
    "error_unclosed": '<instance><parameter id="a">1</instance>',
}


def repr_cases():
  values = [
      None, True, False, 0, -1, 10 ** 30, 1.5, 1e16, 1e-5, float("nan"),
      float("-inf"), -0.0, "", "plain", "it's", 'say "hi"', "both '\"",
      "back\\slash", "\t\n\r\x00\x1f\x7f", "\x80\x9f\xa0\xad\xff",
      "\u00e9\u65e5\U0001f600", "\u200b\u2028\u2029\ue000\uffff\U0010ffff",
      "\u0378\u0301", [], (), {}, set(), (1,), (1, "a"), [None, True, 1.0],
      {"a": 1, "b": [None, True], "c": (1,)}, {1: "x", "k": {"n": None}},
      {"s": {"a"}}, [("slaptap0", "10.0.0.2")],
  ]
  # Every 41st code point, to check the table of unprintable characters.
  sweep = [chr(c) for c in range(0, 0x110000, 41) if not 0xd800 <= c < 0xe000]
  values += ["".join(sweep[i:i + 64]) for i in range(0, len(sweep), 64)]
  return [{"value": describe(v), "str": str(v), "repr": repr(v)} for v in values]


def float_cases():
  rng = random.Random(20240601)
  out = []
  for _ in range(4000):
    bits = rng.getrandbits(64)
    f = struct.unpack("<d", struct.pack("<Q", bits))[0]
    out.append(["%016x" % bits, repr(f)])
  for _ in range(2000):
    # Human-scale numbers: exercise the positional/exponent boundary.
    f = rng.choice([1, -1]) * rng.random() * 10 ** rng.randint(-8, 20)
    bits = struct.unpack("<Q", struct.pack("<d", f))[0]
    out.append(["%016x" % bits, repr(f)])
  for f in (1e16, 9999999999999998.0, 1e-4, 9.999999999999999e-05, 0.5, 2.0 ** 63):
    bits = struct.unpack("<Q", struct.pack("<d", f))[0]
    out.append(["%016x" % bits, repr(f)])
  return out


def unprintable_ranges():
  ranges = []
  start = None
  for c in range(0x110000):
    printable = chr(c).isprintable()
    if not printable and start is None:
      start = c
    elif printable and start is not None:
      ranges.append((start, c - 1))
      start = None
  if start is not None:
    ranges.append((start, 0x10FFFF))
  return ranges


def write(path, data):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  mode = "wb" if isinstance(data, bytes) else "w"
  kw = {} if isinstance(data, bytes) else {"encoding": "utf-8", "newline": ""}
  with open(path, mode, **kw) as f:
    f.write(data)


def dump_json(data):
  return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


def dump_json_lines(items):
  """A JSON list with one compact item per line (diff-friendly, small)."""
  lines = [json.dumps(item, sort_keys=True, ensure_ascii=False) for item in items]
  return "[\n" + ",\n".join(lines) + "\n]\n"


def clean(directory):
  if os.path.isdir(directory):
    for name in os.listdir(directory):
      os.unlink(os.path.join(directory, name))


def main():
  marshal_dir = os.path.join(HERE, "marshal")
  clean(marshal_dir)
  for name, value in sorted(marshal_cases().items()):
    xml = xml_marshaller.dumps(value)
    desc = describe(value)
    meta = {"value": desc}
    expanded = xml_marshaller.dumps(build(desc))
    if expanded != xml:
      meta["expanded"] = name + ".expanded.xml"
      write(os.path.join(marshal_dir, meta["expanded"]), expanded)
    write(os.path.join(marshal_dir, name + ".xml"), xml)
    write(os.path.join(marshal_dir, name + ".json"), dump_json(meta))
  for name, xml in sorted(MARSHAL_DECODE_CASES.items()):
    try:
      meta = {"value": describe(safe_loads(xml))}
    except Exception as e:
      meta = {"error": "%s: %s" % (type(e).__name__, e)}
    assert name.startswith("error_") == ("error" in meta), (name, meta)
    write(os.path.join(marshal_dir, "decode_" + name + ".xml"), xml)
    write(os.path.join(marshal_dir, "decode_" + name + ".json"), dump_json(meta))

  instance_dir = os.path.join(HERE, "instance_xml")
  clean(instance_dir)
  for name, value in sorted(INSTANCE_CASES.items()):
    xml = dict2xml(value)
    meta = {"input": describe(value), "decoded": xml2dict(xml)}
    write(os.path.join(instance_dir, name + ".xml"), xml)
    write(os.path.join(instance_dir, name + ".json"), dump_json(meta))
  for name, xml in sorted(INSTANCE_DECODE_CASES.items()):
    try:
      meta = {"decoded": xml2dict(xml)}
    except Exception as e:
      meta = {"error": "%s: %s" % (type(e).__name__, e)}
    assert name.startswith("error_") == ("error" in meta), (name, meta)
    write(os.path.join(instance_dir, "decode_" + name + ".xml"), xml)
    write(os.path.join(instance_dir, "decode_" + name + ".json"), dump_json(meta))

  repr_dir = os.path.join(HERE, "python_repr")
  write(os.path.join(repr_dir, "values.json"), dump_json_lines(repr_cases()))
  write(os.path.join(repr_dir, "floats.json"), dump_json_lines(float_cases()))

  ranges = unprintable_ranges()
  lines = [
      "//! Code points Python %s's `str.isprintable()` rejects (Unicode %s):"
      % (sys.version.split()[0], unicodedata.unidata_version),
      "//! `repr()` escapes them. Generated by `test_data/generate.py`; do not edit.",
      "",
      "/// Sorted, disjoint, inclusive ranges of unprintable code points.",
      "#[rustfmt::skip]",
      "pub(super) const UNPRINTABLE: &[(u32, u32)] = &[",
  ]
  for i in range(0, len(ranges), 4):
    lines.append("    " + " ".join("(0x%X, 0x%X)," % r for r in ranges[i:i + 4]))
  lines.append("];")
  write(os.path.join(HERE, "..", "src", "python_repr", "unprintable.rs"),
        "\n".join(lines) + "\n")


if __name__ == "__main__":
  main()
