"""Booting: Alice and Eve share the CPU, and the summary tells the truth."""
from weensy import STEADY_CLOCK, test


@test("Alice and Eve both progress, with nearly equal CPU ticks, and both appear on the console")
def _(t):
    # On the steady clock the split does not depend on how busy the host is.
    b = t.boot('alice eve', ticks=80, qemuextra=STEADY_CLOCK)
    alice = t.proc(b, 1, 'alice', 'runnable')
    eve = t.proc(b, 2, 'eve', 'runnable')
    t.check(b.ticks == 80, f'summary says ticks={b.ticks}, expected 80')
    t.check(alice.ticks + eve.ticks >= 75, f'only {alice.ticks + eve.ticks} of 80 ticks charged')
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
