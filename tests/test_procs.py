"""Processes: every program runs alone and in any slot, all four slots work,
processes that end are reported as such, a run with nothing left to run
stops early, and HZ sets the timer's rate."""
import os
import re
import subprocess
import time

import weensy
from weensy import ROOT, test


def eve_warmup():
    """Eve's yields before she attacks (u-eve.hh)."""
    with open(os.path.join(ROOT, 'u-eve.hh')) as f:
        return int(re.search(r'#define EVE_WARMUP_LINES (\d+)', f.read()).group(1)) * 1024


# How each basic program ends when it runs alone: its final state, and for
# a killed one how the reason starts.
ALONE = {
    'alice': ('runnable', None),
    'eve': ('runnable', None),
    'eve-spin': ('runnable', None),
    'eve-sysname': ('runnable', None),
    'eve-pagealloc': ('runnable', None),
    'eve-cli': ('broken', 'general protection fault'),
    'eve-div0': ('broken', 'divide error'),
    'eve-kwrite': ('broken', 'page fault: write to'),
    'eve-kjump': ('broken', 'page fault: instruction fetch from'),
    'eve-panic': ('broken', 'sys_panic: '),
    'hello': ('exited', None),
}
ALONE_TICKS = 30
# Boots that check how much a process got done run on the steady clock.
ICOUNT = weensy.STEADY_CLOCK
# A run whose only process ends stops then; TICKS is only an upper bound.
UNTIL_DONE_TICKS = 1000


def alone(t, program):
    state, reason = ALONE[program]
    ticks = ALONE_TICKS if state == 'runnable' else UNTIL_DONE_TICKS
    b = t.boot(program, ticks=ticks, qemuextra=ICOUNT)
    p = t.proc(b, 1, program, state)
    t.check(len(b.procs) == 1, f'the summary lists {len(b.procs)} processes, not 1')
    t.check(not any(l.startswith('PANIC: ') for l in b.lines), 'the kernel panicked')
    if state == 'runnable':
        t.check(b.ticks == ticks, f'the run stopped at tick {b.ticks} of {ticks}')
        t.check(p.ticks >= 0.9 * ticks, f'the only process got {p.ticks} of {ticks} ticks')
        t.check(p.syscalls > 0, 'the process made no system call')
    else:
        t.check(b.ticks < ticks, f'the run went on to tick {b.ticks} with nothing to run')
    if reason:
        t.check(p.reason.startswith(reason), f'reason {p.reason!r} does not start with {reason!r}')
    return b, p


@test("Alice alone gets every tick and prints consecutive lines matching her system call count")
def _(t):
    b, alice = alone(t, 'alice')
    numbers = b.console_numbers('Alice')
    t.check(numbers == list(range(numbers[0], numbers[0] + len(numbers))) if numbers else False,
            f"Alice's lines are not consecutive: {numbers}")
    t.check(abs(max(numbers) - alice.syscalls // 1024) <= 1,
            f'Alice reached #{max(numbers)} with {alice.syscalls} system calls')


@test("Eve alone counts like Alice and gets every tick")
def _(t):
    b, eve = alone(t, 'eve')
    t.check(b.console_numbers('Eve'), "Eve's lines are not on the screen")


@test("Eve spinning alone keeps the CPU: every tick is hers and she makes no more system calls")
def _(t):
    b, eve = alone(t, 'eve-spin')
    t.check(eve.syscalls == eve_warmup(),
            f'Eve made {eve.syscalls} system calls; she stops calling after {eve_warmup()}')


for _program in ['eve-sysname', 'eve-pagealloc', 'eve-cli', 'eve-div0', 'eve-kwrite',
                 'eve-kjump', 'eve-panic']:
    _state, _reason = ALONE[_program]
    _end = ('keeps running' if _state == 'runnable'
            else f'is killed ({_reason.rstrip(": ")}) and the run stops early')

    @test(f"{_program} alone {_end}")
    def _(t, program=_program):
        alone(t, program)


@test("hello alone prints its line, returns from process_main, ends exited, and the run stops early")
def _(t):
    b, hello = alone(t, 'hello')
    t.check('Hello from process 1!' in b.console, 'the screen does not show "Hello from process 1!"')
    t.check(hello.syscalls == 2, f'hello made {hello.syscalls} system calls, not 2 (getpid, exit)')


@test("Eve in slot 1 and Alice in slot 2 take turns just as in the default order")
def _(t):
    b = t.boot('eve alice', ticks=50, qemuextra=ICOUNT)
    eve = t.proc(b, 1, 'eve', 'runnable')
    alice = t.proc(b, 2, 'alice', 'runnable')
    t.check(eve.ticks + alice.ticks >= 0.9 * b.ticks,
            f'only {eve.ticks + alice.ticks} of {b.ticks} ticks charged')
    t.check(abs(alice.syscalls - eve.syscalls) <= b.ticks,
            f'they did not alternate: eve {eve.syscalls}, alice {alice.syscalls} system calls')
    t.check(b.console_numbers('Alice') and b.console_numbers('Eve'),
            "the screen does not show both Alice's and Eve's lines")


@test("All four slots run at once (alice eve alice eve): each is loaded in its slot and they take turns")
def _(t):
    names = ['alice', 'eve', 'alice', 'eve']
    b = t.boot(' '.join(names), ticks=60, qemuextra=ICOUNT)
    procs = [t.proc(b, pid, name, 'runnable') for pid, name in enumerate(names, start=1)]
    counts = [p.syscalls for p in procs]
    t.check(min(counts) > 1000, f'a process barely ran: {counts} system calls')
    t.check(max(counts) - min(counts) <= b.ticks, f'round robin is unfair: {counts} system calls')
    t.check(sum(p.ticks for p in procs) >= 0.9 * b.ticks, 'ticks are not charged to the processes')
    # Two Alices and two Eves: every number shows up twice, once per copy.
    numbers = b.console_numbers('Alice', collapse_repeats=False)
    t.check(any(numbers.count(n) == 2 for n in numbers),
            f'the screen does not show both Alices counting: {numbers}')


@test("A process that returns from process_main ends exited; the one between two of them runs on")
def _(t):
    # Spinning Eve prints only a few lines, so the hellos stay on screen.
    b = t.boot('hello eve-spin hello', ticks=40)
    t.check(b.ticks == 40, f'the run stopped at tick {b.ticks} of 40')
    for pid in (1, 3):
        hello = t.proc(b, pid, 'hello', 'exited')
        t.check(hello.reason is None, f'proc {pid} has a reason: {hello.reason}')
        t.check(f'Hello from process {pid}!' in b.console,
                f'the screen does not show "Hello from process {pid}!" (sys_getpid)')
    eve = t.proc(b, 2, 'eve-spin', 'runnable')
    t.check(eve.ticks >= 0.9 * b.ticks, f'Eve got {eve.ticks} of {b.ticks} ticks')


@test("When no process can run the machine powers off at once with status 0, long before TICKS")
def _(t):
    started = time.monotonic()
    b = t.boot('hello eve-div0 hello', ticks=100000, timeout=20)
    t.proc(b, 1, 'hello', 'exited')
    t.proc(b, 2, 'eve-div0', 'broken')
    t.proc(b, 3, 'hello', 'exited')
    t.check(b.ticks < 1000, f'the run went on to tick {b.ticks}')
    t.check(time.monotonic() - started < 15, 'the run took as long as the time limit')


@test("HZ=1000 makes 200 ticks last about 0.2 s of time, not the 2 s they take at 100 Hz")
def _(t):
    ticks, hz = 200, 1000
    env = dict(os.environ, PROCS='alice eve', TICKS=str(ticks), HZ=str(hz), TIMEOUT='30',
               QEMUEXTRA='')
    stamps = {}
    lines = []
    with weensy.qemu_slots:
        started = time.monotonic()
        q = subprocess.Popen([os.path.join(ROOT, 'run-qemu'), 'headless'], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, errors='replace')
        # Timestamp the kernel's first line and the summary as they arrive:
        # QEMU's start-up and the BIOS do not count.
        for line in q.stdout:
            line = line.rstrip('\n')
            lines.append(line)
            for key in ('WeensyOS:', 'summary:'):
                if line.startswith(key) and key not in stamps:
                    stamps[key] = time.monotonic()
        stderr = q.stderr.read()
        status = q.wait()
    b = weensy.Boot([f'TICKS={ticks}', f'HZ={hz}'], status, '\n'.join(lines), stderr,
                    time.monotonic() - started)
    t.boots.append(b)
    t.check(status == 0, f'exit status {status}')
    t.check(b.ticks == ticks, f'summary says ticks={b.ticks}')
    t.check(len(stamps) == 2, 'the kernel did not print its first line and the summary')
    seconds = stamps['summary:'] - stamps['WeensyOS:']
    # Ticks can come late on a busy host, never early: 0.2 s is a floor.
    # The ceiling leaves room for a slow host and still excludes 100 Hz.
    t.check(0.19 <= seconds <= 1.5, f'{ticks} ticks at HZ={hz} took {seconds:.2f} s')
