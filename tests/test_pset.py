"""The problem set: virtual memory, fork and exit on the finished kernel.
Pages come from the allocator, anywhere; every process has the same
layout; fork copies what is writable and shares what is not; exit gives
everything back; running out of memory is an answer (-1), never a crash;
the fork bomb takes no more than its family's share. After every run the
kernel's own audit says memory=ok (t.boot checks the integrity line)."""
import re
from typing import NamedTuple

import weensy
from weensy import (MEMSIZE_PHYSICAL, PAGESIZE, PROC_SLOT_SIZE, STEADY_CLOCK, cases, define,
                    test)

MEMSIZE_VIRTUAL = define('lib.hh', 'MEMSIZE_VIRTUAL')
PROC_START_ADDR = weensy.PROC_START_ADDR
SLOT_PAGES = PROC_SLOT_SIZE // PAGESIZE


def lines(b, prefix):
    """The screen rows starting with `prefix`, repeats (from scrolling) once."""
    out = []
    for row in b.console:
        if row.startswith(prefix) and row not in out:
            out.append(row)
    return out


def forktest(t, case, ticks=300, **chosen):
    """Boots tests/programs/p-forktest.cc's case `case` alone."""
    return t.boot(f'forktest:{case}', ticks=ticks, qemuextra=STEADY_CLOCK, **chosen)


@test("Four allocators grow their heaps on pages from anywhere in physical memory until it runs "
      "out: each then hears -1 once, nobody is killed, every page is counted, and no page leaks")
def _(t):
    b = t.boot('allocator allocator allocator allocator', ticks=200, qemuextra=STEADY_CLOCK)
    t.no_panic(b)
    for pid in range(1, 5):
        p = t.proc(b, pid, 'allocator', 'runnable')
        t.check(p.pages > 20 and p.parent == 0, f'allocator {pid}: {p}')
    t.check(not b.killed(), f'kills: {b.killed()}')
    t.check(len(lines(b, 'allocator ')) == 4, 'not every allocator heard -1 once:\n'
            + '\n'.join(b.console))
    t.check(b.memory['leaked'] == 0 and b.memory['free'] <= 4, f'memory: {b.memory}')
    mm = b.memory_map()
    low = [a for a, c in mm.items() if c in '1234' and a < PROC_START_ADDR]
    t.check(low, "no allocator's page lies below PROC_START_ADDR: pages do not come from anywhere")
    t.check('L' not in mm.values() and '!' not in mm.values(), 'the map shows L or !')


@test("One allocator alone grows its heap past a lecture slot's 256 KB, up to all of free memory")
def _(t):
    b = t.boot('allocator', ticks=200, qemuextra=STEADY_CLOCK)
    p = t.proc(b, 1, 'allocator', 'runnable')
    t.check(p.pages > SLOT_PAGES, f'the allocator maps only {p.pages} pages')
    t.check(b.memory['free'] == 0 or b.memory['free'] < 4, f'memory: {b.memory}')


@test("p-fork becomes four processes with parents 0, 1, 1, 2: each keeps its own global, "
      "constant and heap, the code is shared (S on the map) and counted, and nothing leaks")
def _(t):
    b = t.boot('fork', ticks=100, qemuextra=STEADY_CLOCK)
    parents = {pid: t.proc(b, pid, 'fork', 'runnable').parent for pid in range(1, 5)}
    t.check(parents == {1: 0, 2: 1, 3: 1, 4: 2}, f'parents: {parents}')
    t.check(len(lines(b, 'fork ')) >= 4 and not b.killed(), f'kills: {b.killed()}')
    t.check(b.memory['shared'] >= 2 and b.memory['leaked'] == 0, f'memory: {b.memory}')
    t.check('S' in b.memory_map().values(), 'no page shows S on the map')


@test("A thousand fork/exit cycles, one child at a time, end with exactly the free pages an "
      "empty run ends with, and a proc line for the slot the children used")
def _(t):
    empty = forktest(t, 0, ticks=50)
    b = forktest(t, 1, ticks=3000, timeout=60)
    t.check(any('1000 fork/exit cycles' in row for row in b.console), '\n'.join(b.console))
    t.check(b.memory['free'] == empty.memory['free'] and b.memory['leaked'] == 0,
            f'after 1000 cycles {b.memory}; an empty run ends with {empty.memory}')
    child = t.proc(b, 2, 'forktest', 'exited')
    t.check(child.parent == 1 and child.pages == 0, f'the last child: {child}')


@test("Fork after exhausting memory: every fork says -1, leaving nothing behind (no slot, no "
      "page, no page-table page), nobody is killed, and the heap survives")
def _(t):
    b = forktest(t, 2)
    m = [re.match(r'forktest: (\d+) heap pages, then (\d+) of 5 forks said -1', r) for r in b.console]
    m = [x for x in m if x]
    t.check(m and int(m[0].group(1)) > 300 and m[0].group(2) == '5', '\n'.join(b.console))
    t.check(not b.killed() and len(b.procs) == 1 and b.memory['leaked'] == 0
            and b.memory['free'] < 5, f'memory {b.memory}, procs {b.procs}, kills {b.killed()}')


@test("Memory that fork promised is there: fork, then a hog takes every page, then parent and "
      "child write every writable page they have: each write gets its copy, nobody is killed")
def _(t):
    b = forktest(t, 6)
    t.no_panic(b)
    t.check(not b.killed(), f'kills: {b.killed()}')
    wrote = {m.group(1): int(m.group(3)) for m in
             b.console_matches(r'^forktest: (parent|child) (\d+) wrote (\d+) pages with memory full$')}
    t.check(set(wrote) == {'parent', 'child'} and min(wrote.values()) > 50,
            'parent and child did not both write their pages:\n' + '\n'.join(b.console))
    t.check(t.proc(b, 3, 'forktest', 'runnable').pages > 200 and b.memory['free'] == 0
            and b.memory['reserved'] == 0 and b.memory['leaked'] == 0, f'memory: {b.memory}')


@test("A fork whose copy-on-write copies cannot all be promised (250 writable pages, ~120 free) "
      "says -1 and changes nothing: 10 more pages come, every page holds its contents and takes "
      "a write, no child, nothing reserved")
def _(t):
    b = forktest(t, 7)
    m = b.console_matches(r'^forktest: fork with (\d+) heap pages said (-?\d+), then (\d+) more, '
                          r'(\d+) written$')
    t.check(m and m[0].group(1) == '250' and m[0].group(2) == '-1' and m[0].group(3) == '10',
            '\n'.join(b.console))
    t.check(not b.killed() and len(b.procs) == 1 and 'forked from' not in b.log,
            f'procs {b.procs}, kills {b.killed()}')
    t.check(b.memory['reserved'] == 0 and b.memory['leaked'] == 0 and b.memory['free'] > 50,
            f'memory: {b.memory}')


@test("A child whose parent was killed forks a grandchild of its own; the dead parent's memory "
      "is back, the child's and grandchild's counted")
def _(t):
    b = forktest(t, 3)
    t.check(b.killed(1) and b.killed(1)[0].startswith('page fault: write to 0x0 '),
            f'the parent was not killed: {b.killed(1)}')
    orphan = [re.match(r'forktest: orphan (\d+) forked (\d+)', r) for r in b.console]
    orphan = [x for x in orphan if x]
    t.check(orphan, 'the orphan did not fork:\n' + '\n'.join(b.console))
    child, grandchild = int(orphan[0].group(1)), int(orphan[0].group(2))
    # (The grandchild may take the dead parent's slot.)
    t.check(t.proc(b, grandchild, 'forktest', 'runnable').parent == child,
            f'the grandchild {b.proc(grandchild)} is not the orphan {child}\'s')
    t.check(t.proc(b, child, 'forktest', 'runnable').parent == 1, f'the orphan: {b.proc(child)}')
    t.check(b.memory['leaked'] == 0, f'memory: {b.memory}')


@test("A parent exits with three children running: they run on, and only its own pages go")
def _(t):
    b = forktest(t, 4)
    parent = t.proc(b, 1, 'forktest', 'exited')
    t.check(parent.pages == 0, f'the exited parent still maps {parent.pages} pages')
    for pid in (2, 3, 4):
        p = t.proc(b, pid, 'forktest', 'runnable')
        t.check(p.parent == 1 and p.pages > 0 and p.ticks > 50, f'child {pid}: {p}')
    t.check(b.memory['leaked'] == 0 and b.memory['shared'] >= 1, f'memory: {b.memory}')


@test("A child faults while its parent runs: only the child dies, RESPAWN does not restart a "
      "forked child, and the parent counts on")
def _(t):
    b = forktest(t, 5, respawn=3)
    child = t.proc(b, 2, 'forktest', 'broken')
    t.check(child.reason.startswith('page fault: write to 0x8 (page not present)'), child.reason)
    t.check(len(b.killed(2)) == 1 and 'proc 2: forktest restarted' not in b.log,
            f'the child was restarted: {b.killed(2)}')
    t.proc(b, 1, 'forktest', 'runnable')
    t.check(any('parent counted on' in r for r in b.console), '\n'.join(b.console))


@test("sys_page_alloc says -1, killing no one, at an unaligned address, 0, below PROC_START_ADDR, "
      "the kernel, the console, MEMSIZE_VIRTUAL and above, non-canonical and negative addresses; "
      "0 for the first heap page and the page below the stack")
def _(t):
    b = t.boot('pagealloc-bad', ticks=20)
    t.proc(b, 1, 'pagealloc-bad', 'exited')
    got = {m.group(1): int(m.group(3))
           for m in b.console_matches(r'^pagealloc: (.+) 0x([0-9a-f]+) = (-?\d+)$')}
    bad = ['unaligned', 'zero', 'below', 'kernel', 'console', 'top', 'above', 'noncanonical',
           'negative']
    t.check(all(got.get(k) == -1 for k in bad), f'answers: {got}')
    t.check(got.get('heap') == 0 and got.get('below the stack') == 0, f'answers: {got}')


def alice_after_warmup(t, other):
    """Alice's system calls beside `other` once Eve's warm-up is over."""
    b = t.boot(f'alice {other}', ticks=300, qemuextra=STEADY_CLOCK)
    return b, t.proc(b, 1, 'alice', 'runnable').syscalls - weensy.EVE_WARMUP


@test("The fork bomb: beside eve-forkbomb Alice keeps at least 90% of the system calls she makes "
      "beside eve-spin, and Eve's family holds at most its share (7) of the slots")
def _(t):
    _, calm = alice_after_warmup(t, 'eve-spin')
    b, bombed = alice_after_warmup(t, 'eve-forkbomb')
    family = [p for p in b.procs.values() if p.name == 'eve-forkbomb' and p.state == 'runnable']
    t.check(len(family) == 7, f"Eve's family holds {len(family)} slots")
    t.check(calm > 50 and bombed >= 0.9 * calm, f'Alice: {bombed} calls beside the bomb, '
            f'{calm} beside eve-spin')


@test("A process that never yields keeps at least 45% of the CPU (cpu=) beside eve-forkbomb")
def _(t):
    b = t.boot('eve-spin eve-forkbomb', ticks=300, qemuextra=STEADY_CLOCK)
    total = sum(p.cpu for p in b.procs.values())
    spin = t.proc(b, 1, 'eve-spin', 'runnable').cpu
    t.check(spin >= 0.45 * total, f'the spinner had {100 * spin // total}% of the CPU')


@test("p-forkexit storms for 400 ticks: hundreds of forks and exits, every page back or counted")
def _(t):
    b = t.boot('forkexit', ticks=400, qemuextra=STEADY_CLOCK)
    exits = len(re.findall(r'^proc \d+ exited$', b.log, re.M))
    forks = len(re.findall(r'^proc \d+: forked from proc \d+$', b.log, re.M))
    t.check(exits >= 100 and forks >= exits, f'{forks} forks, {exits} exits')
    t.check(not b.killed() and b.memory['leaked'] == 0, f'memory {b.memory}, kills {b.killed()}')


@test("PROCS of 15 programs boot as pids 1-15 on the problem set's kernel; the lecture's kernel "
      "(before exercise 10) keeps its four slots and says so")
def _(t):
    b = t.boot(' '.join(['alice'] * 15), ticks=20)
    t.check(len(b.procs) == 15 and all(p.state == 'runnable' for p in b.procs.values()),
            f'procs: {b.procs}')
    # (make check builds the lecture's kernel first.)
    b = t.boot_lecture('alice eve alice eve alice', ticks=20)
    t.check(len(b.procs) == 4, f'the lecture kernel loaded {len(b.procs)} processes')
    t.check('PROCS: more than 4 programs (this kernel has 4 process slots)' in b.log,
            'the lecture kernel did not say it has 4 slots')


def forkbench(t, pages):
    """p-forkbench's least sys_fork with `pages` writable pages, in guest
    instructions (-icount shift=0)."""
    b = t.boot(f'forkbench:{pages}', ticks=100000, timeout=60, qemuextra='-icount shift=0')
    m = [re.match(r'^forkbench pages=\d+ fork=(\d+) round=\d+ copy=\d+$', r) for r in b.console]
    m = [x for x in m if x]
    t.check(m, 'p-forkbench printed no figures:\n' + '\n'.join(b.console))
    return int(m[0].group(1))


@test("fork under -icount: at most 35,000 guest instructions with 4 writable pages, and with "
      "copy-on-write at most twice that with 64 (make bench measures the copying fork too)")
def _(t):
    fork4, fork64 = forkbench(t, 4), forkbench(t, 64)
    t.check(fork4 <= 35000, f'fork with 4 writable pages takes {fork4} instructions')
    t.check(fork64 <= 2 * fork4, f'fork with 64 writable pages takes {fork64}, with 4 {fork4}')


# ---- Restarts and fork never share a slot ----

class Restarts(NamedTuple):
    sentence: str
    procs: str
    hog: bool           # a grandchild takes every page before a restart


@cases([
    Restarts("RESPAWN=20 with two boot processes that die in every life and a family that "
             "forks on: no child takes a waiting slot, both keep restarting, nothing leaks, "
             "and Alice keeps her turns", 'alice restartfork:1 crasher', False),
    Restarts("RESPAWN=20, a boot process's grandchild takes every page before its restart: the "
             "restart waits, broken with the reason, and succeeds once the pages are back",
             'alice restartfork:2', True),
    Restarts("RESPAWN=20, a boot process's grandchildren exit before its restart: it restarts "
             "as itself (parent 0), again and again, and Alice keeps her turns",
             'alice restartfork:1', False),
])
def _(t, case):
    b = t.boot(case.procs, ticks=400, respawn=20, qemuextra=STEADY_CLOCK)
    t.no_panic(b)
    t.check(b.memory['leaked'] == 0, f'memory: {b.memory}')
    for pid, name in enumerate(case.procs.split()[1:], 2):
        name = name.split(':')[0]
        p = t.proc(b, pid, name)
        t.check(p.parent == 0, f'slot {pid} holds a forked process: {p}')
        restarts = re.findall(rf'^proc {pid}: {name} restarted \(life (\d+)\)$', b.log, re.M)
        t.check(len(restarts) >= 8, f'proc {pid} restarted only {len(restarts)} times')
    forked = [p for p in b.procs.values() if p.parent != 0]
    t.check(forked and all(p.pid > len(case.procs.split()) for p in forked),
            f'forked processes: {forked}')
    if case.hog:
        waited = re.search(r"^proc 2: restartfork could not restart: cannot load 'restartfork': "
                           r"out of [a-z -]+; trying again every \d+ ticks$", b.log, re.M)
        t.check(waited, 'no restart waited for memory')
        later = b.log[waited.end():]
        t.check(re.search(r'^proc 2: restartfork restarted', later, re.M),
                'the restart never succeeded once the memory was back')
    # Families take turns: each of the spinners' slices is followed by one
    # of Alice's turns (a system call each).
    alice = t.proc(b, 1, 'alice', 'runnable')
    spun = sum(p.ticks for p in forked)
    t.check(alice.syscalls >= 0.8 * spun, f'Alice made {alice.syscalls} system calls while '
            f'her rivals\' family spun for {spun} ticks')


# ---- The problem set's fuzzer ----

@test("The problem set's fuzzer (psfuzz), three families of it under AUDIT=1: over 100,000 "
      "random calls with random registers, fork, exit, page_alloc and copy-on-write writes "
      "among them, every answer and register right, nobody killed, memory=ok and leaked=0")
def _(t):
    calls = 34000
    b = t.boot(' '.join([f'psfuzz:{calls}'] * 3), ticks=10 ** 9, timeout=120, audit=1)
    t.no_panic(b)
    t.check(not b.killed(), f'kills: {b.killed()[:3]}')
    done = {int(m.group(1)) for m in b.console_matches(rf'^psfuzz: done: pid (\d), {calls} calls$')}
    t.check(done == {1, 2, 3}, 'not every boot process finished its calls:\n' + '\n'.join(b.console))
    forks = len(re.findall(r'^proc \d+: forked from proc \d+$', b.log, re.M))
    exits = len(re.findall(r'^proc \d+ exited$', b.log, re.M))
    t.check(forks >= 100 and exits >= forks, f'{forks} forks, {exits} exits')
    t.check('no runnable processes' in b.log and b.memory['leaked'] == 0
            and b.memory['reserved'] == 0, f'memory: {b.memory}')
