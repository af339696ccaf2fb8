"""grade_pset.py: the graders of the problem set's exercises (10-16), in
the form of grade.py's: grade_N(image) boots the kernel image headless on
the steady clock and returns a Result, read from what the kernel says (the
summary's proc lines with pages= and parent=, its memory line and audit,
the log and its memory map), never from a picture. grade.py joins GRADERS
to its own (join_pset)."""
import os
import re

from summary import define

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# grade.py, once joined: its Boot, boot(), ok(), fail() and Result.
g = None

SLOT_PAGES = 0x40000 // 4096            # a lecture slot: 256 KB
MAP_LINE = re.compile(r'^0x([0-9a-f]{6}) (\S{64})$')


class Pset:
    """What the problem set's graders read from a boot (grade.Boot, a
    summary.Summary): each proc's pages= and parent=, the memory line, the
    audit, the memory map in the log."""

    def __init__(self, b):
        self.pages = {pid: p.pages for pid, p in b.procs.items() if p.pages is not None}
        self.parent = {pid: p.parent for pid, p in b.procs.items() if p.parent is not None}
        self.memory = b.memory or None
        self.map = {}
        for l in b.log:
            if l.startswith('physical memory, one character per page:'):
                self.map = {}
            m = MAP_LINE.match(l)
            if m:
                base = int(m.group(1), 16)
                for i, c in enumerate(m.group(2)):
                    self.map[base + i * 4096] = c
        audit = re.search(r' memory=(ok|BAD\((.*)\))$', b.integrity or '')
        self.audit_ok = bool(audit) and audit.group(1) == 'ok'
        self.audit = (audit.group(2) or 'ok') if audit else 'no memory audit in the summary'

    def children(self):
        return [pid for pid, parent in self.parent.items() if parent != 0]


def boot(image, procs, ticks, respawn=0, until=None):
    """A grading boot, with the problem set's reading of it."""
    b = g.boot(image, procs, ticks, respawn, until=until)
    return b, Pset(b)


def pages_outside_slots(p):
    """{pid: pages} of the allocators whose pages the map shows outside
    their own lecture slot."""
    out = {}
    for addr, c in p.map.items():
        if c in '1234':
            pid = int(c)
            slot = range(0x100000 + (pid - 1) * 0x40000, 0x100000 + pid * 0x40000)
            if addr not in slot:
                out[pid] = out.get(pid, 0) + 1
    return out


def memory_failure(b, p, when, blames=None):
    """A failed Result for a run whose memory audit is not clean, or None."""
    if b.status == 1 and 'kfree' in (b.panic or ''):
        return g.fail('bad-free', f'{when}, the kernel freed a page it must not: PANIC: {b.panic}',
                      blames)
    if b.status != 0:
        return g.fail('kernel-failed', f'{when}, {b.what_happened()}', blames)
    if p.memory is None:
        return g.fail('no-memory-line', f'{when}, the summary has no "memory free=..." line',
                      blames)
    if not p.audit_ok:
        return g.fail('memory-audit', f'{when}, the memory audit failed: {p.audit}', blames)
    return None


def refused(b, program, count):
    """Whether `count` of `program`'s processes said their next heap page
    was refused (memory is full)."""
    return sum(1 for row in set(b.console) if row.startswith(program + ' ')
               and row.endswith('the next was refused')) >= count


def four_allocators_full(b):
    return refused(b, 'allocator', 4)


def grade_10(image):
    b, p = boot(image, 'allocator allocator allocator allocator', g.LIMIT // 2,
                until=four_allocators_full)
    if bad := memory_failure(b, p, 'with four allocators'):
        return bad
    if any(b.proc(pid)['state'] != 'runnable' for pid in range(1, 5)):
        states = {pid: b.proc(pid)['state'] for pid in range(1, 5)}
        return g.fail('allocator-failed', f'not every allocator is still running: {states}')
    outside = pages_outside_slots(p)
    if not outside:
        return g.fail('identity-pages', 'every page of each allocator is the physical page at '
                      'its own address, in its own slot: process_page_alloc must take any free '
                      'page (kalloc)')
    return g.ok(f'{sum(outside.values())} pages outside the slots')


def one_allocator_full(b):
    return refused(b, 'allocator', 1)


def grade_11(image):
    b, p = boot(image, 'allocator', g.LIMIT, until=one_allocator_full)
    if b.status == 1:
        return g.fail('oom-panic', f'the allocator ran the machine out of memory and the kernel '
                      f'panicked: {b.panic}')
    alloc = b.proc(1)
    if alloc['state'] == 'broken':
        return g.fail('oom-killed', f'the allocator was killed instead of getting -1: '
                      f'{alloc["reason"]}')
    if bad := memory_failure(b, p, 'with one allocator'):
        return bad
    pages = p.pages.get(1, 0)
    if pages <= SLOT_PAGES:
        return g.fail('heap-capped', f"no allocator's heap grew past its 256 KB slot: the "
                      f'allocator alone maps {pages} pages, at most {SLOT_PAGES} fit in a slot')
    if not b.screen_has('the next was refused') or p.memory['free'] > 8:
        return g.fail('oom-not-reached', f'the allocator maps {pages} pages but never heard '
                      f'-1 with memory full (free={p.memory["free"]})')
    # The TODO's other half: MAX_PROCS processes at once (proof: a kernel
    # that kept the lecture's 4 slots scored).
    # As many as PROCS can name: the grading image's program names are 8
    # letters, and the kernel reads at most 127 characters of PROCS.
    b2 = g.boot(image, ' '.join(['hello'] * MANY), g.LIMIT // 10, until=all_loaded)
    loaded = len(loaded_pids(b2))
    if loaded < MANY:
        return g.fail('slots-capped', f'of {MANY} programs in PROCS only {loaded} loaded: '
                      f'{MAX_PROCS} processes fit at once (process_slots = MAX_PROCS)')
    return g.ok(f'{pages} pages, then -1 with nobody killed')


MAX_PROCS = define('lib.hh', 'MAX_PROCS')
MANY = min(MAX_PROCS, 128 // 9)
LOADED = re.compile(r'^proc (\d+): \S+ loaded at ')


def loaded_pids(b):
    return {int(m.group(1)) for m in map(LOADED.match, b.log) if m}


def all_loaded(b):
    return len(loaded_pids(b)) >= MANY or any(l.startswith('PROCS: more than')
                                                   for l in b.log)


# ---- Fork (exercises 12, 13 and 16 read the same boot of p-fork) ----

FORK_LINE = re.compile(r'^fork (\d+): running \(pid \d+ forked first; forks returned '
                       r'(-?\d+), (-?\d+)\)$')


def fork_done(b):
    """p-fork's four processes have each filled their heap, or one was
    killed: what the checks need."""
    return refused(b, 'fork', 4) or bool(b.killed())


def fork_boot(image):
    return boot(image, 'fork', g.LIMIT // 2, until=fork_done)


def copies_on_write(image):
    """Whether this kernel's fork shares writable pages (exercise 16):
    fork with 64 writable pages costs at most COW_GROWTH_LIMIT times fork
    with 4. None if p-forkbench printed no figures."""
    small, _ = fork_cost(image, 4)
    large, _ = fork_cost(image, 64)
    if small is None or large is None:
        return None
    return large / small <= COW_GROWTH_LIMIT


def copy_on_write_written(image):
    """Whether the image's copy_on_write is more than the starting code's
    `return false` (one aligned 16-byte slot in kernel.sym): for a kernel
    whose p-forkbench cannot run to tell (proof: four broken copy-on-write
    kernels were blamed on exercise 12)."""
    table = sorted(g.kernel_symbols(image, 'Tt').items(), key=lambda kv: kv[1])
    for (name, addr), (_, after) in zip(table, table[1:]):
        if name.startswith('copy_on_write('):
            return after - addr > 16
    return False


def fork_failure(image, b, p):
    """What went wrong with p-fork, as a failed Result, or None. Whatever a
    writable page does after fork is copy-on-write's (exercise 16) on a
    kernel that shares writable pages, and fork's (12) on one that copies
    them."""
    cow = None

    def writable_pages_are(n12='12'):
        nonlocal cow
        if cow is None:
            cow = copies_on_write(image)
            if cow is None:
                cow = copy_on_write_written(image)
        return 16 if cow else int(n12)

    # Each reason once, with every pid that has it: "pids 2, 3: ...".
    by_reason = {}
    for pid in sorted(b.procs):
        if b.proc(pid)['reason']:
            by_reason.setdefault(b.proc(pid)['reason'], []).append(str(pid))
    reasons = ' / '.join(f'pid{"s" if len(pids) > 1 else ""} {", ".join(pids)}: {reason}'
                         for reason, pids in by_reason.items())
    kills = ' / '.join(dict.fromkeys(b.killed()))       # each reason once
    if b.status == 1 and 'kfree' in (b.panic or ''):
        # The same run, audited at every fork, names the page that went
        # wrong at the fork that did it (proof: a fork that shared code
        # without page_share was blamed on copy-on-write).
        audited = g.boot(image, 'fork', g.LIMIT // 2, until=fork_done, audit=True)
        at_fork = re.search(r'AUDIT at the fork of proc \d+: (read-only page .*)', audited.panic or '')
        if at_fork:
            return g.fail('share-uncounted', f'fork gives the child a read-only page without '
                          f'counting its new user ({at_fork.group(1)}): the shared page needs '
                          f'page_share', 13)
        who = writable_pages_are()
        return g.fail('bad-free', f'while p-fork ran, the kernel freed a page it must not '
                      f'({"copy_on_write" if who == 16 else "fork or its clean-up"}): '
                      f'PANIC: {b.panic}', who)
    if b.status != 0:
        return g.fail('kernel-failed', f'while p-fork forked, {b.what_happened()}', 12)
    first = next((b.proc(pid)['reason'] for pid in sorted(b.procs) if b.proc(pid)['reason']), '')
    if 'from sys_fork' in reasons:
        return g.fail('fork-result', f'{first.replace("sys_panic: fork: ", "")} (the parent '
                      f'gets the new pid, the child 0: child->regs.reg_rax)', 12)
    if 'registers differ' in reasons or 'registers changed' in reasons:
        return g.fail('child-registers', f'the child of fork does not have its parent\'s '
                      f'registers: {reasons}', 12)
    if 'global holds' in reasons or 'lost its contents' in reasons:
        who = writable_pages_are()
        if who == 16:
            return g.fail('cow-shared', f'after fork a process saw another\'s writes '
                          f'({reasons}): a write to a copy-on-write page must get a copy of '
                          f'its own (copy_on_write), and fork must make both mappings '
                          f'read-only', 16)
        return g.fail('badfork', f'fork shares writable pages: a process saw another\'s '
                      f'writes ({reasons})', 12)
    if not p.children():
        pids = sorted({int(r) for m in map(FORK_LINE.match, b.console) if m
                       for r in m.groups()[1:] if int(r) > 0})
        if pids:
            # (proof: a fork that never called process_forked was told
            # "sys_fork returned -1")
            return g.fail('fork-no-child', f'sys_fork returned {pids[0]}, but no child ever ran '
                          f'(no process has a parent): the child needs its bookkeeping and to '
                          f'be runnable (process_forked)', 12)
        return g.fail('fork-missing', 'sys_fork returned -1: p-fork made no child', 12)
    early = [pid for pid in p.children() if b.proc(pid)['state'] == 'broken'
             and b.proc(pid)['syscalls'] == 0]
    if early:
        return g.fail('child-registers', f'the child never returned from sys_fork '
                      f'({b.proc(early[0])["reason"]}): it must start with its parent\'s '
                      f'registers (child->regs), %rax = 0', 12)
    # A process that jumped to address 0 after fork read a return address
    # of 0: its memory lost its contents (proof: a copy-on-write copy
    # without page_copy was blamed on exercise 12 as "p-fork should be
    # four processes").
    zeroed = [pid for pid in sorted(b.procs) if b.proc(pid)['state'] == 'broken'
              and 'instruction fetch from 0x0 ' in b.proc(pid)['reason']]
    if zeroed:
        q, who = b.proc(zeroed[0]), writable_pages_are()
        return g.fail('cow-lost' if who == 16 else 'fork-lost',
                      f'after fork, pid {q.pid} jumped to address 0 ({q["reason"]}): its '
                      f'memory lost its contents: '
                      + ('a copy made at a write must hold the shared page\'s contents '
                         '(page_copy(copy, shared))' if who == 16 else
                         'the child\'s pages must be copies of the parent\'s'), who)
    if 'protection violation' in kills and 'write to' in kills:
        who = writable_pages_are()
        return g.fail('cow-killed' if who == 16 else 'fork-write-killed',
                      f'a write after fork killed a process ({kills}): '
                      + ('copy_on_write must answer the write fault on a copy-on-write page'
                         if who == 16 else 'fork must give the child writable copies of '
                         'writable pages'), who)
    # Only a page that copy-on-write made read-only can fault for ever
    # without killing: a fault that copy_on_write answers "handled".
    stuck = [pid for pid in sorted(b.procs) if b.proc(pid)['state'] == 'runnable'
             and b.proc(pid)['ticks'] >= 10 and b.proc(pid)['syscalls'] < 10]
    if stuck:
        q = b.proc(stuck[0])
        return g.fail('cow-stuck', f'pid {q.pid} ran {q.ticks} ticks but made only '
                      f'{q.syscalls} system call{"s" if q.syscalls != 1 else ""} after fork: it '
                      f'faults on one write again and again, because copy_on_write returns '
                      f'true but leaves the page read-only', 16)
    if bad := memory_failure(b, p, 'after p-fork'):
        who = writable_pages_are()
        if who == 16 and bad.outcome == 'memory-audit':
            return g.fail('cow-leaks', f'after p-fork, the memory audit failed: {p.audit}: '
                          + cow_audit_hint(p.audit), 16)
        bad.blames = who
        return bad
    if len(p.children()) != 3 or reasons:
        return g.fail('fork-wrong', f'p-fork should be four processes, running: children '
                      f'{p.children()}, {reasons or "no kill reasons"}', 12)
    return fork_results_wrong(b)


def cow_audit_hint(audit):
    """What a failed audit after copy-on-write forks asks for: a page with
    fewer users than mappings lacks page_share at fork (proof: such a
    kernel was told to kfree), one with more, or a leak, the copy's kfree."""
    m = re.search(r'has (\d+) users but (\d+) mappings', audit)
    if m and int(m.group(1)) < int(m.group(2)):
        return ('a page that fork shares needs one user more for the child (page_share), '
                'or the first to let go frees it under the other')
    return ('a copy-on-write copy must drop the shared page\'s user (kfree), and the last '
            'user keeps the page itself')


def fork_results_wrong(b):
    """A failed Result if what fork returned to p-fork's processes (their
    screen lines: each its own results, after its parent's) disagrees with
    the summary's parent= fields, or None."""
    said = {int(m.group(1)): (int(m.group(2)), int(m.group(3)))
            for m in (FORK_LINE.match(row) for row in b.console) if m}
    for pid, returned in sorted(said.items()):
        # A child got 0 from its own fork; what comes before is its parent's.
        own = returned[len(returned) - returned[::-1].index(0):] if 0 in returned else returned
        for r in own:
            if r > 0 and b.proc(r)['parent'] != pid:
                return g.fail('fork-result', f'sys_fork returned {r} to pid {pid}, but pid '
                              f'{r} is no child of {pid} (parent={b.proc(r)["parent"]}): the '
                              f'parent must get its child\'s pid', 12)
    return None


def forkfail(image, heap=0, forks=0, exits=False):
    """p-forkfail with these settings: (heap pages, forks made, pages it
    could map after), or None if it printed nothing."""
    arg = heap + forks * 0x10000 + (0x100000000 if exits else 0)
    b = g.boot(image, f'forkfail:{arg}', g.LIMIT // 2, until=forkfail_said)
    m = next((FORKFAIL.match(r) for r in b.console if FORKFAIL.match(r)), None)
    return (tuple(int(x) for x in m.groups()) if m else None), b


FORKFAIL = re.compile(r'^forkfail: (\d+) heap pages, (\d+) forks, then (\d+) pages$')
UNTIL_MINUS_ONE = 0xFFFF


def forkfail_said(b):
    return any(FORKFAIL.match(r) for r in b.console)


def fork_leak(image):
    """A failed Result if a fork that could not complete kept pages, or
    None. p-forkfail first measures the pages it can map; then it maps
    all but 4 of them and forks until fork says -1, which happens half
    way through the child (its page tables need more than 4), and counts
    the pages it can still map: every page a failed fork took must be back."""
    room, b = forkfail(image)
    if room is None:
        return g.fail('forkfail-failed', f'p-forkfail printed nothing: {b.what_happened()}', 12)
    heap = max(room[2] - 4, 0)
    after, b = forkfail(image, heap, UNTIL_MINUS_ONE)
    if after is None:
        return g.fail('forkfail-failed', f'p-forkfail, with {heap} heap pages and fork until '
                      f'it said -1, printed nothing: {b.what_happened()}', 12)
    if after[1] == 0:
        expected = room[2] - after[0]
    else:
        same, _ = forkfail(image, heap, after[1])
        expected = same[2] if same else after[2]
    if after[2] < expected:
        return g.fail('fork-leaks', f'a fork that could not complete kept {expected - after[2]} '
                      f'pages: after {after[1]} forks and one that said -1, p-forkfail could '
                      f'map {after[2]} pages, not {expected}; on any failure fork must give '
                      f'back all it took (process_memory_free)', 12)
    # A failed fork that freed its page table but kept the users it gave
    # the parent's shared pages frees no fewer pages, but the audit sees
    # them (proof: such a kernel scored).
    audit = Pset(b)
    if not audit.audit_ok:
        return g.fail('fork-leaks', f'after forks that could not complete, the memory audit '
                      f'failed: {audit.audit}; on any failure fork must give back all it took '
                      f'(process_memory_free)', 12)
    # With no page left at all, not even the child's page table can be
    # had (proof: a fork that did not check for it scored).
    full, b = forkfail(image, room[2], UNTIL_MINUS_ONE)
    if full is None:
        return g.fail('forkfail-failed', f'p-forkfail, with every page mapped and fork until it '
                      f'said -1, printed nothing: {b.what_happened()}: fork must return -1 when '
                      f'it gets no page table', 12)
    return None


def grade_12(image):
    b, p = fork_boot(image)
    return fork_failure(image, b, p) or fork_leak(image) or g.ok()


def grade_13(image):
    b, p = fork_boot(image)
    if bad := fork_failure(image, b, p):
        return bad
    if p.memory['shared'] == 0 or 'S' not in p.map.values():
        return g.fail('nothing-shared', f'no page is shared after fork: fork copied the code '
                      f'and constants too (memory shared={p.memory["shared"]})')
    return g.ok(f'{p.memory["shared"]} pages shared')


def enough_exits(b):
    return sum(1 for l in b.log if EXITED.match(l)) >= 50


EXITED = re.compile(r'^proc \d+ exited$')


def grade_14(image):
    b, p = boot(image, 'forkexit', g.LIMIT, until=enough_exits)
    if b.status == 1 and 'kfree' in (b.panic or ''):
        return memory_failure(b, p, 'during forkexit')
    if b.status != 0 or p.memory is None:
        return g.fail('kernel-failed', f'during forkexit, {b.what_happened()}')
    exits = sum(1 for l in b.log if EXITED.match(l))
    if p.memory['leaked'] > 0:
        what = 'page-table pages' if p.audit.startswith('page-table page') else 'pages'
        return g.fail('exit-leaks', f'{p.memory["leaked"]} pages leaked after {exits} exits: '
                      f'exit leaks {what} ({p.audit})')
    if bad := memory_failure(b, p, 'during forkexit'):
        return bad
    if exits < 10:
        return g.fail('forkexit-stalled', f'forkexit made only {exits} exits, none of them '
                      f'killed, in {b.ticks} ticks: sys_exit must free the slot for the next '
                      f'fork')
    room, _ = forkfail(image)
    cycles, b2 = forkfail(image, 0, 50, exits=True)
    if room and cycles and cycles[2] < room[2]:
        return g.fail('exit-leaks', f'after {cycles[1]} children forked and exited, their '
                      f'parent could map {cycles[2]} pages, not the {room[2]} it maps alone: '
                      f'exit must give back every page the child used')
    return g.ok(f'{exits} exits, free={p.memory["free"]}, leaked=0')


def eve_warmup_calls():
    """The system calls Alice makes while Eve warms up (u-eve.hh): they
    take turns, a yield each, for EVE_WARMUP_LINES lines of 1024."""
    with open(os.path.join(ROOT, 'u-eve.hh')) as f:
        return int(re.search(r'^#define EVE_WARMUP_LINES (\d+)', f.read(), re.M).group(1)) * 1024


def alice_calls(image, procs):
    """Boots Alice beside `procs`; returns the boot and the system calls
    Alice made once Eve's warm-up was over."""
    b = g.boot(image, 'alice ' + procs, 300)
    return b, max(0, b.proc(1)['syscalls'] - eve_warmup_calls()) if b.status == 0 else 0


def grade_15(image):
    b0, calm = alice_calls(image, 'eve-spin')
    b, bombed = alice_calls(image, 'eve-forkbomb')
    if b.status != 0 or b0.status != 0:
        return g.fail('kernel-failed', f'with eve-forkbomb beside Alice '
                      f'{(b if b.status != 0 else b0).what_happened()}')
    family = sum(1 for q in b.procs.values() if q['name'] == 'eve-forkbomb'
                 and q['state'] == 'runnable')
    if family <= 1:
        return g.fail('fork-missing', 'eve-forkbomb could not fork', 12)
    share = 15 // 2
    percent = 100 * bombed // max(calm, 1)
    if percent < 90:
        return g.fail('forkbomb-starves-alice', f'Alice made only {percent}% of the system calls '
                      f'beside eve-forkbomb ({bombed} after Eve\'s warm-up) that she makes beside '
                      f"eve-spin ({calm}); Eve's family holds {family} slots: next_to_run must "
                      f'give each family a turn')
    if family > share:
        return g.fail('forkbomb-slots', f"Eve's family holds {family} slots, more than its share "
                      f'of {share}: family_full must refuse the fork')
    return g.ok(f'Alice kept {percent}%; Eve\'s family holds {family} slots')


FORKBENCH = re.compile(r'^forkbench pages=(\d+) fork=(\d+) round=(\d+) copy=(\d+)$')
COW_GROWTH_LIMIT = 2          # fork at 64 writable pages against 4: at most 2x


def forkbench_said(b):
    return any(FORKBENCH.match(r) for r in b.console)


def fork_cost(image, pages):
    """p-forkbench's least sys_fork, in counter ticks, with `pages` writable
    pages; None if it printed none."""
    b = g.boot(image, f'forkbench:{pages}', g.LIMIT, until=forkbench_said)
    m = next((FORKBENCH.match(r) for r in b.console if FORKBENCH.match(r)), None)
    return (int(m.group(2)) if m else None), b


def grade_16(image):
    b, p = fork_boot(image)
    if bad := fork_failure(image, b, p):
        return bad
    small, b4 = fork_cost(image, 4)
    large, b64 = fork_cost(image, 64)
    if small is None or large is None:
        bad = b4 if small is None else b64
        memory = Pset(bad).memory
        if memory and memory['leaked'] > 0:
            # Its children exit: memory that exit leaks runs out (proof: an
            # exit that freed only the page table failed this exercise).
            return g.fail('forkbench-failed', f'p-forkbench printed no figures: its children\'s '
                          f'exits leaked {memory["leaked"]} pages', 14)
        return g.fail('forkbench-failed', 'p-forkbench printed no figures: '
                      + bad.what_happened())
    growth = large / small
    if growth > COW_GROWTH_LIMIT:
        return g.fail('fork-copies-everything', f'fork copies every writable page at once: '
                      f'with 64 writable pages it costs {growth:.1f}x what it costs with 4 '
                      f'(at most {COW_GROWTH_LIMIT}x when pages are copied at their first write)')
    return g.ok(f'fork at 64 pages costs {growth:.1f}x fork at 4')


GRADERS = {10: grade_10, 11: grade_11, 12: grade_12, 13: grade_13, 14: grade_14, 15: grade_15,
           16: grade_16}


class _Grade:
    """grade.py's namespace, read at each use: whoever replaces its boot()
    after the join is heard."""

    def __init__(self, namespace):
        self.namespace = namespace

    def __getattr__(self, name):
        return self.namespace[name]


def join_pset(grade_globals):
    """Joins these graders to grade.py's (`grade_globals`: its globals()),
    with its helpers."""
    global g
    g = _Grade(grade_globals)
    grade_globals['GRADERS'].update(GRADERS)
