#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""Drive the REAL `slapos` client CLI (slapos.core 1.26.1, from the reference
venv) against a master server and check what it prints.

Server:
  --master-url URL           an already running server (must be on 127.0.0.1)
  --server python            start the real `slapos proxy start --cfg CFG`
  --server rust --binary B   start `B proxy start --cfg CFG`
(started servers get a temp directory, a free 127.0.0.1 port and the
configuration `[slapos] computer_id = computer`, `[slapproxy] host, port,
database_uri = <tmp>/proxy.db`; they are stopped by pid at exit.)

Scenario (each step prints PASS/FAIL, last line `N passed, N failed`):
  client config  slapos-client.cfg with master_url and master_rest_url=<url>/hateoas
  format         computer `computer` with 3 partitions (slapos.slap library:
                 registerComputer('computer').updateConfiguration(xml))
  supply / request (--parameters k=v) / request --state stopped /
  connection parameters published by the instance (library) then re-request /
  request --slave / service list / service info (instance, shared, unknown) /
  computer list / computer info / remove
Effects are cross-checked through getFullComputerInformation (library).

Exit status: 0 if every step passed, 1 otherwise, 2 on setup errors.
Runs with the venv's python (re-executes itself with $SLAPOS_VENV/bin/python).
"""

from __future__ import print_function

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def _bootstrap():
  """Re-exec with the venv python when slapos.core is not importable here."""
  try:
    import slapos.slap  # noqa: F401
    import requests  # noqa: F401
    return
  except ImportError as e:
    error = e
  venv = os.environ.get('SLAPOS_VENV', '/var/cache/slapos-rs/venv')
  argv = sys.argv[1:]
  for i, arg in enumerate(argv):
    if arg == '--venv' and i + 1 < len(argv):
      venv = argv[i + 1]
    elif arg.startswith('--venv='):
      venv = arg.split('=', 1)[1]
  python = os.path.join(os.path.abspath(venv), 'bin', 'python')
  guard = 'SLAPOS_RS_SUITE_REEXEC'
  if os.environ.get(guard) or not os.access(python, os.X_OK):
    sys.stderr.write('real_cli: cannot import slapos.core (%s) and no usable '
                     'venv at %s; run tests/python/setup-venv.sh first\n'
                     % (error, venv))
    sys.exit(2)
  os.environ[guard] = '1'
  os.execv(python, [python, os.path.abspath(__file__)] + argv)


if __name__ == '__main__':
  _bootstrap()

import slapproxy_suite  # noqa: E402  (server processes, helpers)

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import traceback  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

COMPUTER = 'computer'
PARTITIONS = ['slappart0', 'slappart1', 'slappart2']


class StepFailure(Exception):
  pass


def check(condition, message):
  if not condition:
    raise StepFailure(message)


def check_equal(actual, expected, what):
  if actual != expected:
    raise StepFailure('%s: expected %r, got %r' % (what, expected, actual))


def last_lines(process, count=2):
  """The last non-empty output lines of a CLI run, on one line."""
  lines = [l.strip() for l in (process.stdout + process.stderr).splitlines()
           if l.strip()]
  text = ' | '.join(lines[-count:])
  return text if len(text) <= 400 else '...' + text[-400:]


class Scenario(object):

  def __init__(self, args, master_url, workdir):
    self.args = args
    self.master_url = master_url.rstrip('/')
    self.workdir = workdir
    self.slapos = os.path.join(args.venv, 'bin', 'slapos')
    self.cfg = os.path.join(workdir, 'slapos-client.cfg')
    self.passed = 0
    self.failed = 0
    self.software_dir = os.path.join(workdir, 'software')
    # A local path as software URL: `slapos request` then reads the schema
    # (software.cfg.json) from disk instead of downloading it.
    self.sr = os.path.join(self.software_dir, 'software.cfg')
    self.env = dict(os.environ)
    for name in ('SLAPOS_CONFIGURATION', 'SLAPOS_CLIENT_CONFIGURATION',
                 'http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY',
                 'all_proxy', 'ALL_PROXY', slapproxy_suite.REEXEC_GUARD):
      self.env.pop(name, None)
    self.env['NO_PROXY'] = self.env['no_proxy'] = '*'
    self.env['HOME'] = workdir  # no ~/.slapos of the user

  # -- helpers ----------------------------------------------------------------

  def step(self, name, function):
    try:
      detail = function()
    except StepFailure as e:
      self.failed += 1
      print('FAIL %s  -- %s' % (name, e), flush=True)
      return False
    except Exception as e:
      self.failed += 1
      print('FAIL %s  -- %s: %s' % (name, type(e).__name__, e), flush=True)
      if self.args.verbose:
        traceback.print_exc()
      return False
    self.passed += 1
    print('PASS %s%s' % (name, '  -- %s' % detail if detail else ''), flush=True)
    return True

  def cli(self, *command, **kw):
    expect_rc = kw.pop('expect_rc', 0)
    argv = [self.slapos] + list(command) + ['--cfg', self.cfg]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       env=self.env, cwd=self.workdir, timeout=300)
    if self.args.verbose:
      print('  $ slapos %s  (exit %d)' % (' '.join(command), p.returncode))
      for line in (p.stdout + p.stderr).splitlines():
        print('  | ' + line)
    if expect_rc == 'nonzero':
      check(p.returncode != 0, 'slapos %s: expected a non-zero exit code, got 0;'
            ' output ends with: %s' % (' '.join(command), last_lines(p)))
    elif expect_rc is not None:
      check(p.returncode == expect_rc,
            'slapos %s: exit code %d (expected %d); output ends with: %s'
            % (' '.join(command), p.returncode, expect_rc, last_lines(p)))
    return p

  def cli_json(self, *command):
    p = self.cli(*command)
    try:
      return json.loads(p.stdout)
    except ValueError:
      raise StepFailure('slapos %s: stdout is not JSON: %r'
                        % (' '.join(command), p.stdout[-500:]))

  def slap(self):
    import slapos.slap
    slap = slapos.slap.slap()
    slap.initializeConnection(self.master_url + '/')
    return slap

  def computer_doc(self):
    """The Computer document as the node sees it (getFullComputerInformation)."""
    from slapos.util import loads
    connection = self.slap()._connection_helper
    return loads(connection.GET('getFullComputerInformation',
                                params={'computer_id': COMPUTER}))

  def partition(self, slot):
    for p in self.computer_doc()._computer_partition_list:
      if p.getId() == slot:
        return p
    raise StepFailure('partition %s not listed by getFullComputerInformation'
                      % slot)

  def software_states(self):
    return {sr.getURI(): sr.getState()
            for sr in self.computer_doc()._software_release_list}

  # -- steps ------------------------------------------------------------------

  def write_client_config(self):
    os.makedirs(self.software_dir, exist_ok=True)
    with open(self.sr, 'w') as f:
      f.write('[buildout]\nparts =\n')
    with open(self.cfg, 'w') as f:
      f.write('[slapos]\nmaster_url = %s\nmaster_rest_url = %s/hateoas\n'
              % (self.master_url, self.master_url))
    return self.cfg

  def format(self):
    from slapos.util import dumps
    computer_dict = {
      'reference': COMPUTER,
      'address': '10.0.0.1',
      'netmask': '255.255.255.0',
      'partition_list': [{
        'reference': slot,
        'address_list': [
          {'addr': '10.0.0.%d' % (10 + i), 'netmask': '255.255.255.0'},
          {'addr': 'fd00::%d' % (10 + i), 'netmask': 'ffff:ffff:ffff:ffff::'},
        ],
        'tap': {'name': 'slaptap%d' % i},
      } for i, slot in enumerate(PARTITIONS)],
    }
    self.slap().registerComputer(COMPUTER).updateConfiguration(
      dumps(computer_dict))
    partitions = self.computer_doc()._computer_partition_list
    check_equal([p.getId() for p in partitions], PARTITIONS, 'partition ids')
    for p in partitions:
      check_equal(p.getState(), 'destroyed', 'state of free %s' % p.getId())
    return '%d partitions' % len(partitions)

  def supply(self):
    self.cli('supply', self.sr, COMPUTER)
    check_equal(self.software_states(), {self.sr: 'available'},
                'software list after supply')

  def request(self):
    p = self.cli('request', 'myinstance', self.sr,
                 '--parameters', 'foo=bar', 'number=1')
    output = p.stdout + p.stderr
    check('Instance requested.' in output, 'no "Instance requested." in %r'
          % output[-300:])
    check('State is : started.' in output, 'no "State is : started." in %r'
          % output[-300:])
    part = self.partition('slappart0')
    check_equal(part.getState(), 'started', 'slappart0 requested state')
    check_equal(part.getSoftwareRelease().getURI(), self.sr, 'slappart0 SR')
    params = part.getInstanceParameterDict()
    check_equal({k: params.get(k) for k in ('foo', 'number', 'instance_title',
                                            'slap_software_type')},
                {'foo': 'bar', 'number': '1', 'instance_title': 'myinstance',
                 'slap_software_type': 'default'}, 'instance parameters')
    check(params.get('timestamp'), 'no timestamp in %r' % params)
    return 'allocated on slappart0'

  def request_stopped(self):
    p = self.cli('request', 'myinstance', self.sr, '--state', 'stopped',
                 '--parameters', 'foo=bar', 'number=1')
    check('State is : stopped.' in p.stdout + p.stderr,
          'no "State is : stopped." in %r' % last_lines(p))
    check_equal(self.partition('slappart0').getState(), 'stopped',
                'slappart0 requested state')

  def publish_and_rerequest(self):
    instance = self.slap().registerComputerPartition(COMPUTER, 'slappart0')
    instance.setConnectionDict({'url': 'http://10.0.0.10:8080/',
                                'password': 'secret'})
    p = self.cli('request', 'myinstance', self.sr, '--state', 'started',
                 '--parameters', 'foo=bar', 'number=1')
    output = p.stdout + p.stderr
    check("'url': 'http://10.0.0.10:8080/'" in output,
          'connection parameter url not printed: %r' % output[-300:])
    check("'password': 'secret'" in output,
          'connection parameter password not printed: %r' % output[-300:])
    check_equal(self.partition('slappart0').getState(), 'started',
                'slappart0 requested state')

  def request_shared(self):
    p = self.cli('request', 'myshared', self.sr, '--slave',
                 '--parameters', 'domain=example.test')
    check('Instance requested.' in p.stdout + p.stderr,
          'no "Instance requested." in %r' % last_lines(p))
    host = self.partition('slappart0')
    slaves = host.getInstanceParameterDict().get('slave_instance_list')
    check(isinstance(slaves, list) and len(slaves) == 1,
          'slave_instance_list of slappart0: %r' % (slaves,))
    check_equal({k: slaves[0].get(k) for k in ('slave_reference', 'slave_title',
                                               'domain')},
                {'slave_reference': '_myshared', 'slave_title': '_myshared',
                 'domain': 'example.test'}, 'shared instance entry')
    # the host publishes the shared instance's connection parameters
    self.slap().registerComputerPartition(COMPUTER, 'slappart0') \
      .setConnectionDict({'site': 'https://example.test/'},
                         slave_reference='_myshared')
    # Reference quirk (spec 3.2): the shared answer has no _requested_state,
    # so the CLI's getState() GETs registerComputerPartition of the HOST slot,
    # which replaces _connection_dict: `slapos request --slave` prints the
    # host's connection parameters, not the shared instance's.  (`service
    # info` below shows the shared instance's own parameters.)
    p = self.cli('request', 'myshared', self.sr, '--slave',
                 '--parameters', 'domain=example.test')
    output = p.stdout + p.stderr
    check("'url': 'http://10.0.0.10:8080/'" in output
          and "'site'" not in output,
          'expected the host connection parameters (url, password) to be '
          'printed, as with the Python proxy: %r' % output[-300:])
    # no slot was used for it
    for slot in ('slappart1', 'slappart2'):
      check_equal(self.partition(slot).getState(), 'destroyed',
                  '%s state (still free)' % slot)
    return 'hosted by slappart0'

  def service_list(self):
    check_equal(self.cli_json('service', 'list'),
                {'myinstance': self.sr, 'myshared': self.sr}, 'service list')

  def service_info(self):
    check_equal(self.cli_json('service', 'info', 'myinstance'), {
      'software-url': self.sr,
      'software-type': 'default',
      'shared': False,
      'requested-state': 'started',
      'instance-parameters': {'foo': 'bar', 'number': '1'},
      'connection-parameters': {'url': 'http://10.0.0.10:8080/',
                                'password': 'secret'},
      'status': 'unsupported',
    }, 'service info myinstance')

  def service_info_shared(self):
    check_equal(self.cli_json('service', 'info', 'myshared'), {
      'software-url': self.sr,
      'software-type': 'default',
      'shared': True,
      'requested-state': 'unused',
      'instance-parameters': {'domain': 'example.test'},
      'connection-parameters': {'site': 'https://example.test/'},
      'status': 'unsupported',
    }, 'service info myshared')

  def service_info_unknown(self):
    p = self.cli('service', 'info', 'nosuchinstance', expect_rc='nonzero')
    check('Instance nosuchinstance does not exist.' in p.stdout + p.stderr,
          'missing "does not exist" message: %r' % last_lines(p))

  def computer_list(self):
    p = self.cli('computer', 'list')
    check_equal(p.stdout.splitlines(),
                ['List of Computers:', 'computer computer'], 'computer list')

  def computer_info(self):
    p = self.cli('computer', 'info', COMPUTER)
    check_equal(p.stdout.splitlines(),
                ['Computer Reference: computer', 'Computer Title    : computer'],
                'computer info')

  def remove(self):
    self.cli('remove', self.sr, COMPUTER)
    check_equal(self.software_states(), {self.sr: 'destroyed'},
                'software list after remove')

  def run(self):
    print('real_cli: master %s, client %s' % (self.master_url, self.slapos),
          flush=True)
    steps = [
      ('client config', self.write_client_config),
      ('format computer with 3 partitions', self.format),
      ('slapos supply', self.supply),
      ('slapos request --parameters', self.request),
      ('slapos request --state stopped', self.request_stopped),
      ('slapos request shows published connection parameters',
       self.publish_and_rerequest),
      ('slapos request --slave', self.request_shared),
      ('slapos service list', self.service_list),
      ('slapos service info (instance)', self.service_info),
      ('slapos service info (shared)', self.service_info_shared),
      ('slapos service info (unknown)', self.service_info_unknown),
      ('slapos computer list', self.computer_list),
      ('slapos computer info', self.computer_info),
      ('slapos remove', self.remove),
    ]
    for name, function in steps:
      ok = self.step(name, function)
      if not ok and name == 'client config':
        print('real_cli: cannot continue without %s' % name, flush=True)
        break
    print('%d passed, %d failed' % (self.passed, self.failed), flush=True)
    return 0 if self.failed == 0 else 1


def main():
  parser = argparse.ArgumentParser(
    description='Drive the real slapos CLI against a master server.')
  group = parser.add_mutually_exclusive_group(required=True)
  group.add_argument('--master-url', help='URL of a running server (127.0.0.1)')
  group.add_argument('--server', choices=('python', 'rust'),
                     help='start this server for the run')
  parser.add_argument('--binary', help='server binary for --server rust')
  parser.add_argument('--venv', default=slapproxy_suite.DEFAULT_VENV,
                      help='reference venv (default %(default)s)')
  parser.add_argument('--keep', action='store_true',
                      help='keep the temporary directory (config, server log)')
  parser.add_argument('--startup-timeout', type=float, default=60.0)
  parser.add_argument('-v', '--verbose', action='store_true',
                      help='print every CLI command and its output')
  args = parser.parse_args()
  args.venv = os.path.abspath(args.venv)
  if args.server == 'rust' and not args.binary:
    parser.error('--server rust requires --binary PATH')
  if args.master_url:
    host = urlsplit(args.master_url).hostname
    if host not in ('127.0.0.1', 'localhost'):
      parser.error('--master-url must point to 127.0.0.1')
  signal.signal(signal.SIGTERM, slapproxy_suite._sigterm_handler)

  workdir = tempfile.mkdtemp(prefix='slapos-real-cli-')
  process = None
  try:
    if args.master_url:
      master_url = args.master_url
    else:
      command = slapproxy_suite.ServerCommand(args.server, args.binary,
                                              args.venv)
      port = slapproxy_suite.free_port()
      server_dir = os.path.join(workdir, 'server')
      os.mkdir(server_dir)
      cfg = os.path.join(server_dir, 'slapos.cfg')
      with open(cfg, 'w') as f:
        f.write('[slapos]\ncomputer_id = %s\n[slapproxy]\nhost = 127.0.0.1\n'
                'port = %d\ndatabase_uri = %s\n'
                % (COMPUTER, port, os.path.join(server_dir, 'proxy.db')))
      log = os.path.join(server_dir, 'server.log')
      print('real_cli: starting %s' % ' '.join(command.argv(cfg)), flush=True)
      try:
        process = command.start(cfg, port, log, args.startup_timeout)
      except slapproxy_suite.ServerStartError as e:
        print('real_cli: %s\n%s' % (e, slapproxy_suite.tail(log, 30)))
        return 2
      master_url = 'http://127.0.0.1:%d' % port
    rc = Scenario(args, master_url, workdir).run()
    if rc and process is not None:
      print('--- server log (tail) ---\n%s'
            % slapproxy_suite.tail(os.path.join(workdir, 'server', 'server.log'),
                                   30))
    return rc
  finally:
    if process is not None:
      slapproxy_suite.stop_process(process)
    if args.keep:
      print('real_cli: kept %s' % workdir)
    else:
      shutil.rmtree(workdir, True)


if __name__ == '__main__':
  sys.exit(main())
