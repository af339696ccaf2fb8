#!/usr/bin/env python3
"""run.py: runs the WeensyOS test suite (`make check`).

Loads every tests/test_*.py, runs their tests in parallel (at most one QEMU
per core), prints one line per test, and ends with `N passed, N failed`.
Exit status 0 exactly when nothing failed.

    python3 tests/run.py [WORD...]   only tests whose name contains a WORD
"""
import concurrent.futures
import glob
import importlib.util
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weensy  # noqa: E402


def load_tests():
    here = os.path.dirname(os.path.abspath(__file__))
    for path in sorted(glob.glob(os.path.join(here, 'test_*.py'))):
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    return weensy.TESTS


def run_one(name, fn):
    t = weensy.T(name)
    start = time.monotonic()
    try:
        fn(t)
        return name, None, time.monotonic() - start
    except weensy.TestFailure as e:
        return name, str(e), time.monotonic() - start
    except Exception:
        return name, 'test error:\n' + traceback.format_exc(), time.monotonic() - start


def main():
    # Under `make check`, make's own settings would leak into the makes the
    # tests run (for example "make[2]: Entering directory" lines).
    for var in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES', 'MAKE_TERMOUT', 'MAKE_TERMERR'):
        os.environ.pop(var, None)
    words = sys.argv[1:]
    tests = [(n, f) for n, f in load_tests() if not words or any(w in n for w in words)]
    if not tests:
        print('no tests match ' + ' '.join(words))
        print('0 passed, 0 failed')
        return 1
    print(f'running {len(tests)} tests, up to {weensy.CORES} QEMUs at a time', flush=True)
    start = time.monotonic()
    failures = []
    passed = 0
    # More workers than cores: tests wait for a QEMU slot, not a thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=weensy.CORES * 2) as pool:
        futures = [pool.submit(run_one, n, f) for n, f in tests]
        for fut in concurrent.futures.as_completed(futures):
            name, error, seconds = fut.result()
            if error is None:
                passed += 1
                print(f'ok    {name} ({seconds:.1f}s)', flush=True)
            else:
                failures.append(name)
                print(f'FAIL  {name} ({seconds:.1f}s)\n{error}', flush=True)
    print(f'{len(tests)} tests in {time.monotonic() - start:.0f}s')
    for name in failures:
        print(f'failed: {name}')
    print(f'{passed} passed, {len(failures)} failed')
    return 0 if not failures else 1


if __name__ == '__main__':
    sys.exit(main())
