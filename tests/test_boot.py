"""Booting: Alice and Eve share the CPU, in either slot order, and the
summary tells the truth."""
from typing import NamedTuple

from weensy import STEADY_CLOCK, cases

TICKS = 80


class Order(NamedTuple):
    sentence: str
    procs: str


@cases([
    Order("Alice and Eve both progress, with nearly equal CPU ticks, and both appear on the "
          "console", 'alice eve'),
    Order("Eve in slot 1 and Alice in slot 2 take turns just as in the default order",
          'eve alice'),
])
def _(t, case):
    # On the steady clock the split does not depend on how busy the host is.
    b = t.boot(case.procs, ticks=TICKS, qemuextra=STEADY_CLOCK)
    pids = {name: pid for pid, name in enumerate(case.procs.split(), start=1)}
    alice = t.proc(b, pids['alice'], 'alice', 'runnable')
    eve = t.proc(b, pids['eve'], 'eve', 'runnable')
    t.check(b.ticks == TICKS, f'summary says ticks={b.ticks}, expected {TICKS}')
    t.check(alice.ticks + eve.ticks >= TICKS - 5,
            f'only {alice.ticks + eve.ticks} of {TICKS} ticks charged')
    t.check(abs(alice.ticks - eve.ticks) <= 0.35 * (alice.ticks + eve.ticks),
            f'unfair split: alice {alice.ticks} ticks, eve {eve.ticks}')
    # Both yield every iteration, so their system call counts stay in step
    # (a timer tick between two yields can let one run an extra iteration).
    t.check(alice.syscalls > 10000 and eve.syscalls > 10000,
            f'too few system calls: alice {alice.syscalls}, eve {eve.syscalls}')
    t.check(abs(alice.syscalls - eve.syscalls) <= b.ticks,
            f'alice and eve did not alternate: {alice.syscalls} vs {eve.syscalls} system calls')
    a, e = b.console_numbers('Alice'), b.console_numbers('Eve')
    t.check(a and e, "the console does not show both Alice's and Eve's lines")
    # Consecutive lines count up by one, alternating between the two.
    t.check(a == list(range(a[0], a[0] + len(a))), f"Alice's numbers are not consecutive: {a}")
    t.check(abs(max(a) - max(e)) <= 1, f'Alice reached #{max(a)}, Eve #{max(e)}')
