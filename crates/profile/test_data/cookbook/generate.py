"""Records goldens for crates/profile's cookbook recipe tests by running
the real slapos.cookbook 1.0.499 recipes (wrapper, promise.plugin,
check_port_listening) and pprint on fixed inputs.

Usage: python -m venv /tmp/cookbook-venv
       /tmp/cookbook-venv/bin/pip install slapos.cookbook==1.0.499
       /tmp/cookbook-venv/bin/python generate.py   (from this directory)
"""
import json
import os
import pprint
import tempfile

from slapos.recipe import wrapper, promise_plugin, check_port_listening

WRAPPERS = [
    {"command-line": "/bin/prog --opt 'a b'", "environment": "K=v"},
    {"command-line": "/srv/slapgrid/slappart0/bin/some-long-binary-name --config /etc/x.cfg"},
    {"command-line": "/bin/sh -c 'echo $HOME; exit 1' '' \"x y\" a\\ b",
     "environment": "PATH = /usr/bin:/bin\nLANG=C.UTF-8\n  B=it's\nA=",
     "sig-ign": "USR1"},
    {"command-line": "\n  /opt/x/bin/python3.11\n  -m some.module\n  --listen [::1]:8080\n  --user=é --pct=50%"},
    {"command-line": "/a", "sig-ign": "RTMIN+1"},
]

PLUGINS = [
    {"module": "slapos.promise.plugin.check_file_state", "config-filename": "/srv/x/etc/a.cfg", "config-state": "present"},
    {"module": "slapos.promise.plugin.check_url_available", "class": "RunPromise",
     "config-url": "https://[2001:db8::1]:8443/a/very/long/path/that/makes/the/dictionary/wrap",
     "config-http-code": "200", "config-verify": "0"},
    {"file": "/srv/x/etc/promise/custom.py", "class": "MyPromise", "mode": "0600"},
    {"module": "m", "config-command": "a long command line with spaces that will not fit into eighty columns of pprint output at all"},
]

PFORMAT = [
    [],
    ["/a"],
    ["/srv/slapgrid/slappart0/eggs/slapos.toolbox-0.0-py3.11.egg", "/srv/slapgrid/slappart0/develop-eggs/x"],
]


def run_wrapper(options, directory):
    options = dict(options, recipe="slapos.cookbook:wrapper")
    options["wrapper-path"] = os.path.join(directory, "wrapper")
    buildout = {"buildout": {"develop-eggs-directory": "", "eggs-directory": "", "directory": directory}}
    recipe = wrapper.Recipe(buildout, "w", options)
    path = recipe.install()
    with open(path) as f:
        return f.read(), oct(os.stat(path).st_mode & 0o7777)


def run_plugin(options, directory):
    options = dict(options, recipe="slapos.cookbook:promise.plugin", eggs="")
    options["output"] = os.path.join(directory, "plugin.py")
    buildout = {"buildout": {"develop-eggs-directory": "", "eggs-directory": "", "directory": directory}}
    recipe = promise_plugin.Recipe(buildout, "p", options)
    path, = recipe.install()
    with open(path) as f:
        return f.read(), oct(os.stat(path).st_mode & 0o7777)


def main():
    out = {"wrapper": [], "plugin": [], "pformat_tuple": [], "pformat_dict": [], "check_port_listening": None}
    with tempfile.TemporaryDirectory() as directory:
        os.umask(0o022)
        for options in WRAPPERS:
            script, mode = run_wrapper(options, directory)
            out["wrapper"].append({"options": options, "script": script, "mode": mode})
            os.unlink(os.path.join(directory, "wrapper"))
        for options in PLUGINS:
            content, mode = run_plugin(options, directory)
            out["plugin"].append({"options": options, "content": content, "mode": mode})
            os.unlink(os.path.join(directory, "plugin.py"))
        options = {"recipe": "slapos.cookbook:check_port_listening", "path": os.path.join(directory, "check"),
                   "hostname": "10.0.0.1", "port": "8080"}
        recipe = check_port_listening.Recipe({"buildout": {}}, "c", options)
        path, = recipe.install()
        with open(path) as f:
            import sys
            out["check_port_listening"] = {"options": {"hostname": "10.0.0.1", "port": "8080"},
                                           "python": sys.executable, "script": f.read()}
    for items in PFORMAT:
        out["pformat_tuple"].append({"items": items, "text": pprint.pformat(tuple(items), indent=2)})
    for options in PLUGINS:
        config = {k[7:]: v for k, v in options.items() if k.startswith("config-")}
        out["pformat_dict"].append({"items": sorted(config.items()), "text": pprint.pformat(config, indent=2)})
    with open("goldens.json", "w") as f:
        json.dump(out, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
