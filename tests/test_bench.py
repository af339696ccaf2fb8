"""Speed guard: a system call stays cheap, counted in guest instructions.

Under `-icount shift=0` the guest's time-stamp counter counts instructions,
so p-bench's figures are the same on every run and every machine: a limit
on them fails only when the kernel's path really grew."""

from weensy import test

# Per round trip, the benchmark's loop included: the targets of the entry
# path without a page-table switch (tuned to 68 and 110).
GETPID_LIMIT = 85
YIELD_LIMIT = 150


@test("p-bench under -icount: sys_getpid stays within 85 guest instructions per call, sys_yield (nothing else runnable) within 150")
def _(t):
    b = t.boot('bench', ticks=100000, timeout=60, qemuextra='-icount shift=0')
    t.proc(b, 1, 'bench', 'exited')
    figures = {m.group(1): float(m.group(2))
               for m in b.console_matches(r'^bench (\S+) tsc=([\d.]+) net=([\d.]+) pid=1$')}
    t.check('getpid' in figures and 'yield' in figures,
            'the benchmark printed no sys_getpid or sys_yield figure')
    # A figure this small would mean the counter is not counting
    # instructions (no -icount), or the loop was optimized away.
    t.check(figures['loop'] >= 1 and figures['getpid'] > 20,
            f'implausible figures: {figures}')
    t.check(figures['getpid'] <= GETPID_LIMIT,
            f'sys_getpid takes {figures["getpid"]:.0f} guest instructions, limit {GETPID_LIMIT}')
    t.check(figures['yield'] <= YIELD_LIMIT,
            f'sys_yield takes {figures["yield"]:.0f} guest instructions, limit {YIELD_LIMIT}')
