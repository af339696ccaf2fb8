"""The grader's proof by mutation (make proof): wrong kernels, each one
realistic mistake in one exercise of the finished kernel.cc, and right
kernels written differently. Each mutation is an exact edit (old snippet
-> new) that must match kernel.cc exactly once, so that a kernel.cc that
drifted fails here, naming the mutation. A wrong kernel must fail the
exercise holding the mistake, and every exercise that fails must blame
that one (its own line, "needs exercise N" or "exercise N breaks this
one"); a right kernel must score every point, five runs in a row."""
from types import SimpleNamespace

import weensy
from weensy import cases
# Importing test_exercises registers its tests too: they are make check's,
# so they are dropped here.
_registered = len(weensy.TESTS)
from test_exercises import build_kernel, catalog, grade  # noqa: E402
del weensy.TESTS[_registered:]

ALL = [e.number for e in catalog.EXERCISES]


def wrong(n, tag, what, old, new, says):
    return SimpleNamespace(n=n, tag=tag, what=what, old=old, new=new, says=says)


WRONG = [
    wrong(1, 'run-again', 'runs the same process again when its slice is over',
          'schedule();         // preempt: the next gets the CPU; does not return',
          'run(current);       // does not return', 'call schedule()'),
    wrong(2, 'no-if', 'gives processes IOPL 0 but not interrupts on',
          'regs.reg_rflags = (regs.reg_rflags & FL_USER_MASK) | FL_IF;',
          'regs.reg_rflags = regs.reg_rflags & FL_USER_MASK;', 'FL_IF'),
    wrong(3, 'no-schedule', 'kills the faulting process but lets exception() return',
          '    process_kill(current, why);\n    schedule();                 // does not return\n',
          '    process_kill(current, why);\n', 'call schedule()'),
    wrong(4, 'code-user', 'leaves kernel code user-accessible',
          'return PTE_P;                   // kernel code: read-only',
          'return PTE_P | PTE_U;           // kernel code: read-only', 'PTE_U'),
    wrong(5, 'read-check', 'checks that the buffer is readable, not writable',
          'user_range_ok(p->pagetable, buf, sizeof(SYSNAME), true)',
          'user_range_ok(p->pagetable, buf, sizeof(SYSNAME), false)', 'writable by her'),
    wrong(6, 'no-bounds', "checks alignment and PROC_START_ADDR, not the caller's own memory",
          '\n        || addr < user_memory_start(p) || addr >= user_memory_end(p)) {', ') {',
          'own memory'),
    wrong(12, 'rax-7', "leaves the system call's number (7) in the child's %rax",
          '    child->regs.reg_rax = 0;\n', '', 'got 7 from sys_fork'),
    wrong(12, 'no-registers', "never copies the parent's registers into the child",
          '    child->regs = parent->regs;\n', '', "parent's registers"),
    wrong(12, 'leak-on-failure', 'leaves what it allocated behind when the copy fails',
          '        process_memory_free(child);\n        return -1;', '        return -1;',
          'could not complete kept'),
    wrong(15, 'no-share', "never refuses a fork: a family's share of the slots is unbounded",
          'return members >= max(1, process_slots / max(families, 1));', 'return false;',
          'family_full'),
    wrong(16, 'cow-no-free', 'forgets to free the shared page when it makes a copy',
          '        page_copy(mine, pa);\n        kfree(pa);', '        page_copy(mine, pa);',
          'kfree'),
    wrong(16, 'cow-read-only', "returns true for the last user's page and leaves it read-only",
          '    uintptr_t mine = page_users(pa) == 1 ? pa : process_page_alloc(p, va);',
          '    if (page_users(pa) == 1) {\n        return true;\n    }\n'
          '    uintptr_t mine = process_page_alloc(p, va);', 'read-only'),
]
for m in WRONG:
    m.sentence = (f'A wrong kernel that {m.what} (exercise {m.n}) fails exercise {m.n}, with '
                  f'a sentence that says "{m.says}", and nothing else is blamed')


def mutated(t, m):
    full = weensy.read('kernel.cc')
    t.check(full.count(m.old) == 1, f'mutation {m.tag}: kernel.cc has {full.count(m.old)} '
            f'copies of its snippet, not one: {m.old!r}')
    return build_kernel(t, f'mutant-{m.tag}', full.replace(m.old, m.new))


@cases(WRONG)
def _(t, m):
    results = grade.grade(mutated(t, m), ALL)
    r = results[m.n]
    t.check(not r.passed, f'{m.tag}: exercise {m.n} passed ({r.why})')
    t.check(m.says in r.why, f'{m.tag}: the sentence does not say {m.says!r}: {r.why}')
    for n, x in results.items():
        if not x.passed:
            t.check((x.blames or n) == m.n, f'{m.tag}: exercise {n} fails and blames exercise '
                    f'{x.blames or n}, not {m.n}: {x.why}')


RIGHT = [
    SimpleNamespace(tag='fork-slot-from-top', what='gives a child the highest free slot, not the '
                    'lowest',
                    old='    for (int pid = 1; pid <= process_slots; ++pid) {\n        proc* p = &ptable[pid];\n'
                    '        if (p->state != P_RUNNABLE && !p->pagetable && !respawn_pending(p)) {',
                    new='    for (int pid = process_slots; pid >= 1; --pid) {\n        proc* p = &ptable[pid];\n'
                    '        if (p->state != P_RUNNABLE && !p->pagetable && !respawn_pending(p)) {'),
    SimpleNamespace(tag='cow-always-copies', what="copies a copy-on-write page even for its "
                    'last user',
                    old='    uintptr_t mine = page_users(pa) == 1 ? pa : process_page_alloc(p, va);',
                    new='    uintptr_t mine = process_page_alloc(p, va);'),
    SimpleNamespace(tag='registers-first', what="copies the parent's registers before its memory",
                    old='    child->pagetable = proc_pagetable_create();\n    if (!child->pagetable) {',
                    new='    child->regs = parent->regs;\n    child->regs.reg_rax = 0;\n'
                    '    child->pagetable = proc_pagetable_create();\n    if (!child->pagetable) {'),
]
for m in RIGHT:
    m.sentence = f'A right kernel that {m.what} scores every point, five runs in a row'


@cases(RIGHT)
def _(t, m):
    image = mutated(t, m)
    for run in range(5):
        results = grade.grade(image, ALL)
        failed = {n: x.why for n, x in results.items() if not x.passed}
        t.check(not failed, f'{m.tag}, run {run + 1}: {failed}')
