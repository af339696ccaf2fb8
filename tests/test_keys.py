"""Keys typed in the OS screen: m shows the memory map, i checks the kernel's
integrity on demand, q powers the machine off. Each key is typed once the
kernel has answered the one before, into a run that lasts until the test
ends it."""
import weensy
from weensy import test


@test("Typing m and i in the OS screen prints the memory map and an integrity check on the console and in the log")
def _(t):
    with t.live('alice eve') as run:
        run.key('m')
        run.wait_for(r'^physical memory, one character per page:$')
        run.key('i')
        run.wait_for(r'^integrity check: kernel ')
        b = run.end()
    summary = b.lines.index(next(l for l in b.lines if l.startswith('summary:')))
    before = b.lines[:summary]
    maps = [i for i, l in enumerate(before) if l == 'physical memory, one character per page:']
    # One map from 'm', one written at the end of every headless run.
    t.check(len(maps) == 2, f'expected the memory map twice in the log (m, then the end), got {len(maps)}')
    t.check('integrity check: kernel ' + weensy.INTEGRITY_OK in before,
            "no on-demand integrity check in the log after typing i")


@test("Typing q in the OS screen powers the machine off at once, without a summary")
def _(t):
    with t.live('alice eve') as run:
        run.key('q')
        b = run.finished(summary=False)
    t.check('quit requested from the keyboard' in b.lines, 'the kernel did not log the quit')
    t.check(b.ticks is None, 'a summary was printed: the run went on to TICKS')
