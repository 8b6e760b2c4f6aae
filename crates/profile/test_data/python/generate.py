"""Records golden results for crates/profile/src/python from the reference
interpreter, for the Rust test tests/it/python_golden.rs.

Run from anywhere with the zc.buildout 6.0.1 virtualenv:
    /var/cache/slapos-rs/venv/bin/python crates/profile/test_data/python/generate.py

It writes, next to this script:
  probe.json       what PythonEnv::PROBE_SCRIPT (read from env.rs) prints here;
  conditions.json  each [section:EXPR] header run through zc.buildout's own
                   configparser.parse with _default_globals: kept or not, or
                   the exception class; plus whether EXPR is a PEP 508 marker;
  py_values.json   each !py! text evaluated with the SlapOS restricted
                   builtins: the repr and the !py! encoding of the result, or
                   the exception class (with a sweep of the Unicode table);
  specifiers.json  which versions packaging's Specifier.contains accepts,
                   with pre-releases allowed, as markers compare versions.
Cases marked "gap" are known differences; the Rust test checks that the
evaluator reports them as errors instead of answering differently.
"""
import builtins
import io
import json
import os
import re
import subprocess
import sys

from packaging.markers import InvalidMarker, Marker
from zc.buildout import configparser
from zc.buildout.buildout import _default_globals

HERE = os.path.dirname(os.path.abspath(__file__))
ENV_RS = os.path.join(HERE, '..', '..', 'src', 'python', 'env.rs')

SAFE_BUILTINS = {
    name: getattr(builtins, name)
    for name in ('bytearray', 'complex', 'frozenset', 'set', 'dict', 'list',
                 'str', 'tuple', 'False', 'True')
}

CONDITIONS = [
    # PEP 508 markers.
    'python_version >= "3.8" and platform_system == "Linux"',
    'python_version < "3"', 'python_version == "3.11"', 'python_version == "3.11.*"',
    'python_version == "3.*"', 'python_version != "2.7"', 'python_version > "3.10"',
    'python_version <= "3.11"', 'python_version >= "3.12"', 'python_version == "3.11.0"',
    'python_full_version >= "3.11.0"', 'python_full_version < "3.11.7"',
    'python_full_version <= "3.11.7"', 'python_full_version == "3.11.7"',
    'python_full_version === "3.11.7"', 'python_full_version === "3.11.7 "',
    'python_full_version === "3.11"', 'python_full_version ~= "3.11.0"',
    'python_version ~= "3.0"', 'python_version ~= "3"', 'python_full_version ~= "3.10"',
    'python_full_version > "3.11.7"', 'python_full_version > "3.11"',
    'python_full_version < "3.11.8rc1"', 'python_full_version >= "3.11.7.post1"',
    'python_full_version == "3.11.7+local"', 'python_full_version == "3.11.7.0"',
    'python_full_version == "v3.11.7"', 'python_full_version != "3.11.*"',
    'python_full_version in "3.11.7"', 'python_full_version < "3.11.7.dev0"',
    'python_full_version > "3.11.7a1"', 'python_full_version >= "1!0"',
    'python_version < "abc"', 'python_version == "abc"', 'python_version != "abc"',
    'python_version == ""', 'python_version < ""',
    'os_name == "posix"', 'os.name == "posix"', 'sys_platform == "linux"',
    'sys.platform == "linux"', "sys_platform == 'win32'", 'platform_machine == "x86_64"',
    'platform.machine == "x86_64"', 'platform_python_implementation == "CPython"',
    'python_implementation == "CPython"', 'platform.python_implementation == "CPython"',
    'implementation_name == "cpython"', 'implementation_version >= "3"',
    'platform_release >= "5"', 'platform_release != ""', 'platform_version != ""',
    'platform.version != ""', 'platform_system == "Windows"',
    '"linux" in sys_platform', '"lin" in sys_platform', '"win" not in sys_platform',
    'sys_platform in "linux linux2"', 'extra == ""', 'extra == "Foo"', '"" in extra',
    'extra != "Foo_Bar"', 'extras == "x"', '"x" in dependency_groups',
    '"3.11" == python_version', '"3.8" < python_version', '"4" > python_version',
    'os_name == os_name', 'os_name != os_name', '"a" == "b"', '"3.11" == "python_version"',
    '(python_version >= "3" or python_version < "2") and os_name == "posix"',
    'python_version >= "3" or python_version < "2" and os_name == "nt"',
    '((((os_name == "posix"))))', 'os_name < "z"', 'os_name <= "posix"', 'os_name > "a"',
    'os_name >= "posix"', 'os_name ~= "posix"', 'os_name === "posix"',
    'python_version in "3.11 3.12"', 'python_version not in "2.7"',
    'python_version>="3.8"and os_name=="posix"', r'"\x6cinux" in sys_platform',
    r'"\x" == os_name', 'python_version >= "3.8" and', 'python_version',
    'os_name == "posix" and not python2', 'python_version == "3.11" or platform_system == "Windows"',
    r'os_name != "\x3b"', '  os_name == "posix"  ', 'os_name  ==  "posix"',
    'os_name notin "posix"', 'os_name not  in "posix"',
    # zc.buildout's Python globals.
    'python2', 'python3', 'python27', 'python36', 'python311', 'python312', 'python319',
    'python320', 'python24', 'cpython', 'pypy', 'jython', 'ironpython', 'linux', 'windows',
    'cygwin', 'solaris', 'macosx', 'posix', 'bits32', 'bits64', 'little_endian', 'big_endian',
    'not python2', 'python3 and linux', 'python2 or linux', 'python3 and not (bits32 or big_endian)',
    'linux and platform.machine() == "x86_64"', 'linux and platform.machine() == "aarch64"',
    'platform.machine() in ("x86_64", "amd64")',
    # sys, os, platform.
    'sys.version_info < (3,8)', 'sys.version_info >= (3, 0)', 'sys.version_info[:2] == (3, 11)',
    'sys.version_info[0] == 3', 'sys.version_info.major == 3', 'sys.version_info.minor > 5',
    "sys.version_info.releaselevel == 'final'", "sys.version_info < (3, 11, 7, 'final')",
    'sys.version_info > (3,)', "sys.version_info == (3, 11, 7, 'final', 0)",
    'len(sys.version_info) == 5', "sys.platform == 'linux'", "sys.platform.startswith('linux')",
    'sys.maxsize > 2**32', "sys.byteorder == 'little'", "sys.executable != ''",
    "'GCC' in sys.version", 'sys.hexversion > 0x03000000', "sys.implementation.name == 'cpython'",
    "hasattr(sys, 'pypy_version_info')", "not hasattr(sys, 'pypy_version_info')",
    "getattr(sys, 'pypy_version_info', None) is None", 'sys.nope',
    "os.name == 'posix'", "os.sep == '/'", "os.name == 'nt'",
    "platform.system() == 'Linux'", "platform.release() != ''",
    "platform.release().startswith('6')", "platform.python_version() >= '3'",
    "platform.python_implementation() == 'CPython'", "platform.python_version_tuple()[0] == '3'",
    "platform.architecture()[0] == '64bit'", "platform.version() != ''",
    "sys.version_info >= (3, 8) and platform.machine() == 'x86_64'",
    # Comprehensions and builtins.
    'x for x in (0, 1)', 'x for x in (1, 0)', 'x for x in ()',
    "any(x in sys.platform for x in ('linux', 'darwin'))",
    "all(x in sys.platform for x in ('linux', 'darwin'))",
    "[v for v in ('3',) if v == platform.python_version_tuple()[0]]",
    'len([1, 2]) == 2', "str(1) == '1'", "int('42') == 42", 'bool(0)', 'max(1, 5, 3) == 5',
    'min([4, 2]) == 2', 'sorted([3, 1, 2]) == [1, 2, 3]', 'abs(-3) == 3', 'list(range(3)) == [0, 1, 2]',
    # Literals and truthiness.
    '1', '0', '0.0', "''", "'a'", 'None', 'True', 'False', '[]', '[0]', '()', '{}',
    '1 if python3 else 0', '1 if python2 else 0', '0, 1', '1, 0', '1,',
    # Comparisons across types and chains.
    "1 == '1'", '1 == 1.0', 'True == 1', "'a' != 1", 'None == 0', '(1, 2) == [1, 2]',
    '1 < 2 < 3', '1 < 3 < 2', '3 > 2 == 2', "'a' < 'b'", "'B' < 'a'", '(1, 2) < (1, 3)',
    '(1, 2) < (1, 2, 0)', '[1] < [1, 0]', '1.5 > 1', '2**63 > 0',
    # Arithmetic.
    '1 + 1 == 2', '2 ** 10 == 1024', '7 // 2 == 3', '-7 // 2 == -4', '-7 % 3 == 2',
    '7 / 2 == 3.5', "'a' + 'b' == 'ab'", '[1] + [2] == [1, 2]', "'ab' * 2 == 'abab'",
    '2 ** -1 == 0.5', '10 % 3', '1 - 1', '~0 == -1', '1 << 3 == 8', '6 & 3', '6 | 1', '6 ^ 6',
    '-7.5 // 2 == -4.0', '7.5 % -2', '0 or ""', "0 or 'x'", "'a' and 0", "'a' and 'b'",
    # Strings.
    "'abc'[1] == 'b'", "'abc'[-1] == 'c'", "'abcdef'[::2] == 'ace'", "'abcdef'[::-1] == 'fedcba'",
    "'abc'[5:] == ''", "'x' in 'xyz'", "'X'.lower() == 'x'", "' a '.strip() == 'a'",
    "'a,b'.split(',') == ['a', 'b']", r"'\xe9' == 'é'", r"r'\n' == '\\n'", "b'a' == b'a'",
    "b'a' == 'a'", r"'\x23' in 'a\x23b'", r"'\x3b' == chr(59)", "'abc'.find('c') == 2",
    "'-'.join(['a', 'b']) == 'a-b'", "'a b  c'.split() == ['a', 'b', 'c']",
    # Errors.
    '1/0', 'undefined_name', "'a' < 1", '[1] < (1,)', '(1,2)[5]', "{}['a']", '1 +', ')',
    'x = 1', "open('/proc/cpuinfo').read()", "'processor' in open('/proc/cpuinfo').read()",
    "1 + 'a'", "'a' in 1", "1 in 'a'", '[] + ()', "None < 1", "{'a': 1} < {'b': 2}",
    "'abc'[1.0]", "[1][::0]", "{[]: 1}", 'python_version > "3" and', ' ', 'f"x"',
    "(1, 2) < (1, 'a')", "sys.version_info < ('3',)", "int('x')", "'a'.nope()",
]

PY_VALUES = [
    # str repr: quotes, escapes, printability.
    "''", "'a'", '"it\'s"', "'say \"hi\"'", "'both \\' and \"'", "'back\\\\slash'",
    "'tab\\there'", "'new\\nline'", "'cr\\rx'", "'\\x00'", "'\\x07\\x08\\x0b\\x0c'",
    "'\\x1b[0m'", "'\\x7f'", "'\\x80'", "'\\x9f'", "'\\xa0'", "'\\xad'", "'é'", "'ñandú'",
    "'ß'", "'日本語'", "'\\u200b'", "'\\u2028'", "'\\ufeff'", "'\\ufffd'", "'\\U0001f600'",
    "'\\U0001F1EB\\U0001F1F7'", "'\\U000e0001'", "'\\U0010ffff'", "'\\ue000'", "'\\u0378'",
    "'\\u00b2'", "'\\u3000'", "'\\u2000x'", "'\\x1c\\x1f'", "'\\u0600'", "'\\U0001d400'",
    "'$'", "'${a:b}'", "'a;b'", "'$$'", "';'", "'\\\\x24'", "'a' 'b'", "r'raw\\n'",
    "u'unicode'", "'''triple'''", '"""tri"ple"""', "'\\101\\x41\\u0041'", "'\\q'",
    "'a\\\nb'", "'\\''", '"\\""', "'\\'\"'", "'\\\\'",
    # Slices and concatenation, the slapos `!py!'...'[11:]` form.
    "'abcdef'[11:]", "'cron-entry-backup'[11:]", "'abcdef'[-2:]", "'abcdef'[::-2]",
    "'abcdef'[1:5:2]", "'abc'[10:1:-1]", "'abc'[-10:]", "'abc'[:-10]", "'abc'[1]", "'abc'[-1]",
    "'abc' * 3", "'a' + 'b'", "[1, 2, 3][1:]", "(1, 2, 3)[::-1]", "[1, 2, 3][-1:]",
    "'abc'[::0]", "'abc'[5]", "'abc'['a']",
    # str() and the other restricted builtins.
    "str(1)", "str()", "str('x')", "str(1.5)", "str([1, 'a'])", "str(b'x')", "str(None)",
    "list('abc')", "tuple('ab')", "list()", "tuple()", "dict(a=1, b=2)", "dict([(1, 2)])",
    "dict({'a': 1})", "dict()", "set()", "set([1])", "frozenset()", "frozenset([1])",
    "bytearray(b'ab')", "bytearray()", "bytearray(3)", "bytearray([65, 66])", "complex(1, 2)",
    "complex()", "complex(1.5, -0.0)", "complex(2)",
    # Numbers.
    "0", "1", "-1", "123456789", "9223372036854775807", "-9223372036854775807", "0x10",
    "0o17", "0b101", "1_000", "0.1", "1.5", "-0.0", "0.0", "1e16", "1e15", "1e-5", "1e-4",
    "1.5e300", "1e308 * 10", "-1e308 * 10", "1e308 * 10 - 1e308 * 10", "2.5e-308", "5e-324",
    "123456789.123456789", "1 / 3", "0.1 + 0.2", "1e22", "1e-7", "100.0", "3.14159", "-1.5",
    "+1", "--1", "1.", ".5", "1e5", "1E+5", "12345678901234567.0", "0.000123", "1.0e-10",
    "2 ** 62", "7 // 2", "-7 % 3", "1j", "1 + 2j", "-1j", "0j", "1e16j", "2.5j", "(1 + 2j) * 2",
    "9223372036854775808", "-9223372036854775808", "2 ** 64", "10 ** 30",
    # None, bools, bytes.
    "None", "True", "False", "b''", "b'abc'", "b\"it's\"", "b'\\x00\\xff'", "b'\\\\'",
    "b'$;'", "b'\\t\\n\\r'", "b'\\x7f\\x80'", "rb'\\n'", "b'a' b'b'",
    # Containers.
    "[]", "[1, 2]", "[1, [2, [3, []]]]", "()", "(1,)", "(1, 2)", "((),)", "{}", "{'a': 1}",
    "{'b': 2, 'a': 1}", "{1: 'a', True: 'b'}", "{'x': [1, {'y': (2,)}]}", "{1, 2, 3}",
    "{3, 1, 2}", "{'k': (1, 2)}", "[None, True, 1.0]", "[1] + [2]", "(1,) + (2,)", "[0] * 3",
    "{'a': 1}['a']", "[1, 2, 3][1]", "[1, 2,]", "{'a': 1,}", "{1.0: 'x', 1: 'y'}",
    "[\n  1,\n  2,\n]", "  1", "1\n", "(1, 'a', [b'x', {'k': None}])", "{(1, 2): 'tuple key'}",
    "{'$': ';'}", "['${x:y}', 'a;b']", "[x for x in (1, 2)]", "1 if True else 2",
    # Errors.
    "'a' + 1", "undefined", "len('a')", "__import__('os')", "open('x')", "{[]: 1}", "[1][5]",
    "{}['x']", "1 / 0", "", "1 +", "inf", "nan", "'unterminated", "x = 1", "(1, 2",
    "f'x'", "'\\x4'", "b'é'", "1 2", "lambda: 1", "[1, 2][:1:0]", "True + True",
    "{'a': 1} + {}", "1,", "set([[1]])", "0777", "1__0", "'a' 'b' b'c'",
]


SPECIFIERS = [
    '<1.0.post2', '>1.0.post1', '>1.0', '>1.0a1', '<=1.0', '==1.0', '!=1.0', '==1.0+abc',
    '>=1.0', '<1.0', '<1.0a1', '>1.0.dev1', '~=1.0', '~=1.0.1', '~=1.0a1', '~=1',
    '==1.*', '==1.0.*', '!=1.0.*', '==1.0a1.*', '===1.0', '===1.0+ABC', '== 1.0', '==v1.0',
    '==1!1.0', '>=1.0+abc', '<=1.0.*', '==1.0.', '=1.0', '<1.0rc1', '>1.0rc1', '==1.0-1',
    '==1.0.r', '==1.0c1', '==1.0preview2', '>=0', '==01.00', '==1.0.0.0.0', '!=1.0+loc',
]

VERSIONS = [
    '1.0a1', '1.0.dev0', '1.0', '1.0.post1', '1.0.post1.dev0', '1.0.post2.dev1', '1.0+loc',
    '1.0.post1+loc', '1.0.post2+x', '1.0a1+x', '0.9+x', '1.0a2', '1.0a1.post1', '1.0+abc',
    '1.0+ABC', '1.0.0+abc', '1.0.post2', '1.1', '1.0.1', '2.0', '1!1.0', '1.0rc1', '1.0c1',
    '1.0-1', 'v1.0', 'V1.0', '1.0.0', '01.0', ' 1.0 ', '1.0_post1', '1.0alpha1', '1.0.beta.2',
    '1.0-dev', '1.0+a.1', '1.0+a-1', '1.0+1.a', 'abc', '', '1.0+', '1..0', '1.0.*',
    '1.0a1.dev1', '1.0.post', '1.0rev3', '1.0r', '0.9.9', '1.0.1a1', '1.1.dev0',
]


def specifier_cases():
    from packaging.specifiers import InvalidSpecifier, Specifier
    cases = []
    for spec in SPECIFIERS:
        try:
            specifier = Specifier(spec)
        except InvalidSpecifier:
            cases.append({'specifier': spec, 'valid': False})
            continue
        matches = [version for version in VERSIONS
                   if specifier.contains(version, prereleases=True)]
        cases.append({'specifier': spec, 'valid': True, 'matches': matches})
    return {'versions': VERSIONS, 'specifiers': cases}


def repr_sweep():
    """!py! texts covering the printable table: every code point below
    U+0800 and strides through the rest, as Python writes them."""
    codes = (list(range(0x800)) + list(range(0x800, 0x3000, 13))
             + list(range(0x3000, 0x110000, 211)))
    codes = [code for code in codes if not 0xD800 <= code <= 0xDFFF]
    return [repr(''.join(map(chr, codes[start:start + 256])))
            for start in range(0, len(codes), 256)]


def probe():
    with open(ENV_RS) as source:
        text = source.read()
    match = re.search(r'PROBE_SCRIPT: &\'static str = r#"(.*?)"#;', text, re.S)
    if match is None:
        raise SystemExit('PROBE_SCRIPT not found in env.rs')
    output = subprocess.check_output([sys.executable, '-c', match.group(1)])
    return json.loads(output)


def condition_case(expression):
    header = '[s:%s]' % expression
    parsed_header = configparser.section_header(header)
    if parsed_header is None or parsed_header.group('expression') != expression:
        raise SystemExit('not a header expression: %r' % expression)
    unescaped = expression.replace(r'\x23', '#').replace(r'\x3b', ';')
    try:
        Marker(unescaped)
        is_marker = True
    except InvalidMarker:
        is_marker = False
    case = {'expression': expression, 'is_marker': is_marker}
    try:
        sections = configparser.parse(io.StringIO('[base]\n' + header + '\na = 1\n'), 'golden.cfg', _default_globals)
        case['result'] = 's' in sections
    except Exception as error:
        case['error'] = type(error).__name__
    return case


def encode(value):
    return '!py!' + repr(value).replace('$', r'\x24').replace(';', r'\x3b')


def contains_set(value):
    if isinstance(value, (set, frozenset)):
        return True
    if isinstance(value, dict):
        return any(contains_set(k) or contains_set(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(contains_set(item) for item in value)
    return False


def py_value_case(text):
    case = {'text': text}
    try:
        value = eval(text, {'__builtins__': SAFE_BUILTINS})
    except Exception as error:
        case['error'] = type(error).__name__
        return case
    case['repr'] = repr(value)
    case['encoded'] = encode(value)
    case['ordered'] = not contains_set(value)
    try:
        case['roundtrip'] = eval(encode(value)[4:], {'__builtins__': SAFE_BUILTINS}) == value
    except Exception:
        case['roundtrip'] = False
    return case


# Known differences: the evaluator must report an error for these.
GAPS = {
    '9223372036854775808': 'integers beyond 64 bits',
    '2 ** 64': 'integers beyond 64 bits',
    '10 ** 30': 'integers beyond 64 bits',
    'lambda: 1': 'lambda is not supported',
    '2**63 > 0': 'integers beyond 64 bits',
    "f'x'": 'f-strings are not supported',
    'f"x"': 'f-strings are not supported',
}


def main():
    conditions = [condition_case(expression) for expression in CONDITIONS]
    py_values = [py_value_case(text) for text in PY_VALUES + repr_sweep()]
    for case in conditions + py_values:
        key = case.get('expression', case.get('text'))
        if key in GAPS:
            case['gap'] = GAPS[key]
    for name, data in (('probe.json', probe()), ('conditions.json', conditions),
                       ('py_values.json', py_values),
                       ('specifiers.json', specifier_cases())):
        with open(os.path.join(HERE, name), 'w') as output:
            json.dump(data, output, indent=1, ensure_ascii=False, sort_keys=True)
            output.write('\n')
    print('%d conditions, %d py values' % (len(conditions), len(py_values)))


if __name__ == '__main__':
    main()
