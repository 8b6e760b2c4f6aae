# Runs ONE SlapOS plugin promise for the slapos-rs node, inside the
# instance python (the software release's interpreter, which provides
# slapos.core and the promise's own dependencies).
#
# Invoked as `python -c <this source> <request JSON>` with cwd = partition.
# The request holds: promise_path, promise_name, partition_folder,
# log_folder, check_anomaly (bool), config (extra GenericPromise keys).
#
# Protocol: the original stdout carries JSON lines only; everything the
# promise prints goes to stderr (fd 1 is redirected there). Events:
#   {"event": "loaded", "is_tested", "is_anomaly_detected", "periodicity",
#    "module_file", "module_file_mtime", "started"}
#   {"event": "result", "type", "failed", "message", "date", "bang"}
#   {"event": "skipped"}   (promise disabled in this mode: no result)
# A failure to load the promise prints a traceback on stderr and exits 1
# without a result event. The node itself decides when to bang; the
# promise is never given the chance to (can_bang is always false here).
# Keep this file Python 2 and 3 compatible: old releases still ship 2.7.
from __future__ import print_function

import ast
import inspect
import json
import os
import re
import sys
import traceback

DATE_FORMAT = '%Y-%m-%dT%H:%M:%S+0000'


def open_protocol_channel():
  """Keep the real stdout for events; send the promise's prints to stderr."""
  channel = os.fdopen(os.dup(1), 'w')
  os.dup2(2, 1)
  def emit(event):
    channel.write(json.dumps(event) + '\n')
    channel.flush()
  return emit


def instance_sys_path(plugin_path):
  """The list of the first `sys.path[0:0] = [...]` of the plugin, if any."""
  with open(plugin_path) as plugin_file:
    tree = ast.parse(plugin_file.read(), plugin_path)
  wanted = ast.dump(ast.parse('sys.path[0:0] = []').body[0].targets[0])
  for node in tree.body:
    if (isinstance(node, ast.Assign) and len(node.targets) == 1
        and ast.dump(node.targets[0]) == wanted):
      return list(ast.literal_eval(node.value))
  return []


def load_module(title, path):
  """Import the plugin under its title from its own file."""
  try:
    import importlib.util
    spec = importlib.util.spec_from_file_location(title, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[title] = module
    spec.loader.exec_module(module)
    return module
  except ImportError:
    if sys.version_info[0] >= 3:
      raise
  import imp
  return imp.load_source(title, path)


class DiscardQueue(object):
  """GenericPromise insists on a queue; results travel by stdout here."""
  def put_nowait(self, item):
    pass

  def put(self, item, *args, **kw):
    pass


def promise_class(request, title):
  if re.match(r'[a-zA-Z_]', request['promise_name']) is None:
    raise ValueError('Promise plugin name %r is not valid' % request['promise_name'])
  module = load_module(title, request['promise_path'])
  if not hasattr(module, 'RunPromise'):
    raise AttributeError('Class RunPromise not found in promise %s' % request['promise_name'])
  from slapos.grid.promise import interface
  from slapos.grid.promise.generic import GenericPromise
  if not interface.IPromise.implementedBy(module.RunPromise):
    raise RuntimeError("RunPromise class in %s must implement 'IPromise'"
                       " interface. @implementer(interface.IPromise) is missing ?"
                       % request['promise_name'])
  if not issubclass(module.RunPromise, GenericPromise):
    raise RuntimeError('RunPromise class is not a subclass of GenericPromise class.')
  return module


def promise_config(request, module):
  config = dict(request.get('config') or {})
  config.update({
    'path': request['promise_path'],
    'name': request['promise_name'],
    'partition-folder': request['partition_folder'],
    'log-folder': request['log_folder'],
    'debug': False,
    'queue': DiscardQueue(),
  })
  try:
    from slapos.version import version
    config['slapgrid-version'] = version
  except ImportError:
    pass
  extra = getattr(module, 'extra_config_dict', None)
  if extra is not None:
    if not isinstance(extra, dict):
      raise ValueError('Extra parameter is not a dict')
    for key in extra:
      if key in config:
        raise ValueError('Extra parameter name %r cannot be used.\n%s' % (key, extra))
      config[key] = extra[key]
  return config


def flag(promise, method):
  return not hasattr(promise, method) or bool(getattr(promise, method)())


def check(promise, check_anomaly):
  """sense() then test() or anomaly(), failures turned into results."""
  from slapos.grid.promise.generic import AnomalyResult, TestResult
  result_class = AnomalyResult if check_anomaly else TestResult
  try:
    promise.sense()
  except Exception as e:
    promise.logger.error(str(e))
  method = 'anomaly' if check_anomaly else 'test'
  try:
    result = getattr(promise, method)()
    if result is None:
      raise ValueError("Promise %s method returned 'None'" % method)
    if not hasattr(result, 'hasFailed'):
      raise ValueError('Promise %s method returned %r' % (method, result))
  except Exception as e:
    result = result_class(problem=True, message=str(e))
  return result


def text(value):
  if value is None or isinstance(value, str):
    return value
  if isinstance(value, bytes):
    return value.decode('utf-8', 'replace')
  return str(value)


def main():
  emit = open_protocol_channel()
  request = json.loads(sys.argv[1])
  check_anomaly = bool(request['check_anomaly'])
  path = request['promise_path']
  title = os.path.splitext(request['promise_name'])[0]
  sys.path[0:0] = instance_sys_path(path) + [os.path.dirname(path)]
  module = promise_class(request, title)
  promise = module.RunPromise(promise_config(request, module))
  is_tested = flag(promise, 'isTested')
  is_anomaly_detected = flag(promise, 'isAnomalyDetected')
  module_file = os.path.splitext(inspect.getfile(module.RunPromise))[0] + '.py'
  emit({
    'event': 'loaded',
    'is_tested': is_tested,
    'is_anomaly_detected': is_anomaly_detected,
    'periodicity': promise.getPeriodicity(),
    'module_file': module_file,
    'module_file_mtime': os.stat(module_file).st_mtime,
    'started': is_anomaly_detected if check_anomaly else is_tested,
  })
  if not is_tested and not is_anomaly_detected:
    from slapos.grid.promise.generic import AnomalyResult, TestResult
    result_class = AnomalyResult if check_anomaly else TestResult
    result = result_class(problem=True,
        message="It's not allowed to disable both Test and Anomaly in promise!")
  elif not (is_anomaly_detected if check_anomaly else is_tested):
    emit({'event': 'skipped'})
    return 0
  else:
    result = check(promise, check_anomaly)
  emit({
    'event': 'result',
    'type': result.type(),
    'failed': bool(result.hasFailed()),
    'message': text(result.message),
    'date': result.date.strftime(DATE_FORMAT),
    'bang': bool(getattr(promise, '_GenericPromise__allow_bang', True)),
  })
  return 0


if __name__ == '__main__':
  try:
    sys.exit(main())
  except SystemExit:
    raise
  except BaseException:
    traceback.print_exc()
    sys.exit(1)
