"""Runs one code option (init, install or update) of a slapos.recipe.build
part for the Rust engine (build_python.rs).

Usage: python -c <this file> REQUEST RESULT. REQUEST is a JSON object:
phase, name, code, options (the part's options), buildout (sections by
name). The code runs with the globals of slapos.recipe.build's Script:
self, options, location, call, guessworkdir, is_true (plus os, sys,
shutil, subprocess, logging). RESULT receives {"options": {...}} (the
options after the run) or {"error": "<last lines of the traceback>"}.
Standard output is redirected to standard error: stdout carries no result.
"""
import errno
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

TRACEBACK_LINES_MAX = 15


class UserError(Exception):
    """zc.buildout's UserError: a message without traceback."""


def is_true(value, default=False):
    return default if value is None else ('false', 'true').index(value)


def guessworkdir(path):
    entries = os.listdir(path)
    if len(entries) == 1 and os.path.isdir(os.path.join(path, entries[0])):
        return os.path.join(path, entries[0])
    return path


def call(*args, **kw):
    """subprocess.check_call (its output goes to standard error)."""
    subprocess.check_call(*args, **kw)


class Script(object):
    """The `self` of the code: what this engine supports of
    slapos.recipe.build's Script."""

    def __init__(self, name, options, buildout, scratch):
        self.name = name
        self.options = options
        self.buildout = buildout
        self.logger = logging.getLogger(name)
        self.environ = dict(os.environ)
        self._scratch = scratch

    def _temporary(self, prefix):
        return tempfile.mkdtemp(prefix=prefix, dir=self._scratch)

    def download(self, url=None, md5sum=None, *args, **kw):
        """url (default: option url) fetched with urllib: file://, http://,
        https:// or a local path; checked against md5sum (default: option
        md5sum). Returns the path of the downloaded file."""
        import urllib.request
        url = url or self.options['url']
        if md5sum is None:
            md5sum = self.options.get('md5sum') if url == self.options.get('url') else None
        scheme = url.split(':', 1)[0] if '://' in url else ''
        if scheme not in ('', 'file', 'http', 'https'):
            raise UserError('download: unsupported URL scheme in %r '
                            '(this engine fetches file://, http:// and https://)' % url)
        path = os.path.join(self._temporary('download-'),
                            os.path.basename(url.rstrip('/')) or 'download')
        if scheme:
            with urllib.request.urlopen(url) as source, open(path, 'wb') as sink:
                shutil.copyfileobj(source, sink)
        else:
            shutil.copyfile(url, path)
        if md5sum:
            digest = hashlib.md5()
            with open(path, 'rb') as source:
                for chunk in iter(lambda: source.read(1 << 16), b''):
                    digest.update(chunk)
            if digest.hexdigest() != md5sum:
                raise UserError('MD5 checksum mismatch downloading %r' % url)
        return path

    def extract(self, path, *ignored, **kw):
        """The archive at path unpacked (shutil.unpack_archive: tar, gz,
        bz2, xz, zip) in a temporary directory; returns guessworkdir of it."""
        destination = self._temporary('extract-')
        shutil.unpack_archive(path, destination)
        return guessworkdir(destination)

    def copyTree(self, source, destination, ignore_dir_list=()):
        """source (a file or a tree, symlinks kept) copied to destination,
        which is removed if the copy fails."""
        try:
            if os.path.isdir(source):
                shutil.copytree(source, destination, symlinks=True,
                                ignore=shutil.ignore_patterns(*ignore_dir_list))
            else:
                shutil.copy2(source, destination)
        except BaseException:
            if os.path.isdir(destination) and not os.path.islink(destination):
                shutil.rmtree(destination, ignore_errors=True)
            elif os.path.lexists(destination):
                os.remove(destination)
            raise

    def applyPatchList(self, *args, **kw):
        raise NotImplementedError('self.applyPatchList is not supported by this engine')

    def pipeCommand(self, *args, **kw):
        raise NotImplementedError('self.pipeCommand is not supported by this engine')


def run(request, scratch):
    name = request['name']
    options = dict(request['options'])
    self = Script(name, options, request['buildout'], scratch)
    code = compile(request['code'], '[%s] %s' % (name, request['phase']), 'exec')
    namespace = dict(
        __name__='__buildout__', errno=errno, os=os, sys=sys, shutil=shutil,
        subprocess=subprocess, logging=logging, UserError=UserError,
        self=self, options=options, location=options.get('location'),
        call=call, guessworkdir=guessworkdir, is_true=is_true)
    exec(code, namespace)
    for key, value in options.items():
        if not isinstance(value, str):
            raise UserError('Option values must be strings: %s:%s = %r' % (name, key, value))
    return options


def main():
    request_path, result_path = sys.argv[1], sys.argv[2]
    sys.stdout.flush()
    os.dup2(2, 1)
    with open(request_path) as request_file:
        request = json.load(request_file)
    scratch = tempfile.mkdtemp(prefix='slapos-build-')
    try:
        result = {'options': run(request, scratch)}
    except UserError as error:
        result = {'error': str(error)}
    except BaseException:
        lines = traceback.format_exc().rstrip('\n').split('\n')
        result = {'error': '\n'.join(lines[-TRACEBACK_LINES_MAX:])}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    with open(result_path, 'w') as result_file:
        json.dump(result, result_file)


main()
