"""Processes: every program runs alone, all four slots work,
processes that end are reported as such, a run with nothing left to run
stops early, and HZ sets the timer's rate."""
from typing import NamedTuple, Optional

from weensy import EVE_WARMUP, STEADY_CLOCK, cases, test


class Alone(NamedTuple):
    """How a basic program ends when it runs alone."""
    program: str
    state: str
    reason: Optional[str] = None    # for a killed one, how the reason starts

    @property
    def sentence(self):
        end = ('keeps running' if self.state == 'runnable'
               else f'is killed ({self.reason.rstrip(": ")}) and the run stops early')
        return f'{self.program} alone {end}'


ALONE = {row.program: row for row in [
    Alone('alice', 'runnable'),
    Alone('eve', 'runnable'),
    Alone('eve-spin', 'runnable'),
    Alone('eve-sysname', 'runnable'),
    Alone('eve-pagealloc', 'runnable'),
    Alone('eve-cli', 'broken', 'general protection fault'),
    Alone('eve-div0', 'broken', 'divide error'),
    Alone('eve-kwrite', 'broken', 'page fault: write to'),
    Alone('eve-kjump', 'broken', 'page fault: instruction fetch from'),
    Alone('eve-panic', 'broken', 'sys_panic: '),
    Alone('hello', 'exited'),
]}
ALONE_TICKS = 30
# A run whose only process ends stops then; TICKS is only an upper bound.
UNTIL_DONE_TICKS = 1000


def alone(t, row):
    """Boots `row.program` alone and checks it ends as the row says."""
    ticks = ALONE_TICKS if row.state == 'runnable' else UNTIL_DONE_TICKS
    b = t.boot(row.program, ticks=ticks, qemuextra=STEADY_CLOCK)
    p = t.proc(b, 1, row.program, row.state)
    t.check(len(b.procs) == 1, f'the summary lists {len(b.procs)} processes, not 1')
    t.no_panic(b)
    if row.state == 'runnable':
        t.check(b.ticks == ticks, f'the run stopped at tick {b.ticks} of {ticks}')
        t.check(p.ticks >= 0.9 * ticks, f'the only process got {p.ticks} of {ticks} ticks')
        t.check(p.syscalls > 0, 'the process made no system call')
    else:
        t.check(b.ticks < ticks, f'the run went on to tick {b.ticks} with nothing to run')
    if row.reason:
        t.check(p.reason.startswith(row.reason),
                f'reason {p.reason!r} does not start with {row.reason!r}')
    return b, p


@test("Alice alone gets every tick and prints consecutive lines matching her system call count")
def _(t):
    b, alice = alone(t, ALONE['alice'])
    t.alice_counts(b, 1, at_least=1)


@test("Eve alone counts like Alice and gets every tick")
def _(t):
    b, eve = alone(t, ALONE['eve'])
    t.check(b.console_numbers('Eve'), "Eve's lines are not on the screen")


@test("Eve spinning alone keeps the CPU: every tick is hers and she makes no more system calls")
def _(t):
    b, eve = alone(t, ALONE['eve-spin'])
    t.check(eve.syscalls == EVE_WARMUP,
            f'Eve made {eve.syscalls} system calls; she stops calling after {EVE_WARMUP}')


cases([ALONE[p] for p in ['eve-sysname', 'eve-pagealloc', 'eve-cli', 'eve-div0', 'eve-kwrite',
                          'eve-kjump', 'eve-panic']])(alone)


@test("hello alone prints its line, returns from process_main, ends exited, and the run stops early")
def _(t):
    b, hello = alone(t, ALONE['hello'])
    t.check('Hello from process 1!' in b.console, 'the screen does not show "Hello from process 1!"')
    t.check(hello.syscalls == 2, f'hello made {hello.syscalls} system calls, not 2 (getpid, exit)')


@test("All four slots run at once (alice eve alice eve): each is loaded in its slot and they take turns")
def _(t):
    names = ['alice', 'eve', 'alice', 'eve']
    b = t.boot(' '.join(names), ticks=60, qemuextra=STEADY_CLOCK)
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
    b = t.boot('hello eve-div0 hello', ticks=100000, timeout=20)
    t.proc(b, 1, 'hello', 'exited')
    t.proc(b, 2, 'eve-div0', 'broken')
    t.proc(b, 3, 'hello', 'exited')
    t.check(b.ticks < 1000, f'the run went on to tick {b.ticks}')


@test("HZ=1000 makes 200 ticks last about 0.2 s of time, not the 2 s they take at 100 Hz")
def _(t):
    ticks, hz = 200, 1000
    b = t.boot('alice eve', ticks=ticks, hz=hz, qemuextra=STEADY_CLOCK)
    t.check(b.ticks == ticks, f'summary says ticks={b.ticks}')
    t.check(any(f'interrupting {hz} times a second' in l for l in b.log_lines),
            f'the timer does not say it interrupts {hz} times a second')
    # The time the two were charged, measured with the time-stamp counter:
    # the whole run, as one of them was always on the CPU. On the steady
    # clock, where the counter follows guest instructions: without it the
    # counter is the host's, and a host that stalls QEMU stretches the last
    # tick (a run still ends at tick TICKS, however late).
    seconds = (b.proc(1).cpu + b.proc(2).cpu) / 1e6
    t.check(0.19 <= seconds <= 0.21, f'{ticks} ticks at HZ={hz} took {seconds:.3f} s')
