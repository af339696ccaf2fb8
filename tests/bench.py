#!/usr/bin/env python3
"""bench.py: `make bench`: what things cost in WeensyOS, and how fast the
development loop is.

Boots p-bench.cc headless four times: alone (PROCS=bench) and as two
processes yielding to each other (PROCS="bench:2 bench:2"), each once under
`-icount shift=0`, where the guest's time-stamp counter counts guest
instructions (the same figures every run), and once in QEMU's normal mode,
where it runs at the host's counter rate, so the figures are host cycles
(noisy: whatever else the host runs shows up). Prints one table.

The counter's frequency, to turn cycles into nanoseconds, is measured
against the host's clock: p-bench reports the counter ticks from its first
instruction to its last, and this script times the same stretch as the
kernel's log lines arrive: `timer: ...` (logged just before the first
process runs) to `proc 1 exited`.

Then the loop a developer lives in, timed on a copy of the tree (tracked and
untracked, not ignored, files), so that the checkout others use is left
alone: a clean build, a rebuild after touching kernel.cc, and the time from
starting QEMU to Alice's first line, and `make check` (CHECK=0 skips it; on the
copy), which takes a while.

Boot to Alice's first line: Alice writes only to the screen, so it is
bracketed. PROCS=alice TICKS=1 HZ=100 powers off at the first timer tick,
10 ms after the kernel logs `timer: ...` and runs Alice. Her line #1 comes
after 1024 yields, well inside those 10 ms; the final screen in the summary
must show it. The figure is the time from starting run-qemu to the summary
(an upper bound); the time to `timer: ...` is given too (a lower bound).
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ICOUNT = '-icount shift=0'
BENCH_LINE = re.compile(r'^bench (\S+) tsc=([\d.]+) net=([\d.]+) pid=(\d+)')


class TimedBoot:
    """A headless boot whose output lines carry their arrival time (seconds
    since run-qemu was started)."""

    def __init__(self, tree, procs, ticks, qemuextra='', hz=100, timeout=60):
        env = dict(os.environ, PROCS=procs, TICKS=str(ticks), HZ=str(hz),
                   TIMEOUT=str(timeout), QEMUEXTRA=qemuextra)
        start = time.monotonic()
        proc = subprocess.Popen([os.path.join(tree, 'run-qemu'), 'headless'], cwd=tree,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, errors='replace')
        self.lines = []
        for line in proc.stdout:
            self.lines.append((time.monotonic() - start, line.rstrip('\n')))
        self.stderr = proc.stderr.read()
        self.status = proc.wait()
        self.seconds = time.monotonic() - start
        if self.status != 0:
            sys.exit(f'bench: PROCS="{procs}" {qemuextra}: run-qemu exited {self.status}\n'
                     + self.stderr + '\n'.join(l for _, l in self.lines[-30:]))

    def when(self, prefix):
        """Arrival time of the first line starting with `prefix`."""
        return next(t for t, l in self.lines if l.startswith(prefix))

    def console(self):
        # Exactly the screen's rows: a process can write 'end-summary' there.
        text = [l for _, l in self.lines]
        start = text.index('console:') + 1
        return text[start:start + 25]          # CONSOLE_ROWS


def bench_boot(procs, qemuextra):
    """Runs p-bench; returns {name: (tsc, net)} (the least over processes
    for `switch`), the timer line's fields, and the counter frequency."""
    b = TimedBoot(ROOT, procs, ticks=100000, qemuextra=qemuextra)
    figures, timer, life = {}, {}, None
    for line in b.console():
        m = BENCH_LINE.match(line)
        if m:
            tsc, net = float(m.group(2)), float(m.group(3))
            if m.group(1) not in figures or tsc < figures[m.group(1)][0]:
                figures[m.group(1)] = (tsc, net)
            if m.group(1) == 'timer':
                timer = dict(kv.split('=') for kv in line.split()[2:])
        m = re.match(r'^bench life tsc=(\d+) pid=1$', line)
        if m:
            life = int(m.group(1))
    if life is None:
        sys.exit(f'bench: PROCS="{procs}": no result on the console:\n' + '\n'.join(b.console()))
    hz = life / (b.when('proc 1 exited') - b.when('timer:'))
    return figures, timer, hz


def boot_to_alice(tree):
    """Boots PROCS=alice until the first timer tick with Alice's first line
    on the screen. Her line takes about 4 ms of a 10 ms tick (HZ=100), but
    the timer follows the host's clock: on a busy host QEMU may not run for
    a while, and the tick comes first. Then the boot is retried with a
    slower timer (which lengthens the upper bound a little), so a busy host
    gives a figure rather than a failure. Returns the boot, with .hz the
    timer it took (None: never) and .retried the boots that missed."""
    retried = 0
    for hz in (100, 25, 5, 1):
        b = TimedBoot(tree, 'alice', ticks=1, hz=hz)
        if any("Hi, I'm Alice! #1" in l for l in b.console()):
            b.hz, b.retried = hz, retried
            return b
        retried += 1
    b.hz, b.retried = None, retried
    return b


def progress(what):
    """Says what is being measured now, on standard error, so that the long
    silences of a benchmark are explained."""
    print(f'bench: {what}...', file=sys.stderr, flush=True)


def copy_tree(dst):
    """Copies the tracked and the untracked-but-not-ignored files."""
    out = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                         cwd=ROOT, stdout=subprocess.PIPE, check=True).stdout
    for name in sorted(set(out.decode().split('\0')) - {''}):
        src = os.path.join(ROOT, name)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dst, name)), exist_ok=True)
            shutil.copy2(src, os.path.join(dst, name))


def timed(cmd, cwd, must_pass=True):
    start = time.monotonic()
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       errors='replace')
    seconds = time.monotonic() - start
    if r.returncode != 0 and must_pass:
        sys.exit(f'bench: {" ".join(cmd)} failed:\n{r.stdout}')
    return seconds, r.stdout


def fmt(x, digits=1):
    return '-' if x is None else f'{x:,.{digits}f}'


def main():
    # Each result line as soon as it is known, in order with the progress
    # lines, also through a pipe.
    sys.stdout.reconfigure(line_buffering=True)
    check = os.environ.get('CHECK', '1') not in ('', '0')
    print(f'machine: {os.cpu_count()} cores, {cpu_model()}; '
          f'{subprocess.run(["qemu-system-x86_64", "--version"], stdout=subprocess.PIPE, errors="replace").stdout.splitlines()[0]}')

    # ---- What things cost ----
    progress('p-bench alone, counting instructions (-icount), 1 of 4 boots')
    ins, ins_timer, ips = bench_boot('bench', ICOUNT)
    progress('two p-bench processes yielding to each other (-icount), 2 of 4')
    ins.update(bench_boot('bench:2 bench:2', ICOUNT)[0])
    progress('p-bench alone, host cycles, 3 of 4')
    cyc, cyc_timer, tsc_hz = bench_boot('bench', '')
    progress('two p-bench processes, host cycles, 4 of 4')
    cyc.update(bench_boot('bench:2 bench:2', '')[0])

    rows = [('empty loop iteration', 'loop', 'tsc'),
            ('procedure call', 'call', 'net'),
            ('sys_getpid', 'getpid', 'net'),
            ('sys_yield, nothing else runnable', 'yield', 'net'),
            ('switch (two processes yielding)', 'switch', 'net'),
            ('timer interrupt, per tick', 'timer', 'net')]
    print(f'\nper iteration, empty loop subtracted; counter at {tsc_hz / 1e9:.3f} GHz '
          f'(host clock), emulation {ips / 1e6:.0f} M guest instructions/s under -icount')
    print(f'{"measurement":<34} {"instructions":>12} {"cycles":>10} {"ns":>9}')
    for label, key, col in rows:
        i = ins[key][0 if col == 'tsc' else 1]
        c = cyc[key][0 if col == 'tsc' else 1]
        print(f'{label:<34} {fmt(i):>12} {fmt(c):>10} {fmt(c / tsc_hz * 1e9):>9}')
    ratio_i = ins['getpid'][1] / ins['call'][1]
    ratio_c = cyc['getpid'][1] / cyc['call'][1]
    print(f'{"system call / procedure call":<34} {ratio_i:>11.0f}x {ratio_c:>9.0f}x')
    print(f'(timer: the median of 21 long gaps in a spin; without -icount the host '
          f'interrupting QEMU looks alike: mean {int(cyc_timer["mean"]):,} cycles)')
    print(f'round trip, loop included: sys_getpid {ins["getpid"][0]:.0f} instructions '
          f'(target 100), sys_yield {ins["yield"][0]:.0f} (target 300)')

    # ---- The development loop ----
    with tempfile.TemporaryDirectory(prefix='weensyos-bench-') as tree:
        copy_tree(tree)
        progress('a clean build of a copy of the tree')
        clean, _ = timed(['make', '-s'], tree)
        os.utime(os.path.join(tree, 'kernel.cc'))
        rebuild, _ = timed(['make', '-s'], tree)
        progress('booting to Alice\'s first line, 5 times')
        ready, alice, retried = [], [], 0
        for _ in range(5):
            b = boot_to_alice(tree)
            retried += b.retried
            if b.hz is not None:
                ready.append(b.when('timer:'))
                alice.append(b.when('summary:'))
        print(f'\nclean build (make, one job):            {clean:6.2f} s')
        print(f'rebuild after touching kernel.cc:       {rebuild:6.2f} s (target 1.5)')
        if alice:
            print(f'QEMU start to Alice\'s first line:       {statistics.median(alice):6.2f} s '
                  f'(target 0.3; median of {len(alice)}, at most this; kernel ready at '
                  f'{statistics.median(ready):.2f} s)'
                  + (f'; {retried} boots retried with a slower timer, the host being busy'
                     if retried else ''))
        else:
            print('QEMU start to Alice\'s first line:       not measured (the host was too busy '
                  'for Alice to print within a second)')
        if check:
            progress('make check on the copy (CHECK=0 skips it)')
            seconds, out = timed(['make', '-s', 'check'], tree, must_pass=False)
            print(f'make check:                             {seconds:6.1f} s (target 60; '
                  f'{out.strip().splitlines()[-1]})')
        else:
            print('make check:                             not timed (CHECK=0)')


def cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            return next(l.split(':', 1)[1].strip() for l in f if l.startswith('model name'))
    except (OSError, StopIteration):
        return 'unknown CPU'


if __name__ == '__main__':
    main()
