"""Write `.installed.cfg` goldens with zc.buildout 6.0.1's own writer.

For each case of ``cases.json`` (a ``[buildout]`` section, the parts in
order and each part's options), this writes ``<name>.cfg`` exactly as
``Buildout._save_installed_options`` does: ``_save_options('buildout', ...)``,
then for each part a blank line and ``_save_options(part, ...)``. It then
reads the file back as ``Buildout._read_installed_part_options`` does
(``zc.buildout.configparser.parse`` and the ``_spacey_defaults``
replacements) and checks it gets the case back, so every golden is also a
round trip buildout itself honours.

crates/profile/tests/it/lifecycle_record.rs renders and parses the same
cases with the engine and compares bytes.

    /var/cache/slapos-rs/venv/bin/python crates/profile/test_data/installed_cfg/generate.py
"""

import json
import os

import zc.buildout
import zc.buildout.buildout as bo
import zc.buildout.configparser

assert zc.buildout.__version__ if hasattr(zc.buildout, "__version__") else True

HERE = os.path.dirname(os.path.abspath(__file__))


def write(path, case):
    buildout = dict(case["buildout"])
    buildout["parts"] = " ".join(case["parts"])
    with open(path, "w") as f:
        bo._save_options("buildout", buildout, f)
        for part in buildout["parts"].split():
            bo.print_(file=f)
            bo._save_options(part, case["sections"][part], f)


def read(path):
    with open(path) as fp:
        sections = zc.buildout.configparser.parse(fp, path)
    result = {}
    for section, options in sections.items():
        for option, value in options.items():
            if "%(" in value:
                for k, v in bo._spacey_defaults:
                    value = value.replace(k, v)
                options[option] = value
        result[section] = dict(options)
    return result


def main():
    with open(os.path.join(HERE, "cases.json")) as f:
        cases = json.load(f)
    for name, case in sorted(cases.items()):
        path = os.path.join(HERE, name + ".cfg")
        write(path, case)
        back = read(path)
        expected = dict(case["buildout"], parts=" ".join(case["parts"]))
        assert back.pop("buildout") == expected, name
        read_back = case.get("read_back") or {p: case["sections"][p] for p in case["parts"]}
        assert back == read_back, (name, back)


if __name__ == "__main__":
    main()
