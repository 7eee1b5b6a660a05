"""Dump a libvirt-python-like module's public surface as JSON.

    python surface_dump.py libvirt   # Debian's python3-libvirt (/usr/bin/python3)
    python surface_dump.py virsnap   # import virsnap as libvirt

{"classes": {name: {method: params}}, "functions": {name: params},
 "constants": {name: value}}; params is a list of [name, kind, repr(default)
or null] without `self` (null when the signature cannot be read).
"""

import inspect
import json
import sys

if sys.argv[1:] == ["virsnap"]:
    import virsnap as mod
else:
    import libvirt as mod  # type: ignore[no-redef]

OWN = ("libvirt", "virsnap")


def own(obj):
    m = getattr(obj, "__module__", None) or ""
    return m in OWN or m.startswith("virsnap.") or m == "_native"


def params(f):
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        return None
    return [
        [p.name, p.kind.name, None if p.default is p.empty else repr(p.default)]
        for p in sig.parameters.values()
        if p.name != "self"
    ]


names = [n for n in dir(mod) if not n.startswith("_")]
classes = {}
functions = {}
for n in names:
    o = getattr(mod, n)
    if inspect.isclass(o) and own(o):
        classes[n] = {a: params(getattr(o, a)) for a in dir(o) if not a.startswith("_") and callable(getattr(o, a))}
    elif callable(o) and not inspect.isclass(o) and own(o):
        functions[n] = params(o)
constants = {n: getattr(mod, n) for n in names if n.startswith("VIR_")}
json.dump({"classes": classes, "functions": functions, "constants": constants}, sys.stdout, sort_keys=True)
