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

Then the loop a developer lives in, timed on a copy of the tree
(weensy.copy_sources), so that the checkout others use is left alone: a clean build, a rebuild after touching kernel.cc, and the time from
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
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weensy  # noqa: E402

ICOUNT = '-icount shift=0'
BENCH_LINE = re.compile(r'^bench (\S+) tsc=([\d.]+) net=([\d.]+) pid=(\d+)')


def timed_boot(procs, ticks, qemuextra='', tree=weensy.ROOT, ptswitch=0, hz=100):
    """Boots `tree` headless (weensy.boot: every run setting its own, none
    from the environment or config.mk); each output line carries its
    arrival time. Stops the benchmark if the boot fails."""
    b = weensy.boot(procs, ticks, tree=tree, timeout=60, qemuextra=qemuextra, ptswitch=ptswitch,
                    hz=hz)
    if b.status != 0 or b.ticks is None:
        sys.exit('bench: a boot failed\n' + b.describe(tail=30))
    return b


def bench_boot(procs, qemuextra, ptswitch='0'):
    """Runs p-bench; returns {name: (tsc, net)} (the least over processes
    for `switch`), the timer line's fields, and the counter frequency."""
    b = timed_boot(procs, ticks=100000, qemuextra=qemuextra, ptswitch=ptswitch)
    figures, timer, life = {}, {}, None
    for line in b.console:
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
        sys.exit(f'bench: PROCS="{procs}": no result on the console:\n' + '\n'.join(b.console))
    hz = life / (b.when('proc 1 exited') - b.when('timer:'))
    return figures, timer, hz


def display_cost(ticks=200):
    """The live screen's cost: p-tickcost spins through `ticks` timer ticks
    under -icount shift=0 with the panel on (VIEW=map) and off
    (VIEW=console) and reports the counter ticks the kernel took. Returns
    {view: (per timer tick, share of the CPU)}."""
    out = {}
    for view in ('console', 'map'):
        b = weensy.boot(f'tickcost:{ticks}', 100000, hz=100, timeout=60, qemuextra=ICOUNT,
                        view=view)
        m = re.search(r'^tickcost ticks=(\d+) stolen=(\d+) total=(\d+)$', '\n'.join(b.lines), re.M)
        if b.status != 0 or not m:
            sys.exit(f'bench: PROCS=tickcost VIEW={view}: no result\n' + '\n'.join(b.lines[-40:]))
        n, stolen, total = (int(g) for g in m.groups())
        out[view] = (stolen / n, stolen / total)
    return out


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
        b = timed_boot('alice', ticks=1, tree=tree, hz=hz)
        # Her first line, or later ones that scrolled it away.
        if any("Hi, I'm Alice! #" in l for l in b.console):
            b.hz, b.retried = hz, retried
            return b
        retried += 1
    b.hz, b.retried = None, retried
    return b


def progress(what):
    """Says what is being measured now, on standard error, so that the long
    silences of a benchmark are explained."""
    print(f'bench: {what}...', file=sys.stderr, flush=True)




def timed(cmd, cwd, must_pass=True):
    """Runs `cmd` (weensy.run: a clean environment); returns its seconds
    and output."""
    status, out, seconds = weensy.run(cmd, cwd, timeout=None)
    if status != 0 and must_pass:
        sys.exit(f'bench: {" ".join(cmd)} failed:\n{out}')
    return seconds, out


def fmt(x, digits=1):
    return '-' if x is None else f'{x:,.{digits}f}'


def parse_args(argv):
    p = weensy.summary.Options(
        prog='tests/bench.py', description='make bench: what system calls, switches, the '
        'timer and fork cost (guest instructions under -icount, and host cycles), then the '
        'edit-build-boot loop and make check, timed on a copy of the tree.')
    p.add_argument('--no-check', action='store_true',
                   help='do not time make check (as CHECK=0, which make bench passes on)')
    return p.parse_args(argv)


def main(argv=()):
    a = parse_args(argv)
    # Each result line as soon as it is known, in order with the progress
    # lines, also through a pipe.
    sys.stdout.reconfigure(line_buffering=True)
    check = os.environ.get('CHECK', '1') not in ('', '0') and not a.no_check
    print(f'machine: {os.cpu_count()} cores, {cpu_model()}; '
          f'{subprocess.run(["qemu-system-x86_64", "--version"], stdout=subprocess.PIPE, errors="replace").stdout.splitlines()[0]}')

    # ---- What things cost, in both modes ----
    ins, cyc, ins_timer, cyc_timer, ips, tsc_hz = {}, {}, {}, {}, None, None
    for mode in ('0', '1'):
        which = f'PTSWITCH={mode}'
        progress(f'{which}: p-bench alone, counting instructions (-icount)')
        ins[mode], ins_timer[mode], hz = bench_boot('bench', ICOUNT, mode)
        progress(f'{which}: two p-bench processes yielding to each other (-icount)')
        ins[mode].update(bench_boot('bench:2 bench:2', ICOUNT, mode)[0])
        progress(f'{which}: p-bench alone, host cycles')
        cyc[mode], cyc_timer[mode], chz = bench_boot('bench', '', mode)
        progress(f'{which}: two p-bench processes, host cycles')
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

    cost = display_cost()
    (off_tick, off_share), (on_tick, on_share) = cost['console'], cost['map']
    print(f'live screen, per timer tick at HZ=100 under -icount: {off_tick:,.0f} counter ticks '
          f'with it off (VIEW=console), {on_tick:,.0f} on (VIEW=map): '
          f'{100 * (on_share - off_share):.2f}% of the CPU (limit 2%)')

    fork_figures()

    # ---- The development loop ----
    with tempfile.TemporaryDirectory(prefix='weensyos-bench-') as tree:
        weensy.copy_sources(tree)
        progress('a clean build of a copy of the tree')
        clean, _ = timed(weensy.make_command('-s'), tree)
        os.utime(os.path.join(tree, 'kernel.cc'))
        rebuild, _ = timed(weensy.make_command('-s'), tree)
        progress("booting to Alice's first line, 5 times")
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
            seconds, out = timed(weensy.make_command('-s', 'check', 'ONLY=', 'LIST='), tree,
                                 must_pass=False)
            print(f'make check:                             {seconds:6.1f} s (target 60; '
                  f'{out.strip().splitlines()[-1]})')
        else:
            print('make check:                             not timed (CHECK=0)')


FORK_LINE = re.compile(r'^forkbench pages=(\d+) fork=(\d+) round=(\d+) copy=(\d+)$')
# The problem set's targets (issue 18): a typical pset fork walks all 768
# virtual pages with a page-table walk each, about 695,000 guest
# instructions at 4 heap pages; ours visits only the entries that exist.
FORK_TARGET_4 = 35000
TYPICAL_FORK_4 = 695000
COPY_RATIO_TARGET = 1.3


COW_GROWTH_TARGET = 2
COPYING_KERNEL = 'obj/before-16/weensyos.img'     # exercise 16 undone: fork copies


def forkbench(pages, image):
    """p-forkbench's figures (fork, round, copy) with `pages` writable pages."""
    b = weensy.boot(f'forkbench:{pages}', 100000, timeout=60, qemuextra=ICOUNT, image=image)
    m = next((FORK_LINE.match(l) for l in b.console if FORK_LINE.match(l)), None)
    if b.status != 0 or not m:
        sys.exit('bench: p-forkbench printed no figures\n' + b.describe(tail=30))
    return [int(x) for x in m.groups()[1:]]


def fork_figures():
    """p-forkbench under -icount shift=0, with 4 and 64 writable pages: the
    parent's sys_fork and the whole round (fork, the child's exit, two
    switches), on the kernel that copies at fork (before-16) and on the
    finished one (copy-on-write); and the cost per page fork copies against
    the same 4 KiB copy loop (32 bytes a turn) run in the process, in the
    same boot."""
    progress('fork and exit at 4 and 64 writable pages (p-forkbench)')
    print(f'\nfork, guest instructions (-icount shift=0), least of 40:')
    for label, image in (('copying fork (before-16)', COPYING_KERNEL), ('copy-on-write', None)):
        (fork4, round4, copy), (fork64, round64, _) = forkbench(4, image), forkbench(64, image)
        print(f'  {label}: sys_fork {fork4:,} at 4 writable pages (target {FORK_TARGET_4:,}; a '
              f'fork that walks all 768 pages: about {TYPICAL_FORK_4:,}), {fork64:,} at 64 '
              f'({fork64 / fork4:.1f}x); fork + exit + 2 switches {round4:,} and {round64:,}')
        if image == COPYING_KERNEL:
            per_page = (fork64 - fork4) / 60
            print(f'    per copied page: {per_page:,.0f}, against {copy:,} for the same '
                  f'32-bytes-a-turn 4 KiB copy loop in a process: {per_page / copy:.2f}x '
                  f'(target {COPY_RATIO_TARGET}x)')
        else:
            print(f'    64 pages against 4: {fork64 / fork4:.2f}x (target {COW_GROWTH_TARGET}x)')


def cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            return next(l.split(':', 1)[1].strip() for l in f if l.startswith('model name'))
    except (OSError, StopIteration):
        return 'unknown CPU'


if __name__ == '__main__':
    main(sys.argv[1:])
