"""grade_pset.py: the graders of the problem set's exercises (10-16), in
the form of grade.py's: grade_N(image) boots the kernel image headless on
the steady clock and returns a Result, read from what the kernel says (the
summary's proc lines with pages= and parent=, its memory line and audit,
the log and its memory map), never from a picture. grade.py joins GRADERS
to its own (join_pset)."""
import os
import re

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


def boot(image, procs, ticks, respawn=0):
    """A grading boot, with the problem set's reading of it."""
    b = g.boot(image, procs, ticks, respawn)
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


def memory_failure(b, p, when):
    """A failed Result for a run whose memory audit is not clean, or None."""
    if b.status == 1 and 'kfree' in (b.panic or ''):
        return g.fail('bad-free', f'{when}, the kernel freed a page it must not: PANIC: {b.panic}')
    if b.status != 0:
        return g.fail('kernel-failed', f'{when}, {b.what_happened()}')
    if p.memory is None:
        return g.fail('no-memory-line', f'{when}, the summary has no "memory free=..." line')
    if not p.audit_ok:
        return g.fail('memory-audit', f'{when}, the memory audit failed: {p.audit}')
    return None


def grade_10(image):
    b, p = boot(image, 'allocator allocator allocator allocator', 60)
    if bad := memory_failure(b, p, 'with four allocators'):
        return bad
    if any(b.proc(pid)['state'] != 'runnable' for pid in range(1, 5)):
        states = {pid: b.proc(pid)['state'] for pid in range(1, 5)}
        return g.fail('allocator-failed', f'not every allocator is still running: {states}')
    outside = pages_outside_slots(p)
    if not outside:
        return g.fail('identity-pages', 'every page of each allocator is the physical page at '
                      'its own address, in its own slot: the page allocator gave them nothing '
                      'from anywhere else in physical memory')
    return g.ok(f'{sum(outside.values())} pages outside the slots')


def grade_11(image):
    b, p = boot(image, 'allocator', 120)
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
    return g.ok(f'{pages} pages, then -1 with nobody killed')


def fork_failure(b, p):
    """What went wrong with p-fork, as a failed Result, or None."""
    reasons = ' / '.join(b.proc(pid)['reason'] for pid in b.procs if b.proc(pid)['reason'])
    if 'registers differ' in reasons or 'registers changed' in reasons:
        return g.fail('child-registers', f'the child of fork does not have its parent\'s '
                      f'registers: {reasons}')
    if 'global holds' in reasons or 'lost its contents' in reasons:
        return g.fail('badfork', f'fork shares writable pages: a process saw another\'s '
                      f'writes ({reasons})')
    if not p.children():
        return g.fail('fork-missing', 'sys_fork returned -1: p-fork made no child')
    # Children that die at their first steps while the parent runs on share
    # its stack: each one's calls overwrite the other's return addresses.
    early = [pid for pid in p.children() if b.proc(pid)['state'] == 'broken'
             and int(b.proc(pid)['syscalls']) <= 2]
    if early and len(early) == len(p.children()) and b.proc(1)['state'] == 'runnable':
        return g.fail('badfork', f'fork shares writable pages: every child died at its first '
                      f'steps ({b.proc(early[0])["reason"]}) while the parent ran on, the two '
                      f'writing one stack')
    if bad := memory_failure(b, p, 'after p-fork'):
        return bad
    if len(p.children()) != 3 or reasons:
        return g.fail('fork-wrong', f'p-fork should be four processes, running: children '
                      f'{p.children()}, {reasons or "no kill reasons"}')
    return None


def grade_12(image):
    b, p = boot(image, 'fork', 40)
    return fork_failure(b, p) or g.ok()


def grade_13(image):
    b, p = boot(image, 'fork', 40)
    if bad := fork_failure(b, p):
        return g.fail(bad.outcome, 'p-fork needs exercise 12 first: ' + bad.why)
    if p.memory['shared'] == 0 or 'S' not in p.map.values():
        return g.fail('nothing-shared', f'no page is shared after fork: fork copied the code '
                      f'and constants too (memory shared={p.memory["shared"]})')
    return g.ok(f'{p.memory["shared"]} pages shared')


def grade_14(image):
    b, p = boot(image, 'forkexit', 300)
    if b.status == 1 and 'kfree' in (b.panic or ''):
        return memory_failure(b, p, 'during forkexit')
    if b.status != 0 or p.memory is None:
        return g.fail('kernel-failed', f'during forkexit, {b.what_happened()}')
    exits = sum(1 for l in b.log if re.match(r'^proc \d+ exited$', l))
    if p.memory['leaked'] > 0:
        what = 'page-table pages' if p.audit.startswith('page-table page') else 'pages'
        return g.fail('exit-leaks', f'{p.memory["leaked"]} pages leaked after {exits} exits: '
                      f'exit leaks {what} ({p.audit})')
    if bad := memory_failure(b, p, 'during forkexit'):
        return bad
    if exits < 10:
        return g.fail('forkexit-stalled', f'forkexit made only {exits} exits: fork or exit '
                      'does not work')
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
        return g.fail('kernel-failed', f'with eve-forkbomb beside Alice {b.what_happened()}')
    family = sum(1 for q in b.procs.values() if q['name'] == 'eve-forkbomb'
                 and q['state'] == 'runnable')
    if family <= 1:
        return g.fail('fork-missing', 'eve-forkbomb could not fork: the fork bomb needs fork '
                      '(exercise 12)')
    share = 15 // 2
    percent = 100 * bombed // max(calm, 1)
    if percent < 90:
        return g.fail('forkbomb-starves-alice', f'Alice made only {percent}% of the system calls '
                      f'beside eve-forkbomb ({bombed} after Eve\'s warm-up) that she makes beside '
                      f"eve-spin ({calm}); Eve's family holds {family} slots")
    if family > share:
        return g.fail('forkbomb-slots', f"Eve's family holds {family} slots, more than its share "
                      f'of {share}')
    return g.ok(f'Alice kept {percent}%; Eve\'s family holds {family} slots')


FORKBENCH = re.compile(r'^forkbench pages=(\d+) fork=(\d+) round=(\d+) copy=(\d+)$')
COW_GROWTH_LIMIT = 2          # fork at 64 writable pages against 4: at most 2x


def fork_cost(image, pages):
    """p-forkbench's least sys_fork, in counter ticks, with `pages` writable
    pages; None if it printed none."""
    b = g.boot(image, f'forkbench:{pages}', 400)
    m = next((FORKBENCH.match(r) for r in b.console if FORKBENCH.match(r)), None)
    return (int(m.group(2)) if m else None), b


def grade_16(image):
    b, p = boot(image, 'fork', 40)
    if bad := fork_failure(b, p):
        return g.fail(bad.outcome, 'p-fork must still work: ' + bad.why)
    small, b4 = fork_cost(image, 4)
    large, b64 = fork_cost(image, 64)
    if small is None or large is None:
        return g.fail('forkbench-failed', f'p-forkbench printed no figures: '
                      f'{b4.what_happened()}, {b64.what_happened()}')
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
