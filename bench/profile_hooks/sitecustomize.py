"""Loaded by Python at startup when bench/profile_hooks is on PYTHONPATH (bench.profile_burst
puts it there for the operator it profiles; never in the image or the tests).

DBT_PROFILE_REQUESTS=FILE   one JSON line per Kubernetes API request the process sends through
                            aiohttp (Kopf's client): time, method, URL, JSON payload.
DBT_PROFILE_CONNECTION_LIMIT=N  an experiment: every aiohttp.TCPConnector gets limit=N
                            (Kopf asks for limit=0, no limit).
DBT_PROFILE_TRACEMALLOC=FILE  trace allocations from startup (imports included); each SIGUSR2
                            writes a tracemalloc snapshot to FILE.1, FILE.2, ...
"""
import os

if os.environ.get("DBT_PROFILE_TRACEMALLOC"):
    import signal
    import tracemalloc

    import builtins
    import json as _json
    import sys

    tracemalloc.start(1)
    _dumps = [0]
    # Bytes still traced after each top-level package's first import, the packages it
    # imported itself left out (exclusive), and its import time: what importing costs.
    _imports = {}
    _stack = []
    _original_import = builtins.__import__

    def _import(name, globals=None, locals=None, fromlist=(), level=0):
        top = name.partition(".")[0]
        if level or not top or top in sys.modules or _stack and _stack[-1][0] == top:
            return _original_import(name, globals, locals, fromlist, level)
        _stack.append([top, tracemalloc.get_traced_memory()[0], time.perf_counter(), 0, 0.0])
        try:
            return _original_import(name, globals, locals, fromlist, level)
        finally:
            top, before, started, nested, nested_s = _stack.pop()
            size = tracemalloc.get_traced_memory()[0] - before
            took = time.perf_counter() - started
            entry = _imports.setdefault(top, [0, 0.0])
            entry[0] += size - nested
            entry[1] += took - nested_s
            if _stack:
                _stack[-1][3] += size
                _stack[-1][4] += took

    import time

    builtins.__import__ = _import

    def _dump(signum, frame):
        _dumps[0] += 1
        path = f"{os.environ['DBT_PROFILE_TRACEMALLOC']}.{_dumps[0]}"
        with open(path + ".imports", "w") as f:
            _json.dump(_imports, f)
        tracemalloc.take_snapshot().dump(path + ".part")
        os.rename(path + ".part", path)  # complete once it has its name

    signal.signal(signal.SIGUSR2, _dump)

if os.environ.get("DBT_PROFILE_REQUESTS"):
    import functools
    import json
    import threading
    import time

    import aiohttp

    _lock = threading.Lock()
    _original = aiohttp.ClientSession.request

    @functools.wraps(_original)
    def _request(self, method, url, **kwargs):
        record = {"t": time.time(), "method": method, "url": str(url),
                  "payload": kwargs.get("json")}
        with _lock, open(os.environ["DBT_PROFILE_REQUESTS"], "a") as f:
            f.write(json.dumps(record) + "\n")
        return _original(self, method, url, **kwargs)

    aiohttp.ClientSession.request = _request

if os.environ.get("DBT_PROFILE_CONNECTION_LIMIT"):
    import functools

    import aiohttp

    _connector_init = aiohttp.TCPConnector.__init__

    @functools.wraps(_connector_init)
    def _limited(self, *args, **kwargs):
        kwargs["limit"] = int(os.environ["DBT_PROFILE_CONNECTION_LIMIT"])
        _connector_init(self, *args, **kwargs)

    aiohttp.TCPConnector.__init__ = _limited
