#!/usr/bin/env python3
"""bench.py: `make bench`: what things cost in WeensyOS, and how fast the
development loop is.

Boots p-bench.cc headless eight times: alone (PROCS=bench) and as two
processes yielding to each other (PROCS="bench:2 bench:2"), each once under
`-icount shift=0`, where the guest's time-stamp counter counts guest
instructions (the same figures every run), and once in QEMU's normal mode,
where it runs at the host's counter rate, so the figures are host cycles
(noisy: whatever else the host runs shows up); all of that in both kernel
modes: the default, where the kernel stays on the page table of the process
that entered, and PTSWITCH=1, where every entry and exit switches %cr3 as
the lecture's kernel does. Prints one table with both side by side.

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
must show it (or the later lines that scrolled it away). The figure is the time from starting run-qemu to the summary
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

    def __init__(self, tree, procs, ticks, qemuextra='', hz=100, timeout=60, ptswitch='0'):
        env = dict(os.environ, PROCS=procs, TICKS=str(ticks), HZ=str(hz),
                   TIMEOUT=str(timeout), QEMUEXTRA=qemuextra, PTSWITCH=ptswitch)
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


def bench_boot(procs, qemuextra, ptswitch='0'):
    """Runs p-bench; returns {name: (tsc, net)} (the least over processes
    for `switch`), the timer line's fields, and the counter frequency."""
    b = TimedBoot(ROOT, procs, ticks=100000, qemuextra=qemuextra, ptswitch=ptswitch)
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
    check = os.environ.get('CHECK', '1') not in ('', '0')
    print(f'machine: {os.cpu_count()} cores, {cpu_model()}; '
          f'{subprocess.run(["qemu-system-x86_64", "--version"], stdout=subprocess.PIPE, errors="replace").stdout.splitlines()[0]}')

    # ---- What things cost, in both modes ----
    ins, cyc, ins_timer, cyc_timer, ips, tsc_hz = {}, {}, {}, {}, None, None
    for mode in ('0', '1'):
        ins[mode], ins_timer[mode], hz = bench_boot('bench', ICOUNT, mode)
        ins[mode].update(bench_boot('bench:2 bench:2', ICOUNT, mode)[0])
        cyc[mode], cyc_timer[mode], chz = bench_boot('bench', '', mode)
        cyc[mode].update(bench_boot('bench:2 bench:2', '', mode)[0])
        ips, tsc_hz = ips or hz, tsc_hz or chz

    rows = [('empty loop iteration', 'loop', 'tsc'),
            ('procedure call', 'call', 'net'),
            ('sys_getpid', 'getpid', 'net'),
            ('sys_yield, nothing else runnable', 'yield', 'net'),
            ('switch (two processes yielding)', 'switch', 'net'),
            ('timer interrupt, per tick', 'timer', 'net')]
    print(f'\nper iteration, empty loop subtracted; counter at {tsc_hz / 1e9:.3f} GHz '
          f'(host clock), emulation {ips / 1e6:.0f} M guest instructions/s under -icount')
    print(f'{"":<34} {"kernel on the process table":>33}   {"PTSWITCH=1 (%cr3 on every entry)":>33}')
    print(f'{"measurement":<34} {"instructions":>12} {"cycles":>10} {"ns":>9}   '
          f'{"instructions":>12} {"cycles":>10} {"ns":>9}')
    for label, key, col in rows:
        k = 0 if col == 'tsc' else 1
        cells = []
        for mode in ('0', '1'):
            i, c = ins[mode][key][k], cyc[mode][key][k]
            cells.append(f'{fmt(i):>12} {fmt(c):>10} {fmt(c / tsc_hz * 1e9):>9}')
        print(f'{label:<34} ' + '   '.join(cells))
    ratios = []
    for mode in ('0', '1'):
        ratios.append(f'{ins[mode]["getpid"][1] / ins[mode]["call"][1]:>11.0f}x '
                      f'{cyc[mode]["getpid"][1] / cyc[mode]["call"][1]:>9.0f}x {"":>9}')
    print(f'{"system call / procedure call":<34} ' + '   '.join(ratios))
    print(f'(timer: the median of 21 long gaps in a spin; without -icount the host '
          f'interrupting QEMU looks alike: mean {int(cyc_timer["0"]["mean"]):,} cycles)')
    print(f'round trip, loop included: sys_getpid {ins["0"]["getpid"][0]:.0f} instructions '
          f'(target 75), sys_yield {ins["0"]["yield"][0]:.0f} (target 120); with PTSWITCH=1 '
          f'{ins["1"]["getpid"][0]:.0f} and {ins["1"]["yield"][0]:.0f}')
    print(f'sys_getpid host cycles: {cyc["0"]["getpid"][1]:,.0f} against {cyc["1"]["getpid"][1]:,.0f} '
          f'with PTSWITCH=1: {cyc["0"]["getpid"][1] / cyc["1"]["getpid"][1]:.2f} of it (target 0.20)')

    # ---- The development loop ----
    with tempfile.TemporaryDirectory(prefix='weensyos-bench-') as tree:
        copy_tree(tree)
        clean, _ = timed(['make', '-s'], tree)
        os.utime(os.path.join(tree, 'kernel.cc'))
        rebuild, _ = timed(['make', '-s'], tree)
        ready, alice = [], []
        for _ in range(5):
            b = TimedBoot(tree, 'alice', ticks=1)
            # Her first line, or later ones that scrolled it away.
            if not any("Hi, I'm Alice! #" in l for l in b.console()):
                sys.exit("bench: Alice's first line is not on the screen at the first tick")
            ready.append(b.when('timer:'))
            alice.append(b.when('summary:'))
        print(f'\nclean build (make, one job):            {clean:6.2f} s')
        print(f'rebuild after touching kernel.cc:       {rebuild:6.2f} s (target 1.5)')
        print(f'QEMU start to Alice\'s first line:       {statistics.median(alice):6.2f} s '
              f'(target 0.3; median of 5, at most this; kernel ready at '
              f'{statistics.median(ready):.2f} s)')
        if check:
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
