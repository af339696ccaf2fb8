#!/usr/bin/env python3
"""run.py: runs the WeensyOS test suite (`make check`).

Loads every tests/test_*.py, runs their tests in parallel (at most one QEMU
per core; the slowest of the last run first, so that the long ones do not
end the run alone), prints one line per test, the ten slowest, and last
`N passed, N failed`. Exit status 0 exactly when nothing failed. With
--proof it runs the slow proofs instead (`make proof`): the tests marked
proof=True (whole trees copied and built, handouts made and graded) and
every test in tests/proof_*.py. `make check` stays the fast gate.

    python3 tests/run.py [WORD...]          only the tests whose sentence or
                                            file name contains a WORD (any case)
    python3 tests/run.py --list [WORD...]   lists those tests and their files
                                            instead of running them
    python3 tests/run.py --proof [WORD...]  the slow proofs
    python3 tests/run.py --load N [WORD...] runs them beside N QEMUs spinning
                                            `alice eve-spin` (make check LOAD=N),
                                            ended with the suite
"""
import atexit
import concurrent.futures
import glob
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weensy  # noqa: E402


# Each test's seconds in the last run (obj/, so `make clean` forgets them).
TIMES = os.path.join(weensy.ROOT, 'obj', 'test-times.json')


def load_tests(patterns=('test_*.py',)):
    here = os.path.dirname(os.path.abspath(__file__))
    for path in sorted(p for pattern in patterns for p in glob.glob(os.path.join(here, pattern))):
        name = os.path.splitext(os.path.basename(path))[0]
        weensy.loading = os.path.basename(path)
        spec = importlib.util.spec_from_file_location(name, path)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    weensy.loading = None
    return weensy.TESTS


def selected(tests, words):
    """The tests whose sentence or file name contains one of `words`,
    ignoring case (all of them if there are no words)."""
    words = [w.lower() for w in words]
    return [x for x in tests
            if not words or any(w in x.sentence.lower() or w in x.file.lower() for w in words)]


def run_one(x):
    t = weensy.T(x.sentence)
    start = time.monotonic()
    try:
        x.fn(t)
        return x.sentence, None, time.monotonic() - start
    except weensy.TestFailure as e:
        return x.sentence, str(e), time.monotonic() - start
    except Exception:
        return x.sentence, 'test error:\n' + traceback.format_exc(), time.monotonic() - start


class Load:
    """N QEMUs spinning `alice eve-spin` beside the suite, as a busy machine
    has: each in a process group of its own, all ended on leaving (and, if
    this runner dies, by run-qemu, which ends its QEMU when its parent
    goes)."""
    running = []

    def __init__(self, n):
        env = weensy.clean_env(weensy.settings(PROCS='alice eve-spin', TICKS=1 << 40,
                                               TIMEOUT=7 * 24 * 3600))
        self.qemus = [subprocess.Popen([os.path.join(weensy.ROOT, 'run-qemu'), 'headless'],
                                       cwd=weensy.ROOT, env=env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True)
                      for _ in range(n)]
        Load.running.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        for q in self.qemus:
            try:
                os.killpg(q.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for q in self.qemus:
            q.wait()


def stop_on_signal(signum, frame):
    """SIGTERM, SIGHUP or SIGINT end the runner at once, without waiting
    for the tests under way: the load's QEMUs and the temporary copies go
    with it, and each test's run-qemu ends its QEMU when it finds its
    parent, this runner, gone."""
    for load in Load.running:
        load.stop()
    atexit._run_exitfuncs()
    os._exit(128 + signum)


def parse_args(argv):
    p = weensy.summary.Options(
        prog='tests/run.py', description='Runs the WeensyOS test suite (make check), or with '
        '--proof its slow proofs (make proof); the last line is "N passed, N failed".')
    p.add_argument('words', nargs='*', metavar='WORD',
                   help='only the tests whose sentence or file name contains a WORD (any case)')
    p.add_argument('--list', action='store_true', help='list the tests and their files, run none')
    p.add_argument('--proof', action='store_true', help='the slow proofs (make proof)')
    p.add_argument('--load', type=int, default=0, metavar='N',
                   help='beside N QEMUs spinning alice eve-spin (make check LOAD=N)')
    return p.parse_args(argv)


def main():
    a = parse_args(sys.argv[1:])
    tests = [x for x in load_tests(('test_*.py', 'proof_*.py') if a.proof else ('test_*.py',))
             if x.proof == a.proof]
    tests = selected(tests, a.words)
    if not tests:
        print('no tests match ' + ' '.join(a.words))
        print('0 passed, 0 failed')
        return 1
    if a.list:
        for x in tests:
            print(f'{x.file}: {x.sentence}')
        return 0
    for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(number, stop_on_signal)
    with Load(a.load):
        return run_tests(tests, a.load)


def run_tests(tests, load):
    beside = f', beside {load} QEMUs spinning alice eve-spin' if load else ''
    print(f'running {len(tests)} tests, up to {weensy.CORES} QEMUs at a time{beside}', flush=True)
    start = time.monotonic()
    failures = []
    passed = 0
    try:
        with open(TIMES) as f:
            before = json.load(f)
    except (OSError, ValueError):
        before = {}
    # The slowest first (new ones count as slow), in the order they load.
    tests = sorted(tests, key=lambda x: -before.get(x.sentence, 1e9))
    took = {}
    # More workers than cores: tests wait for a QEMU slot, not a thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=weensy.CORES * 2) as pool:
        futures = [pool.submit(run_one, x) for x in tests]
        for fut in concurrent.futures.as_completed(futures):
            name, error, seconds = fut.result()
            took[name] = seconds
            if error is None:
                passed += 1
                print(f'ok    {name} ({seconds:.1f}s)', flush=True)
            else:
                failures.append(name)
                print(f'FAIL  {name} ({seconds:.1f}s)\n{error}', flush=True)
    print(f'{len(tests)} tests in {time.monotonic() - start:.0f}s; the slowest:')
    for name, seconds in sorted(took.items(), key=lambda kv: -kv[1])[:10]:
        print(f'  {seconds:6.1f}s  {name[:100]}')
    before.update(took)
    try:
        os.makedirs(os.path.dirname(TIMES), exist_ok=True)
        with open(TIMES + '.tmp', 'w') as f:
            json.dump(before, f)
        os.replace(TIMES + '.tmp', TIMES)
    except OSError:
        pass                    # a read-only tree: the next run just orders anew
    for name in failures:
        print(f'failed: {name}')
    print(f'{passed} passed, {len(failures)} failed')
    return 0 if not failures else 1


if __name__ == '__main__':
    sys.exit(main())
