"""Record what the real template recipes write, as goldens.

The reference side of crates/profile's recipe_template test
(crates/profile/tests/it/recipe_template.rs).  For each case
``cases/NAME.cfg`` it copies the profile (as ``buildout.cfg``) and the shared
``files/`` directory into a fresh temporary directory, runs a real
``zc.buildout`` 6.0.1 install there (offline, user defaults ignored, umask
022) with the real slapos.recipe.template 5.1 (default and ``:jinja2``) and
collective.recipe.template 2.2 from the reference venv, and writes
``cases/NAME.json``:

    {"files": {"out/x": {"text": "...", "mode": "0644"}, ...},
     "error": null | {"message": "...", "checked": bool}}

``files`` lists every file under ``out/`` after the run (also when it
failed: parts installed before the error stay).  The temporary directory's
path is written ``@DIR@`` in texts and messages.  ``checked`` says the
message is zc.buildout's or the recipe's own ``UserError`` text (compared);
otherwise (a Jinja2 or Python exception) only the failure is compared.

zc.buildout on PyPI is upstream's; SlapOS runs its fork, whose rules
(spec §7.2, §7.3) the template recipes see.  A small shim reproduces them
here, and nothing else: a final read of an option (``options[key]``,
``options.get(key)`` outside substitution) turns ``$${`` into ``${`` and
decodes a ``!py!`` value (restricted eval), and ``zc.buildout.buildout.dumps``
(which slapos.recipe.template:jinja2 exposes as ``dumps``) writes ``!py!`` +
``repr`` with ``$`` and ``;`` escaped.

Run (rewrites every ``cases/*.json``):

    $SLAPOS_VENV/bin/python crates/profile/test_data/template/render.py
"""

import builtins
import glob
import json
import logging
import os
import shutil
import sys
import tempfile

import zc.buildout
import zc.buildout.buildout as zbb

HERE = os.path.dirname(os.path.abspath(__file__))

# --- the SlapOS fork's rules (spec §7.2, §7.3) -----------------------------

_PY_BUILTINS = {name: getattr(builtins, name) for name in
                'bytearray complex frozenset set dict list str tuple'.split()}


def _decode(text):
    return eval(text, {'__builtins__': _PY_BUILTINS})


def dumps(value):
    text = repr(value)
    if _decode(text) != value:
        raise ValueError("Value can't be serialized: %r" % (value,))
    return '!py!' + text.replace('$', '\\x24').replace(';', '\\x3b')


def _final(value):
    if isinstance(value, str):
        if value.startswith('!py!'):
            return _decode(value[4:])
        return value.replace('$${', '${')
    return value


_original_get = zbb.Options.get


def _get(self, option, default=None, seen=None):
    value = _original_get(self, option, default, seen)
    if seen is None and value is not default:
        return _final(value)
    return value


def _getitem(self, key):
    value = _original_get(self, key)
    if value is None:
        raise zbb.MissingOption("Missing option: %s:%s" % (self.name, key))
    return _final(value)


zbb.dumps = dumps
zbb.Options.get = _get
zbb.Options.__getitem__ = _getitem

# --- running a case ---------------------------------------------------------


def collect(directory):
    files = {}
    out = os.path.join(directory, 'out')
    for root, _, names in os.walk(out):
        for name in names:
            path = os.path.join(root, name)
            with open(path, 'rb') as f:
                text = f.read().decode('utf-8')
            files[os.path.relpath(path, directory)] = {
                'text': text.replace(directory, '@DIR@'),
                'mode': '%04o' % (os.stat(path).st_mode & 0o7777),
            }
    return dict(sorted(files.items()))


def run(cfg):
    directory = os.path.realpath(tempfile.mkdtemp(prefix='template-golden-'))
    cwd = os.getcwd()
    try:
        shutil.copy(cfg, os.path.join(directory, 'buildout.cfg'))
        shutil.copytree(os.path.join(HERE, 'files'),
                        os.path.join(directory, 'files'))
        os.chdir(directory)
        error = None
        try:
            buildout = zbb.Buildout(
                os.path.join(directory, 'buildout.cfg'),
                [('buildout', 'offline', 'true')],
                use_user_defaults=False)
            buildout.install([])
        except zc.buildout.UserError as e:
            error = {'message': str(e), 'checked': True}
        except Exception as e:
            error = {'message': '%s: %s' % (type(e).__name__, e),
                     'checked': False}
        if error:
            error['message'] = error['message'].replace(directory, '@DIR@')
        return {'files': collect(directory), 'error': error}
    finally:
        os.chdir(cwd)
        shutil.rmtree(directory)


def main():
    os.umask(0o022)
    logging.disable(logging.CRITICAL)
    cases = sorted(glob.glob(os.path.join(HERE, 'cases', '*.cfg')))
    for cfg in cases:
        result = run(cfg)
        with open(cfg[:-len('.cfg')] + '.json', 'w') as f:
            json.dump(result, f, indent=1, sort_keys=True, ensure_ascii=False)
            f.write('\n')
    print('render.py: %d cases' % len(cases), file=sys.stderr)


if __name__ == '__main__':
    main()
