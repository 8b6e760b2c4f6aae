"""Dump what the real zc.buildout makes of buildout profiles, as JSON.

The reference side of crates/profile's differential test
(crates/profile/tests/it/differential.rs): for each case directory it loads the
case's root profile with zc.buildout's own ``Buildout`` class and prints one
JSON object per line on stdout:

    {"case": DIR,
     "raw": {section: {option: value}} | ERROR,
     "resolved": {section: {option: value}} | ERROR}

where ERROR is ``{"error": message, "type": exception class name,
"checked": bool}``.  ``checked`` says the message text is part of the
contract: ``zc.buildout.UserError`` (the CLI prints those as
``Error: <message>``), the parser's errors (``File contains parsing
errors...``) and ValueError (``extends-cache ... may not contain``); other
exceptions (KeyError, NameError from a section condition, OSError...) are
internal errors whose failure alone is compared.

Run (batch; case directories as arguments, or one per line on stdin):

    $SLAPOS_VENV/bin/python tests/python/buildout_dump.py [--home DIR] CASE...
    find crates/profile/test_data/corpus -mindepth 1 -maxdepth 1 | sort \\
        | $SLAPOS_VENV/bin/python tests/python/buildout_dump.py

A case directory holds ``buildout.cfg`` and the files it extends, and
optionally ``case.json``: ``{"file": "root.cfg", "overrides":
["section:option=value", "parts+=x"]}`` (``file``: the root profile, relative
to the case directory; ``overrides``: command-line assignments, parsed
exactly as ``buildout`` parses its arguments).

What is dumped, precisely:

* raw: zc.buildout's merged data before substitution, i.e. ``Buildout._raw``
  as ``Buildout.__init__`` leaves it: defaults, then the extends chain folded
  by ``_update``, then command-line assignments, the ``versions`` section with
  its ``zc.buildout``/``zc.recipe.egg`` minimums, ``download-cache``,
  ``eggs-directory`` and ``extends-cache`` made absolute, and ``bin-``,
  ``parts-``, ``eggs-`` and ``develop-eggs-directory`` joined to
  ``directory`` (unless they hold ``${``): the data every section is resolved
  from (``<= buildout`` sees it too).  It is captured even when ``__init__``
  fails later (invalid ``offline``...).  Then each section's ``<`` macros are
  expanded by zc.buildout's own ``Options._do_extend_raw`` against it (which
  drops ``<``); ``[buildout]`` is never expanded (zc.buildout's rule).  raw is
  an error when loading failed before the merge was complete (parse,
  extends), or when expanding a section fails (first failing section, in
  sorted order).
* resolved: ``dict(buildout[name])`` for every section name, in this order:
  what ``Buildout.__init__`` resolves itself (``[buildout]``, then the
  versions section), then every section in sorted order.  The first exception
  makes the whole of resolved an error.
* Speed: ``SectionKey`` keeps only its last history item (the history serves
  ``buildout annotate`` only); values are unaffected.
* Recipes are never loaded: ``Options.initialize`` (the recipe
  load-and-construct step) is a no-op, so a section with a ``recipe`` keeps
  exactly its profile options.
* Machine-dependent values are NOT blanked.  ``executable`` is
  ``sys.executable`` of this interpreter and ``directory`` the absolute
  directory of the root profile: the Rust side gets the same interpreter facts
  (PythonEnv probe run by this same interpreter path) and the same absolute
  case paths, so the values must be equal.  ``~`` expands with ``$HOME``,
  which ``--home`` sets (the Rust side passes the same directory as
  ``LoadOptions::home``).
* Loading is offline-safe and side-effect free: user defaults
  (~/.buildout/default.cfg) are ignored as with ``buildout -U``; the
  directories ``Buildout.__init__`` would create (eggs, download cache) are
  not created (``os.makedirs``/``os.mkdir`` are no-ops during a load); the
  working directory is the root profile's directory during a load (as when running
  ``buildout`` there; ``optional-extends`` tests existence relative to it),
  zc.buildout's own ``os.chdir(buildout:directory)`` is skipped (so a
  ``directory`` that does not exist is no error) and the directory restored
  after; zc.buildout's logging and prints are dropped.
"""

import argparse
import contextlib
import copy
import json
import logging
import os
import sys
import types


def _import_buildout():
    # zc/buildout/configparser.py shadows the stdlib module when the working
    # directory is zc/buildout itself; never the case here, but be explicit.
    import zc.buildout  # noqa: F401  (patches pkg_resources first)
    import zc.buildout.buildout
    import zc.buildout.configparser

    return zc.buildout, zc.buildout.buildout, zc.buildout.configparser


zc_buildout, zc_buildout_buildout, zc_buildout_configparser = _import_buildout()

# The merged data, as returned by the wrapped _unannotate: the very dict
# that becomes Buildout._raw (so it is seen with __init__'s later in-place
# changes, even when __init__ fails afterwards).
_captured = {}
_original_unannotate = zc_buildout_buildout._unannotate


def _capturing_unannotate(data):
    result = _original_unannotate(data)
    _captured["raw"] = result
    return result


def _no_recipe(self):
    # The recipe entry point is never loaded nor constructed: the options
    # stay what the profile says.
    self.recipe = None


# Errors whose text is part of the contract (the CLI prints them as
# "Error: <text>", or they are the parser's and extends' own messages); for
# the others (NameError from a condition, KeyError, OSError...) only the
# failure itself is compared.
_MESSAGE_CHECKED = (
    zc_buildout.UserError,
    zc_buildout_configparser.Error,
    ValueError,
)

def _last_history_only(self, operation, value, source):
    # SectionKey keeps every operation for `buildout annotate`; only the last
    # one is ever read otherwise (`source`, `overrideValue`).  The full
    # history makes each merge deep-copy a quadratically growing structure
    # (minutes on a SlapOS-sized tree), so keep the last item only: values
    # and sources are unchanged.
    self.history = [zc_buildout_buildout.HistoryItem(operation, value, source)]


def install_patches(full_history=False):
    """Patch zc.buildout as described in the module docstring.

    ``full_history=True`` keeps ``SectionKey``'s whole history, i.e. the
    real zc.buildout's speed (bench/profile_timing.py times it that way).
    """
    zc_buildout_buildout._unannotate = _capturing_unannotate
    if not full_history:
        zc_buildout_buildout.SectionKey.addToHistory = _last_history_only
    zc_buildout_buildout.Options.initialize = _no_recipe


def parse_overrides(arguments):
    """Command-line assignments as zc.buildout.buildout.main parses them."""
    options = []
    for argument in arguments:
        option, value = argument.split("=", 1)
        option = option.split(":")
        if len(option) == 1:
            option = "buildout", option[0]
        elif len(option) != 2:
            raise ValueError("invalid override %r" % argument)
        section, option = option
        options.append((section.strip(), option.strip(), value.strip()))
    return options


def describe_error(error):
    checked = isinstance(error, _MESSAGE_CHECKED) and not isinstance(
        error, UnicodeError
    )
    return {"error": str(error), "type": type(error).__name__, "checked": checked}


@contextlib.contextmanager
def quiet_sandbox(directory):
    """cwd = directory, no chdir/mkdir by zc.buildout, output dropped."""
    previous_cwd = os.getcwd()
    makedirs, mkdir = os.makedirs, os.mkdir
    os.makedirs = lambda *args, **kwargs: None
    os.mkdir = lambda *args, **kwargs: None
    os.chdir(directory)
    chdir = os.chdir
    os.chdir = lambda path: None
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            yield
    finally:
        os.chdir = chdir
        os.makedirs, os.mkdir = makedirs, mkdir
        os.chdir(previous_cwd)
        for name in ("", "zc.buildout"):
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)


def expand_macros(snapshot):
    """Each section of the snapshot with its `<` macros expanded."""
    fake_buildout = types.SimpleNamespace(_raw=snapshot)
    expanded = {}
    for name in sorted(snapshot):
        options = zc_buildout_buildout.Options(fake_buildout, name, snapshot[name])
        data = options._do_extend_raw(name, copy.deepcopy(snapshot[name]), [])
        expanded[name] = dict(data)
    return expanded


def read_case(case_directory):
    """The root profile and parsed overrides of a case directory."""
    settings = {}
    settings_path = os.path.join(case_directory, "case.json")
    if os.path.exists(settings_path):
        with open(settings_path) as settings_file:
            settings = json.load(settings_file)
    root = os.path.join(case_directory, settings.get("file", "buildout.cfg"))
    return root, parse_overrides(settings.get("overrides", []))


def load_buildout(root, overrides):
    """``Buildout`` as the CLI builds it, without user defaults (``-U``).

    Call inside ``quiet_sandbox(os.path.dirname(root))``.
    """
    return zc_buildout_buildout.Buildout(root, overrides, use_user_defaults=False)


def resolve_sections(buildout):
    """``dict(buildout[name])`` for every section, in sorted order."""
    return {name: dict(buildout[name]) for name in sorted(buildout.keys())}


def dump_case(case_directory):
    case_directory = os.path.abspath(case_directory)
    root, overrides = read_case(case_directory)

    _captured.clear()
    result = {"case": case_directory}
    buildout = None
    with quiet_sandbox(os.path.dirname(root)):
        try:
            buildout = load_buildout(root, overrides)
        except Exception as error:  # noqa: BLE001 (reported, not hidden)
            result["resolved"] = describe_error(error)
        snapshot = copy.deepcopy(_captured.get("raw"))
        if snapshot is None:
            result["raw"] = result["resolved"]
        else:
            try:
                result["raw"] = expand_macros(snapshot)
            except Exception as error:  # noqa: BLE001
                result["raw"] = describe_error(error)
        if buildout is not None:
            try:
                result["resolved"] = resolve_sections(buildout)
            except Exception as error:  # noqa: BLE001
                result["resolved"] = describe_error(error)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="$HOME while loading (for ~ expansion)")
    parser.add_argument("cases", nargs="*", help="case directories (else stdin)")
    arguments = parser.parse_args()
    install_patches()
    if arguments.home:
        os.environ["HOME"] = arguments.home
    cases = arguments.cases or [line.strip() for line in sys.stdin if line.strip()]
    out = sys.stdout
    for case in cases:
        out.write(json.dumps(dump_case(case), sort_keys=True) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
