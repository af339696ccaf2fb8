#!/usr/bin/env python3
"""soak.py: `make soak`: the system call fuzzers for a long run, and fork and
exit (tests/programs/p-forktest.cc) for 100,000 cycles.

Boots one headless QEMU per core, each with two fuzzers taking turns (on
the lecture's kernel, whose slots the fuzzer knows), until
together they have made SOAK_CALLS system calls (default 10,000,000), and
checks each boot: no panic, every fuzzer finished with no mismatch, the
kernel counted at least as many calls, and the integrity line is clean.
Then the problem set's fuzzer (tests/programs/p-psfuzz.cc: fork, exit,
page_alloc and copy-on-write among its calls) on the finished kernel with
AUDIT=1, three families a boot, one boot per core, for SOAK_CALLS calls of
the boot processes (their children's come on top): no kill, no panic, every
boot process done, memory=ok and leaked=0.
Then one boot of SOAK_FORKS fork/exit cycles (default 100,000, AUDIT=1), one child
at a time, which must end with leaked=0, memory=ok and exactly the free
pages a run that forks nothing ends with. Prints calls per second, then
`N passed, N failed`; exit status 0 exactly when nothing failed.

    python3 tests/soak.py [--calls N] [--forks N]    (--help: the options)
"""
import concurrent.futures
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weensy  # noqa: E402

FUZZERS_PER_BOOT = 2


def soak_boot(index, calls_each):
    """Boots FUZZERS_PER_BOOT fuzzers of `calls_each` calls; returns
    (problems, calls the kernel counted, seconds)."""
    # The call count is part of each fuzzer's seed: one more per boot keeps
    # the boots from repeating one another.
    n = calls_each + index
    procs = ' '.join([f'fuzz:{n}'] * FUZZERS_PER_BOOT)
    # A generous wall-clock limit: about 100,000 calls a second or better.
    timeout = 60 + n * FUZZERS_PER_BOOT // 50000
    # The fuzzer knows the lecture's slots: it runs on the lecture's kernel.
    b = weensy.boot(procs, ticks=10 ** 9, timeout=timeout, image=weensy.LECTURE_IMAGE)
    problems = []
    if b.status != 0:
        problems.append(f'exit status {b.status}' + (' (kernel panic)' if b.status == 1 else ''))
    if not (b.integrity or '').startswith(weensy.LECTURE_INTEGRITY_OK):
        problems.append(f'integrity line {b.integrity!r}')
    counted = 0
    for pid in range(1, FUZZERS_PER_BOOT + 1):
        p = b.proc(pid)
        if p is None:
            problems.append(f'no summary line for fuzzer {pid}')
            continue
        counted += p.syscalls
        if p.state == 'broken':
            problems.append(f'fuzzer {pid}: {p.reason}')
        elif p.state != 'exited':
            problems.append(f'fuzzer {pid} did not finish ({p.syscalls} calls made)')
        elif p.syscalls < n:
            problems.append(f'fuzzer {pid}: the kernel counted only {p.syscalls} calls')
    if problems:
        problems.append(b.describe(tail=15))
    return problems, counted, b.seconds, procs


PSFUZZ_FAMILIES = 3


def psfuzz_boot(index, calls_each):
    """Boots PSFUZZ_FAMILIES problem-set fuzzers of `calls_each` calls each,
    under AUDIT=1; returns (problems, calls the boot processes made,
    seconds, PROCS)."""
    n = calls_each + index      # (a seed of its own, as above)
    procs = ' '.join([f'psfuzz:{n}'] * PSFUZZ_FAMILIES)
    b = weensy.boot(procs, ticks=10 ** 9, timeout=60 + n * PSFUZZ_FAMILIES // 20000, audit=1)
    done = {l for l in b.console if l.startswith('psfuzz: done: ')}
    problems = []
    if b.status != 0:
        problems.append(f'exit status {b.status}' + (' (kernel panic)' if b.status == 1 else ''))
    if b.integrity != weensy.INTEGRITY_OK or not b.memory or b.memory['leaked'] != 0:
        problems.append(f'integrity line {b.integrity!r}, memory {b.memory}')
    if b.killed():
        problems.append(f'{len(b.killed())} kills, the first: {b.killed()[0]}')
    if len(done) != PSFUZZ_FAMILIES:
        problems.append(f'{len(done)} of {PSFUZZ_FAMILIES} boot processes finished')
    if problems:
        problems.append(b.describe(tail=15))
    return problems, n * len(done), b.seconds, procs


def soak_boots(label, boot_fn, total, per_boot):
    """Runs one boot_fn(index, calls_each) per core, `per_boot` processes
    each, for `total` calls in all; prints a line per boot and the rate.
    Returns (passed, failed)."""
    boots = weensy.CORES
    calls_each = -(-total // (boots * per_boot))
    print(f'{label}: {total:,} system calls: {boots} boots of {per_boot} processes, '
          f'{calls_each:,} calls each', flush=True)
    start = time.monotonic()
    passed = failed = calls = 0
    done = threading.Event()

    def ticker():
        """The boots say nothing until they end: a line every 10 s says
        the soak is alive."""
        while not done.wait(10):
            print(f'{label}: {time.monotonic() - start:.0f} s, {boots - passed - failed} of '
                  f'{boots} boots still running', flush=True)
    threading.Thread(target=ticker, daemon=True).start()
    with concurrent.futures.ThreadPoolExecutor(max_workers=boots) as pool:
        futures = [pool.submit(boot_fn, i, calls_each) for i in range(boots)]
        for fut in concurrent.futures.as_completed(futures):
            problems, counted, seconds, procs = fut.result()
            calls += counted
            rate = counted / seconds if seconds else 0
            if problems:
                failed += 1
                print(f'FAIL  PROCS="{procs}": ' + '\n'.join(problems), flush=True)
            else:
                passed += 1
                print(f'ok    PROCS="{procs}": {counted:,} calls in {seconds:.1f}s '
                      f'({rate:,.0f} calls/s), 0 mismatches', flush=True)
    done.set()
    elapsed = time.monotonic() - start
    print(f'{label}: {calls:,} system calls in {elapsed:.1f}s: {calls / elapsed:,.0f} calls/s '
          f'over {boots} QEMUs')
    if calls < total:
        failed += 1
        print(f'FAIL  only {calls:,} of {total:,} calls were made')
    return passed, failed


def fork_soak(cycles):
    """Boots `cycles` fork/exit cycles and a run with none; returns a list
    of problems (empty if none) and a line of figures."""
    empty = weensy.boot('forktest:0', ticks=10 ** 9, timeout=60)
    b = weensy.boot(f'forktest:{cycles}', ticks=10 ** 9, timeout=60 + cycles // 200, audit=1)
    problems = []
    if b.status != 0 or not b.memory or not empty.memory:
        problems.append(f'exit status {b.status}, {empty.status}: ' + b.describe(tail=15))
    elif not any(f'{cycles} fork/exit cycles' in row for row in b.console):
        problems.append('the cycles did not all run:\n' + '\n'.join(b.console))
    elif b.integrity != weensy.INTEGRITY_OK or b.memory['leaked'] != 0 \
            or b.memory['free'] != empty.memory['free']:
        problems.append(f'after {cycles} cycles: {b.integrity!r}, {b.memory}; with none: '
                        f'{empty.memory}')
    figures = (f'{cycles:,} fork/exit cycles in {b.seconds:.1f}s ({cycles / b.seconds:,.0f} a '
               f'second), free={b.memory and b.memory["free"]} as with none, leaked=0')
    return problems, figures


def parse_args(argv):
    def count(text):
        n = int(text.replace(',', '').replace('_', ''))
        if n < 1:
            raise ValueError(text)
        return n
    p = weensy.summary.Options(
        prog='tests/soak.py', description='make soak: the system call fuzzers for a long run, '
        'and fork/exit cycles, each checked for mismatches, leaks and a clean integrity line.')
    p.add_argument('--calls', type=count, metavar='N',
                   default=count(os.environ.get('SOAK_CALLS') or '10000000'),
                   help='system calls of each fuzzer soak (default 10,000,000, or SOAK_CALLS)')
    p.add_argument('--forks', type=count, metavar='N',
                   default=count(os.environ.get('SOAK_FORKS') or '100000'),
                   help='fork/exit cycles (default 100,000, or SOAK_FORKS)')
    return p.parse_args(argv)


def main(argv=()):
    try:
        a = parse_args(argv)
    except ValueError as e:
        print(f'tests/soak.py: SOAK_CALLS or SOAK_FORKS is not a positive count: {e}',
              file=sys.stderr)
        return 2
    total = a.calls
    passed, failed = soak_boots('soak', soak_boot, total, FUZZERS_PER_BOOT)
    more = soak_boots('psfuzz soak', psfuzz_boot, total, PSFUZZ_FAMILIES)
    passed, failed = passed + more[0], failed + more[1]
    problems, figures = fork_soak(a.forks)
    if problems:
        failed += 1
        print('FAIL  fork soak: ' + '\n'.join(problems))
    else:
        passed += 1
        print(f'ok    fork soak: {figures}')
    print(f'{passed} passed, {failed} failed')
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
