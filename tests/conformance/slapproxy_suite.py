#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""Run the slapproxy test suites shipped in slapos.core 1.26.1 against an
EXTERNAL master server (spec: /work/shared/spec/slap-protocol.md, section 9).

The unmodified test modules ``slapos.tests.test_slapproxy`` and
``slapos.tests.test_slapproxy_json_rpc`` are imported from the reference venv
and a few hooks of their base classes are replaced by an adapter:

* ``BasicMixin.startProxy``: start a fresh server process per test, on a free
  127.0.0.1 port, with a fresh temp directory and configuration file (the
  test's own ``slapos.cfg`` with ``[slapproxy] host/port`` rewritten, so
  ``[slapos] computer_id = computer`` and ``database_uri = <tmp>/lib/proxy.db``),
  wait until it answers HTTP; ``self.app`` becomes a requests-backed client
  with the Flask test client's interface, sending ``Host: localhost``.
* ``tearDown`` (and a cleanup registered at start, so it also runs when
  setUp fails): stop the server by its pid (SIGTERM, then SIGKILL).
* ``TestCliInformation``: the server is started on our per-test port instead
  of ``$SLAPOS_TEST_IPV4:8080``; the CLI runs from the venv as in the original.
* Tests that mutate the in-process Flask config get the same settings through
  the configuration file instead (software_product_list, multimaster
  sections); tests expecting an exception raised by the in-process server get
  it raised by the client for the matching HTTP status; the one test that
  mocks ``time.time`` to simulate a clock jump waits for the real clock.
* Tests that cannot be ported are listed in slapproxy-skips.txt.

Server under test:
  --server python            `<venv>/bin/slapos proxy start --cfg CFG`
  --server rust --binary B   `B proxy start --cfg CFG`

Output: one line per test, a summary per suite, then a last line
``N passed, N failed, N skipped``.  Exit status 1 when a test fails that is
not listed in the known-failures file, 2 on usage/setup errors.

Must run with the venv's python (it re-executes itself with
``$SLAPOS_VENV/bin/python`` when slapos is not importable).
"""

from __future__ import print_function

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_VENV = os.environ.get('SLAPOS_VENV', '/var/cache/slapos-rs/venv')
REEXEC_GUARD = 'SLAPOS_RS_SUITE_REEXEC'


def _pre_parse_venv(argv):
  for i, arg in enumerate(argv):
    if arg == '--venv' and i + 1 < len(argv):
      return argv[i + 1]
    if arg.startswith('--venv='):
      return arg.split('=', 1)[1]
  return DEFAULT_VENV


def _ensure_venv():
  """Re-exec with the venv python when slapos.core is not importable here."""
  try:
    import slapos.slap  # noqa: F401
    import slapos.proxy  # noqa: F401
    import requests  # noqa: F401
    return
  except ImportError as e:
    error = e
  venv = os.path.abspath(_pre_parse_venv(sys.argv[1:]))
  python = os.path.join(venv, 'bin', 'python')
  if os.environ.get(REEXEC_GUARD) or not os.access(python, os.X_OK):
    sys.stderr.write(
      'slapproxy_suite: cannot import slapos.core (%s) and no usable venv at %s;\n'
      'run tests/python/setup-venv.sh first\n' % (error, venv))
    sys.exit(2)
  os.environ[REEXEC_GUARD] = '1'
  os.execv(python, [python, os.path.abspath(__file__)] + sys.argv[1:])


if __name__ == '__main__':
  _ensure_venv()

import argparse  # noqa: E402
import atexit  # noqa: E402
import configparser  # noqa: E402
import ctypes  # noqa: E402
import fnmatch  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import unittest  # noqa: E402
from urllib.parse import urlencode, urlsplit  # noqa: E402

try:
  import mock  # noqa: F401  (the test modules do `import mock`)
except ImportError:  # pragma: no cover - setup-venv.sh installs it
  import unittest.mock
  sys.modules['mock'] = unittest.mock

import requests  # noqa: E402

SUITES = ('test_slapproxy', 'test_slapproxy_json_rpc')
DEFAULT_SKIPS = os.path.join(HERE, 'slapproxy-skips.txt')
DEFAULT_KNOWN_FAILURES = os.path.join(HERE, 'slapproxy-known-failures.txt')


###########################################################################
# Server processes
###########################################################################

_LIVE_PROCESSES = {}  # pid -> Popen; everything we started and not reaped


def _set_pdeathsig():
  """Child side: get SIGTERM if the harness dies without cleaning up."""
  try:
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_PDEATHSIG = 1
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
  except Exception:
    pass


def stop_process(proc, timeout=5.0):
  """Stop one process we started, by its pid: SIGTERM, then SIGKILL."""
  if proc is None:
    return
  try:
    if proc.poll() is None:
      os.kill(proc.pid, signal.SIGTERM)
      try:
        proc.wait(timeout)
      except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout)
  except ProcessLookupError:
    pass
  finally:
    _LIVE_PROCESSES.pop(proc.pid, None)


def _stop_all_processes():
  for proc in list(_LIVE_PROCESSES.values()):
    stop_process(proc)


atexit.register(_stop_all_processes)


class Terminated(KeyboardInterrupt):
  """Raised by the SIGTERM handler (unittest re-raises KeyboardInterrupt)."""


_TERMINATING = []


def _sigterm_handler(signum, frame):
  _TERMINATING.append(signum)
  _stop_all_processes()
  raise Terminated('signal %d' % signum)


def free_port():
  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
  try:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]
  finally:
    s.close()


def _no_env_session():
  session = requests.Session()
  session.trust_env = False  # never go through an environment proxy
  return session


class ServerStartError(Exception):
  pass


class ServerCommand(object):
  """How to launch the server under test for a given configuration file."""

  def __init__(self, kind, binary=None, venv=DEFAULT_VENV):
    self.kind = kind
    if kind == 'python':
      self.program = os.path.join(venv, 'bin', 'slapos')
    else:
      self.program = os.path.abspath(binary)
    if not os.access(self.program, os.X_OK):
      raise SystemExit('slapproxy_suite: server program %s is not executable'
                       % self.program)

  def argv(self, cfg):
    return [self.program, 'proxy', 'start', '--cfg', cfg]

  def describe(self):
    return '%s proxy start --cfg CFG' % self.program

  def start(self, cfg, port, log_path, timeout):
    """Start the server and wait until it answers HTTP on 127.0.0.1:port."""
    if _TERMINATING:
      raise Terminated('terminating')
    env = dict(os.environ)
    for name in ('SLAPOS_CONFIGURATION', 'SLAPOS_CLIENT_CONFIGURATION',
                 'http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY',
                 'all_proxy', 'ALL_PROXY', REEXEC_GUARD):
      env.pop(name, None)
    env['NO_PROXY'] = env['no_proxy'] = '*'
    with open(log_path, 'ab') as log:
      with open(cfg, 'rb') as f:
        cfg_content = f.read()
      log.write(('--- %s: %s\n--- %s:\n' % (
        time.strftime('%H:%M:%S'), ' '.join(self.argv(cfg)), cfg)).encode())
      log.write(cfg_content.rstrip(b'\n') + b'\n---\n')
      log.flush()
      proc = subprocess.Popen(
        self.argv(cfg), stdin=subprocess.DEVNULL, stdout=log,
        stderr=subprocess.STDOUT, cwd=os.path.dirname(cfg), env=env,
        preexec_fn=_set_pdeathsig)
    _LIVE_PROCESSES[proc.pid] = proc
    url = 'http://127.0.0.1:%d/' % port
    session = _no_env_session()
    deadline = time.time() + timeout
    delay = 0.05
    try:
      while True:
        if proc.poll() is not None:
          raise ServerStartError('server exited with status %s before answering '
                                 'on port %d' % (proc.returncode, port))
        try:
          session.get(url, headers={'Host': 'localhost'}, timeout=2,
                      allow_redirects=False)
          return proc
        except requests.RequestException:
          pass
        if time.time() > deadline:
          raise ServerStartError('server did not answer on port %d within %ss'
                                 % (port, timeout))
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    except BaseException:
      stop_process(proc)
      raise
    finally:
      session.close()


###########################################################################
# Flask-test-client compatible HTTP client
###########################################################################

def _iter_form(data):
  """Like werkzeug.test._iter_data: mappings, MultiDicts, lists of values."""
  if hasattr(data, 'items') and hasattr(data, 'getlist'):
    items = data.items(multi=True)
  elif hasattr(data, 'items'):
    items = data.items()
  else:
    items = data
  for key, value in items:
    if isinstance(value, list):
      for v in value:
        yield key, v
    else:
      yield key, value


def _urlencode(pairs):
  # werkzeug.urls._urlencode: None values are dropped.
  return urlencode([(k, v) for k, v in pairs if v is not None],
                   safe="!$'()*,/:;?@")


class AdapterResponse(object):
  """The subset of werkzeug's test response used by the tests."""

  def __init__(self, response):
    self.raw = response
    self.status_code = response.status_code
    self._status_code = response.status_code
    self.status = ('%d %s' % (response.status_code, response.reason or '')).strip()
    self.data = response.content
    self.headers = response.headers
    self.content_type = response.headers.get('Content-Type')
    self.mimetype = (self.content_type or '').split(';')[0].strip().lower()

  @property
  def is_json(self):
    mt = self.mimetype
    return mt == 'application/json' or (mt.startswith('application/')
                                        and mt.endswith('+json'))

  def get_data(self, as_text=False):
    return self.data.decode('utf-8') if as_text else self.data

  @property
  def text(self):
    return self.get_data(as_text=True)

  def get_json(self, force=False, silent=False):
    if not (force or self.is_json):
      return None
    try:
      return json.loads(self.data)
    except ValueError:
      if silent:
        return None
      raise

  @property
  def json(self):
    return self.get_json()

  def __repr__(self):
    return '<AdapterResponse [%s]>' % self.status


class AppClient(object):
  """requests-backed stand-in for ``flask.Flask.test_client()``.

  Every request carries ``Host: localhost`` (what the test client sends),
  redirects are not followed, and ``raise_on`` optionally turns a response
  status into the exception the in-process server would have raised.
  """

  def __init__(self, base_url, host='localhost', raise_on=None):
    self.base_url = base_url.rstrip('/')
    self.host = host
    self.raise_on = raise_on  # (exception class, predicate(status))
    self.session = _no_env_session()

  def open(self, path='/', method='GET', data=None, json=None,
           query_string=None, headers=None, content_type=None,
           follow_redirects=False, **unsupported):
    if unsupported:
      raise TypeError('AppClient.open: unsupported arguments %s'
                      % sorted(unsupported))
    if not path.startswith('/'):
      path = '/' + path
    split = urlsplit(path)
    query = split.query
    if query_string is not None:
      if isinstance(query_string, (str, bytes)):
        extra = query_string.decode() if isinstance(query_string, bytes) else query_string
      else:
        extra = _urlencode(_iter_form(query_string))
      query = '&'.join(q for q in (query, extra) if q)
    url = self.base_url + split.path + ('?' + query if query else '')

    request_headers = {'Host': self.host}
    body = None
    if json is not None:
      if data is not None:
        raise TypeError("can't provide both json and data")
      import json as json_module
      body = json_module.dumps(json).encode('utf-8')
      request_headers['Content-Type'] = content_type or 'application/json'
    elif data is not None:
      if isinstance(data, str):
        body = data.encode('utf-8')
      elif isinstance(data, bytes):
        body = data
      elif hasattr(data, 'read'):
        body = data.read()
      else:
        body = _urlencode(_iter_form(data)).encode('ascii')
        request_headers['Content-Type'] = 'application/x-www-form-urlencoded'
      if content_type:
        request_headers['Content-Type'] = content_type
    elif content_type:
      request_headers['Content-Type'] = content_type
    if headers:
      items = headers.items() if hasattr(headers, 'items') else headers
      for key, value in items:
        for existing in list(request_headers):
          if existing.lower() == key.lower():
            del request_headers[existing]
        request_headers[key] = value
    response = self.session.request(
      method, url, data=body, headers=request_headers,
      allow_redirects=follow_redirects, timeout=120)
    result = AdapterResponse(response)
    if self.raise_on is not None:
      exception, predicate = self.raise_on
      if predicate(result.status_code):
        raise exception('%s %s -> %s (adapter: the in-process server raises %s)'
                        % (method, path, result.status, exception.__name__))
    return result

  def get(self, path='/', **kw):
    return self.open(path, method='GET', **kw)

  def post(self, path='/', **kw):
    return self.open(path, method='POST', **kw)

  def put(self, path='/', **kw):
    return self.open(path, method='PUT', **kw)

  def delete(self, path='/', **kw):
    return self.open(path, method='DELETE', **kw)

  def head(self, path='/', **kw):
    return self.open(path, method='HEAD', **kw)

  def close(self):
    self.session.close()


###########################################################################
# Adapter: hooks patched into the test modules
###########################################################################

def short_id(test_id):
  prefix = 'slapos.tests.'
  return test_id[len(prefix):] if test_id.startswith(prefix) else test_id


# Tests that mutate views.app.config in-process: same settings through the
# configuration file instead.  {test id or class id: {section: {key: value}}}
CONFIG_EXTRAS = {
  'test_slapproxy.TestInformation.'
  'test_getSoftwareReleaseListFromSoftwareProduct_software_product_reference': {
    'slapproxy': {'software_product_list': '\nmy_product my_url'}},
  'test_slapproxy.TestInformation.'
  'test_getSoftwareReleaseListFromSoftwareProduct_noSoftwareProduct': {
    'slapproxy': {'software_product_list': '\nrandom random'}},
}

DEAD_MASTER_URL = 'http://127.0.0.1:9'
DEAD_MASTER_PARTITION_URL = 'http://127.0.0.1:10'
DEAD_MASTER_SECTIONS = {
  'multimaster/' + DEAD_MASTER_URL: {
    'software_release_list': '\nhttp://dead.example/software.cfg'},
  'multimaster/' + DEAD_MASTER_PARTITION_URL: {
    'software_release_list': '\nhttps://example.com/software.cfg',
    'computer': 'COMP-12345',
    'partition': 'slappart1'},
}


def _status_in(*codes):
  codes = frozenset(codes)
  return lambda status: status in codes


def _status_error(status):
  return status >= 400


def _raise_on_table():
  import slapos.slap
  not_found = (slapos.slap.NotFoundError, _status_in(404, 500))
  assertion = (AssertionError, _status_error)
  return {
    # In-process, NotFoundError propagates out of the view (TESTING=True);
    # over HTTP the Python proxy answers 500 (uncaught), 404 is recommended.
    'test_slapproxy.TestInformation.test_getComputerInformation_wrong_computer':
      not_found,
    'test_slapproxy.TestMultiNodeSupport.'
    'test_multi_node_support_getComputerInformation': not_found,
    # In-process, an `assert` in the view propagates; over HTTP: any error.
    'test_slapproxy.TestInformation.'
    'test_getSoftwareReleaseListFromSoftwareProduct_bothParameter': assertion,
    'test_slapproxy.TestInformation.'
    'test_getSoftwareReleaseListFromSoftwareProduct_noParameter': assertion,
  }


class Adapter(object):

  def __init__(self, command, session_dir, keep_logs, startup_timeout):
    self.command = command
    self.session_dir = session_dir
    self.keep_logs = keep_logs
    self.startup_timeout = startup_timeout
    self.raise_on = _raise_on_table()
    self.current_log = None

  # -- per-test state -------------------------------------------------------

  def log_path(self, test):
    return os.path.join(self.session_dir, short_id(test.id()) + '.server.log')

  def extra_config(self, test):
    extras = {}
    tid = short_id(test.id())
    for key in (tid.rsplit('.', 1)[0], tid):
      for section, values in CONFIG_EXTRAS.get(key, {}).items():
        extras.setdefault(section, {}).update(values)
    for section, values in getattr(test, '_adapter_extra_config', {}).items():
      extras.setdefault(section, {}).update(values)
    return extras

  def write_config(self, test, port):
    parser = configparser.RawConfigParser()
    parser.read(test.slapos_cfg)
    for section in ('slapos', 'slapproxy'):
      if not parser.has_section(section):
        parser.add_section(section)
    if not parser.has_option('slapos', 'computer_id'):
      parser.set('slapos', 'computer_id', 'computer')
    if not parser.has_option('slapproxy', 'database_uri'):
      parser.set('slapproxy', 'database_uri', test.proxy_db)
    parser.set('slapproxy', 'host', '127.0.0.1')
    parser.set('slapproxy', 'port', str(port))
    for section, values in self.extra_config(test).items():
      if not parser.has_section(section):
        parser.add_section(section)
      for key, value in values.items():
        parser.set(section, key, value)
    test._adapter_starts = getattr(test, '_adapter_starts', 0) + 1
    path = os.path.join(test._tempdir,
                        'slapproxy-server-%d.cfg' % test._adapter_starts)
    with open(path, 'w') as f:
      parser.write(f)
    return path

  def start(self, test):
    """Replacement of BasicMixin.startProxy / CliMasterMixin.startProxy."""
    self.stop(test)  # restart (TestLocalSoftwareReleaseRootPathMigration)
    if not getattr(test, '_adapter_cleanup_registered', False):
      test.addCleanup(self.cleanup, test)
      test._adapter_cleanup_registered = True
    fixed_port = getattr(test, '_adapter_fixed_port', None)
    log_path = self.log_path(test)
    self.current_log = log_path
    attempts = 1 if fixed_port else 3
    for attempt in range(attempts):
      port = fixed_port or free_port()
      cfg = self.write_config(test, port)
      try:
        proc = self.command.start(cfg, port, log_path, self.startup_timeout)
        break
      except ServerStartError as e:
        if attempt + 1 == attempts:
          raise ServerStartError('%s; server log %s:\n%s'
                                 % (e, log_path, tail(log_path, 30)))
    test._adapter_process = proc
    test._adapter_port = port
    test._adapter_base_url = 'http://127.0.0.1:%d' % port
    test.app = AppClient(test._adapter_base_url,
                         raise_on=self.raise_on.get(short_id(test.id())))
    # What in-process tests would mutate; mutations have no effect here
    # (the equivalent settings are in CONFIG_EXTRAS / _adapter_extra_config).
    test.app_config = {'computer_id': 'computer', 'software_product_list': {},
                       'multimaster': {}}

  def stop(self, test):
    proc = getattr(test, '_adapter_process', None)
    if proc is not None:
      stop_process(proc)
      test._adapter_process = None
    app = getattr(test, 'app', None)
    if isinstance(app, AppClient):
      app.close()

  def cleanup(self, test):
    self.stop(test)
    tempdir = getattr(test, '_tempdir', None)
    if tempdir and os.path.isdir(tempdir):
      shutil.rmtree(tempdir, True)

  # -- patching -------------------------------------------------------------

  def install(self, modules):
    tsp = modules['test_slapproxy']
    tjr = modules['test_slapproxy_json_rpc']
    adapter = self
    BasicMixin = tsp.BasicMixin
    original_basic_teardown = BasicMixin.tearDown
    original_basic_setup = BasicMixin.setUp

    def startProxy(self):
      adapter.start(self)

    def tearDown(self):
      adapter.stop(self)
      original_basic_teardown(self)

    BasicMixin.startProxy = startProxy
    BasicMixin.tearDown = tearDown

    # CLI tests: our per-test port instead of $SLAPOS_TEST_IPV4:8080.
    def cli_createSlapOSConfigurationFile(self):
      port = self._adapter_fixed_port = free_port()
      self.proxyaddr = 'http://127.0.0.1:%d' % port
      with open(self.slapos_cfg, 'w') as f:
        f.write("""[slapos]
software_root = %(rootdir)s/opt/slapgrid
instance_root = %(rootdir)s/srv/slapgrid
master_url = %(proxyaddr)s
master_rest_url = %(proxyaddr)s/hateoas
computer_id = computer
[slapproxy]
host = 127.0.0.1
port = %(port)d
database_uri = %(rootdir)s/lib/proxy.db
""" % {'rootdir': self._rootdir, 'proxyaddr': self.proxyaddr, 'port': port})

    tsp.CliMasterMixin.createSlapOSConfigurationFile = \
      cli_createSlapOSConfigurationFile
    tsp.CliMasterMixin.startProxy = startProxy
    tsp.CliMasterMixin.tearDown = tearDown

    # Moving the proxy directory: stop the server before the rename.
    migration = tsp.TestLocalSoftwareReleaseRootPathMigration
    original_move = migration.moveProxy

    def moveProxy(self, *args, **kw):
      adapter.stop(self)
      return original_move(self, *args, **kw)
    migration.moveProxy = moveProxy

    # Dead-master tests: multimaster sections in the configuration file
    # instead of app.config mutation; the in-process sanity check of
    # checkIfMasterIsCurrentMaster() is not repeated.
    def dead_master_setUp(self):
      self.dead_master_url = DEAD_MASTER_URL
      self.dead_master_partition_url = DEAD_MASTER_PARTITION_URL
      self._adapter_extra_config = DEAD_MASTER_SECTIONS
      original_basic_setup(self)

    tsp.TestMultiMasterConnectionError.setUp = dead_master_setUp
    tjr.JsonRpcConnectionErrorTestCase.setUp = dead_master_setUp

    # test_put_v0_software_instance_bang_instance simulates "one second
    # later" with mock.patch('time.time'); the external server does not see
    # that mock, so wait for the real clock instead.
    tjr.mock = _ClockMock(tjr.mock)


class _WaitForClock(object):
  def __init__(self, target, limit=5.0):
    self.target = target
    self.limit = limit

  def __enter__(self):
    try:
      target = float(self.target)
    except (TypeError, ValueError):
      return None
    deadline = time.time() + self.limit
    while True:
      now = time.time()
      if now >= target or now >= deadline:
        return None
      time.sleep(min(0.05, target - now))

  def __exit__(self, *exc):
    return False


class _ClockPatch(object):
  def __init__(self, real_patch):
    self._real = real_patch

  def __call__(self, target, *args, **kw):
    if target == 'time.time' and not args and set(kw) == {'return_value'}:
      return _WaitForClock(kw['return_value'])
    return self._real(target, *args, **kw)

  def __getattr__(self, name):
    return getattr(self._real, name)


class _ClockMock(object):
  def __init__(self, real_mock):
    self._real = real_mock
    self.patch = _ClockPatch(real_mock.patch)

  def __getattr__(self, name):
    return getattr(self._real, name)


###########################################################################
# Lists (skips, known failures) and selection
###########################################################################

class TestList(object):
  """``<test id or glob>  # reason`` lines; a class id matches its tests."""

  def __init__(self, path=None):
    self.path = path
    self.entries = []  # [pattern, reason, used]
    if path:
      with open(path) as f:
        for line in f:
          line = line.strip()
          if not line or line.startswith('#'):
            continue
          pattern, _, reason = line.partition('#')
          self.entries.append([pattern.strip(), reason.strip(), False])

  def match(self, test_id):
    for entry in self.entries:
      pattern = entry[0]
      if (test_id == pattern or test_id.startswith(pattern + '.')
          or fnmatch.fnmatchcase(test_id, pattern)):
        entry[2] = True
        return entry[1] or 'listed in %s' % os.path.basename(self.path)
    return None


def selected(test_id, patterns):
  if not patterns:
    return True
  for pattern in patterns:
    if any(c in pattern for c in '*?['):
      if fnmatch.fnmatchcase(test_id, pattern) or \
         fnmatch.fnmatchcase(test_id, '*' + pattern + '*'):
        return True
    elif pattern in test_id:
      return True
  return False


def iter_tests(suite):
  for test in suite:
    if isinstance(test, unittest.TestSuite):
      for t in iter_tests(test):
        yield t
    else:
      yield test


def tail(path, lines):
  try:
    with open(path, 'rb') as f:
      content = f.read().decode('utf-8', 'replace').splitlines()
  except OSError:
    return '(no server log)'
  return '\n'.join(content[-lines:])


###########################################################################
# Result collection
###########################################################################

def one_line(err):
  exc_type, value, _ = err
  text = ''.join(traceback.format_exception_only(exc_type, value)).strip()
  text = ' '.join(text.split())
  return text if len(text) <= 300 else text[:297] + '...'


class Recorder(unittest.TestResult):
  def __init__(self, harness):
    super(Recorder, self).__init__()
    self.harness = harness
    self.outcome = None

  def startTest(self, test):
    super(Recorder, self).startTest(test)
    self.outcome = {'status': 'PASS', 'reason': '', 'traceback': ''}
    self.started = time.time()

  def _fail(self, test, err, kind):
    if self.outcome['status'] == 'FAIL':  # keep the first error, add others
      self.outcome['traceback'] += '\n' + self._exc_info_to_string(err, test)
      return
    self.outcome.update(status='FAIL', reason='%s: %s' % (kind, one_line(err)),
                        traceback=self._exc_info_to_string(err, test))

  def addError(self, test, err):
    super(Recorder, self).addError(test, err)
    self._fail(test, err, 'error')

  def addFailure(self, test, err):
    super(Recorder, self).addFailure(test, err)
    self._fail(test, err, 'failure')

  def addSubTest(self, test, subtest, err):
    super(Recorder, self).addSubTest(test, subtest, err)
    if err is not None:
      self._fail(test, err, 'failure' if issubclass(err[0], test.failureException)
                 else 'error')

  def addSkip(self, test, reason):
    super(Recorder, self).addSkip(test, reason)
    self.outcome.update(status='SKIP', reason=reason)

  def addExpectedFailure(self, test, err):
    super(Recorder, self).addExpectedFailure(test, err)

  def addUnexpectedSuccess(self, test):
    super(Recorder, self).addUnexpectedSuccess(test)
    self.outcome.update(status='FAIL', reason='unexpected success')


class Harness(object):

  def __init__(self, args):
    self.args = args
    self.results = []

  def emit(self, status, test_id, detail='', duration=None):
    line = '%-4s %s' % (status, test_id)
    if duration is not None:
      line += ' (%.1fs)' % duration
    if detail:
      line += '  -- ' + detail
    print(line, flush=True)

  def run(self):
    args = self.args
    import slapos.tests.test_slapproxy
    import slapos.tests.test_slapproxy_json_rpc
    modules = {
      'test_slapproxy': slapos.tests.test_slapproxy,
      'test_slapproxy_json_rpc': slapos.tests.test_slapproxy_json_rpc,
    }
    command = ServerCommand(args.server, args.binary, args.venv)
    skips = TestList(args.skips)
    known = TestList(args.known_failures) if args.known_failures else TestList()
    if args.log_dir:
      session_dir = os.path.abspath(args.log_dir)
      os.makedirs(session_dir, exist_ok=True)
    else:
      session_dir = tempfile.mkdtemp(prefix='slapproxy-suite-')
    adapter = Adapter(command, session_dir, bool(args.log_dir),
                      args.startup_timeout)
    adapter.install(modules)

    print('slapproxy_suite: server: %s' % command.describe(), flush=True)
    print('slapproxy_suite: python %s, slapos.core from %s' % (
      sys.version.split()[0], os.path.dirname(slapos.tests.__file__)),
      flush=True)
    loader = unittest.TestLoader()
    cwd = os.getcwd()
    interrupted = False
    try:
      for suite_name in SUITES:
        if args.suite and suite_name not in args.suite:
          continue
        for test in iter_tests(loader.loadTestsFromModule(modules[suite_name])):
          tid = short_id(test.id())
          if not selected(tid, args.k):
            continue
          self.run_one(suite_name, tid, test, skips, known, adapter)
          os.chdir(cwd)  # CLI tests chdir into site-packages
    except KeyboardInterrupt as e:
      interrupted = True
      print('\nslapproxy_suite: interrupted (%s)' % (e or 'SIGINT'), flush=True)
    finally:
      _stop_all_processes()
      if not args.log_dir:
        shutil.rmtree(session_dir, True)
    os.chdir(cwd)
    rc = self.report(skips, known)
    return 130 if interrupted else rc

  def run_one(self, suite_name, tid, test, skips, known, adapter):
    args = self.args
    skip_reason = skips.match(tid)
    if skip_reason and args.sqlite and skip_reason.startswith('[sqlite]'):
      skip_reason = None
    record = {'id': tid, 'suite': suite_name, 'status': None, 'reason': '',
              'duration': 0.0, 'known_failure': None, 'traceback': ''}
    if skip_reason:
      record.update(status='SKIP', reason=skip_reason)
      self.results.append(record)
      if not args.quiet_skips:
        self.emit('SKIP', tid, skip_reason)
      return
    result = Recorder(self)
    started = time.time()
    test(result)
    record['duration'] = round(time.time() - started, 3)
    record.update(status=result.outcome['status'],
                  reason=result.outcome['reason'],
                  traceback=result.outcome['traceback'])
    log_path = adapter.log_path(test)
    if record['status'] == 'FAIL':
      record['server_log_tail'] = tail(log_path, 40)
      if args.log_dir:
        record['server_log'] = log_path
    elif not args.log_dir:
      try:
        os.remove(log_path)
      except OSError:
        pass
    known_reason = known.match(tid)
    if known_reason is not None:
      record['known_failure'] = known_reason
    self.results.append(record)
    detail = record['reason']
    if record['status'] == 'FAIL' and known_reason is not None:
      detail = '[known failure: %s] %s' % (known_reason, detail)
    self.emit(record['status'], tid, detail, record['duration'])
    if record['status'] == 'FAIL' and args.verbose:
      print(record['traceback'].rstrip(), flush=True)
      print('--- server log (tail) ---\n%s\n---' % record['server_log_tail'],
            flush=True)

  def report(self, skips, known):
    args = self.args
    totals = {'PASS': 0, 'FAIL': 0, 'SKIP': 0}
    print('')
    print('Summary per suite:')
    for suite_name in SUITES:
      rows = [r for r in self.results if r['suite'] == suite_name]
      if not rows:
        continue
      counts = {s: sum(1 for r in rows if r['status'] == s)
                for s in ('PASS', 'FAIL', 'SKIP')}
      known_count = sum(1 for r in rows
                        if r['status'] == 'FAIL' and r['known_failure'] is not None)
      for s in counts:
        totals[s] += counts[s]
      print('  %-24s %4d passed, %4d failed (%d known), %4d skipped'
            % (suite_name, counts['PASS'], counts['FAIL'], known_count,
               counts['SKIP']))
    unexpected = [r for r in self.results
                  if r['status'] == 'FAIL' and r['known_failure'] is None]
    now_passing = [r for r in self.results
                   if r['status'] == 'PASS' and r['known_failure'] is not None]
    if now_passing:
      print('')
      print('NOTICE: %d test(s) listed in %s now pass; remove them from the list:'
            % (len(now_passing), known.path))
      for r in now_passing:
        print('  %s' % r['id'])
    if unexpected:
      print('')
      print('Unexpected failures (%d):' % len(unexpected))
      for r in unexpected:
        print('  %s  -- %s' % (r['id'], r['reason']))
    if args.json:
      with open(args.json, 'w') as f:
        json.dump({
          'server': args.server,
          'command': ' '.join(ServerCommand(args.server, args.binary,
                                            args.venv).argv('CFG')),
          'skips_file': args.skips,
          'known_failures_file': args.known_failures,
          'totals': {'passed': totals['PASS'], 'failed': totals['FAIL'],
                     'skipped': totals['SKIP'],
                     'unexpected_failures': len(unexpected),
                     'known_failures_now_passing': len(now_passing)},
          'results': self.results,
        }, f, indent=2, sort_keys=True)
    print('')
    print('%d passed, %d failed, %d skipped'
          % (totals['PASS'], totals['FAIL'], totals['SKIP']), flush=True)
    return 1 if unexpected else 0


def main():
  parser = argparse.ArgumentParser(
    description='Run the slapos.core 1.26.1 slapproxy test suites against an '
                'external server process.')
  parser.add_argument('--server', choices=('python', 'rust'), required=True,
                      help='python: the real `slapos proxy start` from the venv; '
                           'rust: BINARY proxy start --cfg CFG')
  parser.add_argument('--binary', help='server binary for --server rust')
  parser.add_argument('--venv', default=DEFAULT_VENV,
                      help='reference venv (default %(default)s)')
  parser.add_argument('-k', action='append', default=[], metavar='PATTERN',
                      help='only run tests whose id contains PATTERN (or '
                           'matches it as a glob); repeatable')
  parser.add_argument('--suite', action='append', choices=SUITES,
                      help='only run this suite (repeatable)')
  parser.add_argument('--skips', default=DEFAULT_SKIPS,
                      help='file of non-portable tests (default %(default)s)')
  parser.add_argument('--known-failures', default=None, metavar='FILE',
                      help='file of tests allowed to fail (default: '
                           'slapproxy-known-failures.txt with --server rust, '
                           'none with --server python)')
  parser.add_argument('--sqlite', action='store_true',
                      help='also run the tests tagged [sqlite] in the skips '
                           'file (they read the proxy SQLite database file; '
                           'for a server keeping the Python schema)')
  parser.add_argument('--json', metavar='FILE',
                      help='write per-test results to FILE')
  parser.add_argument('--log-dir', metavar='DIR',
                      help='keep every server log in DIR (default: temporary, '
                           'removed; the tail of the log of failed tests is '
                           'in the --json output)')
  parser.add_argument('--startup-timeout', type=float, default=60.0,
                      help='seconds to wait for the server to answer')
  parser.add_argument('-v', '--verbose', action='store_true',
                      help='print tracebacks and server log tails of failures')
  parser.add_argument('--quiet-skips', action='store_true',
                      help='do not print a line per skipped test')
  args = parser.parse_args()
  if args.server == 'rust' and not args.binary:
    parser.error('--server rust requires --binary PATH')
  if args.known_failures is None and args.server == 'rust' \
     and os.path.exists(DEFAULT_KNOWN_FAILURES):
    args.known_failures = DEFAULT_KNOWN_FAILURES
  for name in ('skips', 'known_failures', 'json', 'log_dir', 'binary'):
    value = getattr(args, name)
    if value:
      setattr(args, name, os.path.abspath(value))
  signal.signal(signal.SIGTERM, _sigterm_handler)
  return Harness(args).run()


if __name__ == '__main__':
  sys.exit(main())
