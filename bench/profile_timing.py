"""Time zc.buildout loading and resolving profiles (the profile benchmark).

The Python side of bench/profile.sh: loads each given case with the
zc.buildout installed in this interpreter's environment, exactly as
tests/python/buildout_dump.py does for the differential test (its code,
imported: ``Buildout(root, overrides, use_user_defaults=False)`` in the same
sandbox, recipes never loaded, then ``dict(buildout[name])`` for every
section in sorted order), but with zc.buildout's full ``SectionKey``
history, i.e. at the real zc.buildout's speed.  A case that fails (some
corpus cases are errors on purpose) counts as loaded.

One repetition loads every case once.  After each repetition it prints one
JSON line and flushes: ``{"seconds": S, "sections": N, "failed": F}``
(``sections``: sections resolved over all cases).  It stops after
``--repeat`` repetitions, or before starting one when ``--budget-seconds``
have passed; the caller also kills it when it takes too long.

    PYTHON bench/profile_timing.py --repeat 5 --budget-seconds 120 CASE_DIR...

A case directory holds ``buildout.cfg`` (or ``case.json`` naming the root
file and overrides, as for buildout_dump.py).
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))

import buildout_dump  # noqa: E402  (needs the path above)


def load_all(cases):
    sections = failed = 0
    for root, overrides in cases:
        with buildout_dump.quiet_sandbox(os.path.dirname(root)):
            try:
                buildout = buildout_dump.load_buildout(root, overrides)
                sections += len(buildout_dump.resolve_sections(buildout))
            except Exception:  # noqa: BLE001 (error cases count as loaded)
                failed += 1
    return sections, failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions at most")
    parser.add_argument("--budget-seconds", type=float, default=120.0, help="start no repetition after this")
    parser.add_argument("--home", help="$HOME while loading (for ~ expansion)")
    parser.add_argument("cases", nargs="+", help="case directories")
    arguments = parser.parse_args()
    if arguments.home:
        os.environ["HOME"] = arguments.home
    buildout_dump.install_patches(full_history=True)
    cases = [buildout_dump.read_case(os.path.abspath(case)) for case in arguments.cases]
    started = time.monotonic()
    for _ in range(arguments.repeat):
        if time.monotonic() - started > arguments.budget_seconds:
            break
        begin = time.perf_counter()
        sections, failed = load_all(cases)
        seconds = time.perf_counter() - begin
        sys.stdout.write(json.dumps({"seconds": seconds, "sections": sections, "failed": failed}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
