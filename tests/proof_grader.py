"""The grader's proof by mutation (make proof): wrong kernels, each one
realistic mistake in one exercise of the finished kernel.cc, and right
kernels written differently. Each mutation is an exact edit (old snippet
-> new) that must match kernel.cc exactly once, so that a kernel.cc that
drifted fails here, naming the mutation. A wrong kernel must fail the
exercise holding the mistake, and every exercise that fails must blame
that one (its own line, "needs exercise N" or "exercise N breaks this
one"); a right kernel must score every point, five runs in a row.

Exercise 9 is an attack (p-eve-steal.cc), not kernel code: its wrong
attacks are graded in a copy of the tree, as a student's would be.

The README's "The grader's proof" lists both sets; a test below holds
its tables to these lists."""
import os
import re
import subprocess
import sys
from types import SimpleNamespace

import weensy
from weensy import cases
# Importing test_exercises registers its tests too: they are make check's,
# so they are dropped here.
_registered = len(weensy.TESTS)
from test_exercises import build_kernel, catalog, grade  # noqa: E402
del weensy.TESTS[_registered:]

ALL = [e.number for e in catalog.EXERCISES]


def wrong(n, tag, what, old, new, says, also=None, file='kernel.cc'):
    """A wrong kernel: exercise n's mistake `what`, the edit old -> new of
    `file`; exercise n's sentence says `says`, and each exercise in `also`
    ({number: phrase}) fails with a sentence that says its phrase."""
    return SimpleNamespace(n=n, tag=tag, what=what, old=old, new=new, says=says,
                           also=also or {}, file=file)


# The family scheduler's two loops (exercise 15), as kernel.cc has them.
NEXT_TO_RUN = '''    int family = current ? current->family : families;
    for (int i = 0; i != families; ++i) {
        family = family == families ? 1 : family + 1;   // the next family, around
        proc* const last = &ptable[last_of[family]];
        for (proc* p = last + 1; p < slots_end; ++p) {
            if (p->state == P_RUNNABLE && p->family == family) {
                last_of[family] = p->pid;
                return p;
            }
        }
        for (proc* p = &ptable[1]; p <= last && p < slots_end; ++p) {
            if (p->state == P_RUNNABLE && p->family == family) {
                last_of[family] = p->pid;
                return p;
            }
        }
    }
    return nullptr;
'''

WRONG = [
    # ---- 1. timer preemption ----
    wrong(1, 'run-again', 'runs the same process again when its slice is over',
          'schedule();         // preempt: the next gets the CPU; does not return',
          'run(current);       // does not return', 'call schedule()',
          also={15: 'exercise 15 needs exercise 1'}),
    # ---- 2. processes at IOPL 0 ----
    wrong(2, 'no-if', 'gives processes IOPL 0 but not interrupts on',
          'regs.reg_rflags = (regs.reg_rflags & FL_USER_MASK) | FL_IF;',
          'regs.reg_rflags = regs.reg_rflags & FL_USER_MASK;', 'FL_IF'),
    wrong(2, 'iopl-kept', 'turns interrupts on at every resume but leaves IOPL 3',
          'regs.reg_rflags = (regs.reg_rflags & FL_USER_MASK) | FL_IF;',
          'regs.reg_rflags = (regs.reg_rflags & FL_USER_MASK) | FL_IF | FL_IOPL_3;',
          'without a fault'),
    # ---- 3. a fault kills only the process ----
    wrong(3, 'no-schedule', 'kills the faulting process but lets exception() return',
          '    process_kill(current, why);\n    schedule();                 // does not return\n',
          '    process_kill(current, why);\n', 'call schedule()'),
    wrong(3, 'from-process-inverted', 'panics on a fault from a process and kills on one '
          'from the kernel (the test the wrong way round)',
          '    if (!from_process) {\n        panic_at(regs, "kernel %s", why);',
          '    if (from_process) {\n        panic_at(regs, "kernel %s", why);',
          'brought the whole machine down'),
    wrong(3, 'run-killed', 'kills the faulting process, then returns to it with run()',
          '    process_kill(current, why);\n    schedule();                 // does not return\n',
          '    process_kill(current, why);\n    run(current);\n', 'division by zero'),
    wrong(3, 'cs-without-rpl', "tests the saved %cs against SEGSEL_APP_CODE without its "
          'privilege bits (| 3), so every fault panics',
          '    if (!from_process) {\n        panic_at(regs, "kernel %s", why);',
          '    if (regs->reg_cs != SEGSEL_APP_CODE) {\n        panic_at(regs, "kernel %s", why);',
          'brought the whole machine down'),
    # ---- 4. kernel pages without PTE_U ----
    wrong(4, 'code-user', 'leaves kernel code user-accessible',
          'return PTE_P;                   // kernel code: read-only',
          'return PTE_P | PTE_U;           // kernel code: read-only', 'PTE_U'),
    # (A console mapped read-only is left out: under a loaded host exercise 13
    # then blamed exercise 16 now and then, not 4.)
    # ---- 5. sys_getsysname checks its buffer ----
    wrong(5, 'read-check', 'checks that the buffer is readable, not writable',
          'user_range_ok(p->pagetable, buf, sizeof(SYSNAME), true)',
          'user_range_ok(p->pagetable, buf, sizeof(SYSNAME), false)', 'writable by her'),
    wrong(5, 'check-inverted', 'refuses the buffers the process may write, and writes the others',
          'if (!user_range_ok(p->pagetable, buf, sizeof(SYSNAME), true)) {',
          'if (user_range_ok(p->pagetable, buf, sizeof(SYSNAME), true)) {', 'own code'),
    wrong(5, 'kernel-table', "checks the buffer in the kernel's page table, not the caller's",
          'user_range_ok(p->pagetable, buf, sizeof(SYSNAME), true)',
          'user_range_ok(kernel_pagetable, buf, sizeof(SYSNAME), true)', 'her own buffer'),
    # ---- 6. sys_page_alloc checks its address ----
    wrong(6, 'no-bounds', "checks alignment and PROC_START_ADDR, not the caller's own memory",
          '\n        || addr < user_memory_start(p) || addr >= user_memory_end(p)) {', ') {',
          'own memory'),
    wrong(6, 'end-inclusive', "lets the caller map the page at its memory's end (> for >=)",
          'addr >= user_memory_end(p)) {', 'addr > user_memory_end(p)) {', 'own memory'),
    wrong(6, 'end-only', "checks alignment and the end of the caller's memory, not its start",
          'if (addr % PAGESIZE != 0 || addr < PROC_START_ADDR\n'
          '        || addr < user_memory_start(p) || addr >= user_memory_end(p)) {',
          'if (addr % PAGESIZE != 0 || addr >= user_memory_end(p)) {', 'kernel code'),
    # ---- 7. sys_panic kills only the caller ----
    wrong(7, 'panic-runs-caller', 'kills the caller of sys_panic, then returns to it with run()',
          '    process_kill(p, why);\n    schedule();                 // does not return\n'
          '    // End of exercise 7',
          '    process_kill(p, why);\n    run(p);\n    // End of exercise 7', "sys_panic"),
    wrong(7, 'panic-as-exit', 'ends the caller of sys_panic as if it had exited',
          '    process_kill(p, why);\n    schedule();                 // does not return\n'
          '    // End of exercise 7',
          '    process_end(p, P_EXITED);\n    schedule();                 // does not return\n'
          '    // End of exercise 7', 'Eve is exited'),
    wrong(7, 'panic-raw-reason', "kills the caller of sys_panic with its raw message as the "
          "reason, not `why`", '    process_kill(p, why);\n    schedule();                 // does not '
          'return\n    // End of exercise 7', '    process_kill(p, text);\n    schedule();          '
          '       // does not return\n    // End of exercise 7', 'Eve is broken'),
    # ---- 8. a page table per process ----
    wrong(8, 'one-table', 'makes one page table of its own and gives it to every process',
          '    return proc_pagetable_create();\n    // End of exercise 8',
          '    static x86_64_pagetable* shared;\n    if (!shared) {\n'
          '        shared = proc_pagetable_create();\n    }\n    return shared;\n'
          '    // End of exercise 8', 'a page table of its own'),
    # ---- 9. Eve steals Alice's secret (p-eve-steal.cc) ----
    wrong(9, 'steal-tag', 'prints the word that holds the tag "SECRET!", not the one after it',
          'Alice\'s secret is %lu\\n", word[i + 1]);', 'Alice\'s secret is %lu\\n", word[i]);',
          "did not print Alice's secret", file='p-eve-steal.cc'),
    # ---- 10. virtual page allocation ----
    wrong(10, 'owner-current', 'gives the page to the running process, not to p',
          '    return kalloc(p->pid);              // any free page, anywhere\n',
          '    return kalloc(current->pid);\n', "exercise 10's code"),
    # ---- 11. overlapping address spaces ----
    wrong(11, 'four-slots', 'gives every process the same layout but keeps the lecture\'s 4 '
          'process slots', 'static const int process_slots = MAX_PROCS;',
          'static const int process_slots = SLOT_PROCS;', 'MAX_PROCS'),
    # ---- 12. fork ----
    wrong(12, 'rax-7', "leaves the system call's number (7) in the child's %rax",
          '    child->regs.reg_rax = 0;\n', '', 'got 7 from sys_fork'),
    wrong(12, 'rax-pid', "gives the child its own pid in %rax instead of 0",
          '    child->regs.reg_rax = 0;\n', '    child->regs.reg_rax = child->pid;\n', 'the child 0'),
    wrong(12, 'no-registers', "never copies the parent's registers into the child",
          '    child->regs = parent->regs;\n', '', "parent's registers",
          also={15: 'exercise 15 needs exercise 12'}),
    wrong(12, 'parent-pid', "returns the parent's own pid to the parent",
          '    return child->pid;\n    // End of exercise 12', '    return parent->pid;\n'
          '    // End of exercise 12', "not the child's pid"),
    wrong(12, 'leak-on-failure', 'leaves what it allocated behind when the copy fails',
          '        process_memory_free(child);\n        return -1;', '        return -1;',
          'could not complete kept'),
    wrong(12, 'leak-user-pages', "frees only the child's page table when the copy fails, not "
          'the pages copied into it',
          '        process_memory_free(child);\n        return -1;',
          '        proc_pagetable_free(child->pagetable);\n        child->pagetable = nullptr;\n'
          '        return -1;', 'memory audit'),
    wrong(12, 'no-table-check', 'copies into the page table without checking that it got one',
          '    if (!child->pagetable) {\n        return -1;\n    }\n', '', 'gets no page table'),
    wrong(12, 'copy-swapped', "copies the child's (empty) memory into the parent",
          'address_space_copy(child->pagetable, parent->pagetable,',
          'address_space_copy(parent->pagetable, child->pagetable,', 'never returned from sys_fork'),
    wrong(12, 'no-bookkeeping', 'never calls process_forked, so the child never runs',
          '    process_forked(child, parent);\n', '', 'process_forked'),
    # ---- 13. shared read-only memory ----
    wrong(13, 'share-uncounted', 'gives the child the read-only page without counting the new user',
          '        page_share(pa);\n        return pa;\n    }\n    // End of exercise 13',
          '        return pa;\n    }\n    // End of exercise 13', 'page_share'),
    # ---- 14. exit frees memory ----
    wrong(14, 'tables-only', "frees the exiting process's page table but not its pages",
          '    process_memory_free(p);\n    // End of exercise 14',
          '    proc_pagetable_free(p->pagetable);\n    // End of exercise 14', 'pages leaked'),
    wrong(14, 'stack-kept', "frees all of the exiting process's memory but its stack page",
          '    process_memory_free(p);\n    // End of exercise 14',
          '    user_pages_free(p->pagetable, user_memory_start(p), user_memory_end(p) - PAGESIZE);\n'
          '    proc_pagetable_free(p->pagetable);\n    // End of exercise 14', 'pages leaked'),
    # ---- 15. the fork bomb ----
    wrong(15, 'no-share', "never refuses a fork: a family's share of the slots is unbounded",
          'return members >= max(1, process_slots / max(families, 1));', 'return false;',
          'family_full'),
    wrong(15, 'share-plus-one', "lets a family hold one slot more than its share (> for >=)",
          'return members >= max(1, process_slots / max(families, 1));',
          'return members > max(1, process_slots / max(families, 1));', 'family_full'),
    wrong(15, 'slot-round-robin', 'bounds each family\'s slots but schedules every slot round '
          'robin', NEXT_TO_RUN,
          '''    proc* const after = current ? current + 1 : &ptable[1];
    for (proc* p = after; p < slots_end; ++p) {
        if (p->state == P_RUNNABLE) {
            return p;
        }
    }
    for (proc* p = &ptable[1]; p != after && p < slots_end; ++p) {
        if (p->state == P_RUNNABLE) {
            return p;
        }
    }
    return nullptr;
''', 'each family a turn'),
    # ---- 16. copy-on-write fork ----
    wrong(16, 'cow-no-free', 'forgets to free the shared page when it makes a copy',
          '        page_copy(mine, pa);\n        kfree(pa);', '        page_copy(mine, pa);',
          'kfree'),
    wrong(16, 'cow-read-only', "returns true for the last user's page and leaves it read-only",
          '    uintptr_t mine = page_users(pa) == 1 ? pa : process_page_alloc(p, va);',
          '    if (page_users(pa) == 1) {\n        return true;\n    }\n'
          '    uintptr_t mine = process_page_alloc(p, va);', 'read-only'),
    wrong(16, 'cow-still-writable', 'marks shared pages PTE_COW but leaves them writable',
          '    perm = (perm & ~PTE_W) | PTE_COW;', '    perm = perm | PTE_COW;', 'read-only'),
    wrong(16, 'cow-no-share', 'shares writable pages at fork without counting the new user',
          '    perm = (perm & ~PTE_W) | PTE_COW;\n    page_share(pa);\n',
          '    perm = (perm & ~PTE_W) | PTE_COW;\n', 'page_share'),
    wrong(16, 'cow-copy-read-only', 'maps the copy read-only',
          'vmiter(p->pagetable, va).map(mine, PTE_PWU | PTE_NX);',
          'vmiter(p->pagetable, va).map(mine, PTE_P | PTE_U | PTE_NX);', 'copy_on_write'),
    wrong(16, 'cow-no-copy', "gives the writer a fresh page without the shared page's contents",
          '        page_copy(mine, pa);\n        kfree(pa);', '        kfree(pa);', 'page_copy'),
    wrong(16, 'cow-copy-swapped', 'copies the fresh page over the shared one (page_copy\'s '
          'arguments swapped)', '        page_copy(mine, pa);\n', '        page_copy(pa, mine);\n',
          'page_copy'),
]
for m in WRONG:
    m.sentence = (f'A wrong kernel that {m.what} (exercise {m.n}) fails exercise {m.n}, with '
                  f'a sentence that says "{m.says}", and nothing else is blamed')


def mutated_text(t, m):
    full = weensy.read(m.file)
    t.check(full.count(m.old) == 1, f'mutation {m.tag}: {m.file} has {full.count(m.old)} '
            f'copies of its snippet, not one: {m.old!r}')
    return full.replace(m.old, m.new)


def mutated(t, m):
    return build_kernel(t, f'mutant-{m.tag}', mutated_text(t, m))


REPORT_LINE = re.compile(r'^exercise (\d+) .*?(?:\d+/\d+  ok\b.*|0/\d+  FAIL: (.*))$')


def graded_copy(t, m):
    """{exercise: (passed, sentence)}: `make grade` of a copy of the tree
    whose m.file is mutated, as a student's tree is graded, one QEMU at a
    time inside one of the suite's slots."""
    tree = weensy.fresh_copy('weensyos-mutant-')
    with open(os.path.join(tree, m.file), 'w') as f:
        f.write(mutated_text(t, m))
    status, out, _ = weensy.run(weensy.make_command('-s', 'all', 'obj/before-8/weensyos.img'),
                                cwd=tree, timeout=600)
    t.check(status == 0, f'{m.tag}: the tree does not build:\n{out[-2000:]}')
    env = weensy.clean_env()
    env['WEENSY_QEMUS'] = '1'
    with weensy.qemu_slots:
        r = subprocess.run([sys.executable, 'exercises/grade.py'], cwd=tree, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, errors='replace',
                           timeout=1200)
    found = {int(x.group(1)): (x.group(2) is None, x.group(2) or '')
             for x in map(REPORT_LINE.match, r.stdout.splitlines()) if x}
    t.check(sorted(found) == ALL, f'{m.tag}: make grade printed no line for some exercises:\n'
            f'{r.stdout}')
    return found


@cases(WRONG)
def _(t, m):
    if m.file == 'kernel.cc':
        results = {n: (x.passed, x.why, x.blames or n)
                   for n, x in grade.grade(mutated(t, m), ALL).items()}
    else:
        # Every other exercise is the reference's, so must pass.
        results = {n: (ok, why, n) for n, (ok, why) in graded_copy(t, m).items()}
    passed, why, _ = results[m.n]
    t.check(not passed, f'{m.tag}: exercise {m.n} passed ({why})')
    t.check(m.says in why, f'{m.tag}: the sentence does not say {m.says!r}: {why}')
    for n, (passed, why, blames) in results.items():
        if not passed:
            t.check(blames == m.n, f'{m.tag}: exercise {n} fails and blames exercise '
                    f'{blames}, not {m.n}: {why}')
            phrase = weensy.repeated_phrase(why)
            t.check(not phrase, f'{m.tag}: exercise {n} says "{phrase}" twice: {why}')
    for n, phrase in m.also.items():
        passed, why, _ = results[n]
        t.check(not passed and phrase in why, f'{m.tag}: exercise {n} does not say '
                f'{phrase!r}: {why or "it passed"}')


def right(tag, what, old, new, why):
    """A right kernel: `what` (the edit old -> new of kernel.cc), right
    because `why`."""
    return SimpleNamespace(tag=tag, what=what, old=old, new=new, why=why, file='kernel.cc')


RIGHT = [
    right('fork-slot-from-top', 'gives a child the highest free slot, not the lowest',
          '    for (int pid = 1; pid <= process_slots; ++pid) {\n        proc* p = &ptable[pid];\n'
          '        if (p->state != P_RUNNABLE && !p->pagetable && !respawn_pending(p)) {',
          '    for (int pid = process_slots; pid >= 1; --pid) {\n        proc* p = &ptable[pid];\n'
          '        if (p->state != P_RUNNABLE && !p->pagetable && !respawn_pending(p)) {',
          'any free slot will do: no grader may depend on which pid a child gets'),
    right('cow-always-copies', 'copies a copy-on-write page even for its last user',
          '    uintptr_t mine = page_users(pa) == 1 ? pa : process_page_alloc(p, va);',
          '    uintptr_t mine = process_page_alloc(p, va);',
          'giving the last user its page is an optimisation: a copy and a kfree are as right'),
    right('registers-first', "copies the parent's registers before its memory",
          '    child->pagetable = proc_pagetable_create();\n    if (!child->pagetable) {',
          '    child->regs = parent->regs;\n    child->regs.reg_rax = 0;\n'
          '    child->pagetable = proc_pagetable_create();\n    if (!child->pagetable) {',
          'the child runs only once process_forked makes it runnable: the order of the copies is free'),
    right('scheduler-one-loop', "takes each family's turn in one loop around the slots "
          '(an index modulo the slots in use)', NEXT_TO_RUN,
          '''    int family = current ? current->family : families;
    int in_use = slots_end - &ptable[1];
    for (int i = 0; i != families; ++i) {
        family = family % families + 1;
        for (int k = 1; k <= in_use; ++k) {
            proc* p = &ptable[(last_of[family] + k - 1) % in_use + 1];
            if (p->state == P_RUNNABLE && p->family == family) {
                last_of[family] = p->pid;
                return p;
            }
        }
    }
    return nullptr;
''', 'the same turns as the reference: each family in order, round robin inside it'),
    right('scheduler-full-scans', 'scans every slot for each family in turn, keeping the '
          'first member after the one that ran last (slower per decision)', NEXT_TO_RUN,
          '''    int family = current ? current->family : families;
    for (int i = 0; i != families; ++i) {
        family = family % families + 1;
        proc* first = nullptr;
        proc* after_last = nullptr;
        for (proc* p = &ptable[1]; p < slots_end; ++p) {
            if (p->state != P_RUNNABLE || p->family != family) {
                continue;
            }
            if (!first) {
                first = p;
            }
            if (!after_last && p->pid > last_of[family]) {
                after_last = p;
            }
        }
        if (proc* p = after_last ? after_last : first) {
            last_of[family] = p->pid;
            return p;
        }
    }
    return nullptr;
''', 'the same turns, at more cost per decision: graders wait for events, not tick budgets'),
    right('fork-frees-by-hand', "frees a failed child's pages, then its page table, by hand",
          '        process_memory_free(child);\n        return -1;',
          '        user_pages_free(child->pagetable, user_memory_start(parent), '
          'user_memory_end(parent));\n        proc_pagetable_free(child->pagetable);\n'
          '        child->pagetable = nullptr;\n        return -1;',
          'process_memory_free, written out: the pages first, while the table still names them'),
    right('exit-frees-first', "frees an exiting process's memory before it marks it exited",
          '    process_end(p, P_EXITED);\n    // Exercise 14 (exit frees memory)\n'
          '    process_memory_free(p);\n    // End of exercise 14\n',
          '    // Exercise 14 (exit frees memory)\n    process_memory_free(p);\n'
          '    // End of exercise 14\n    process_end(p, P_EXITED);\n',
          'as process_kill does: its memory goes while it is still on the CPU'),
    right('slow-calls', 'spends 25 turns of a busy loop on every system call before it '
          'answers', '    ++p->syscalls;\n    switch (regs->reg_rax) {',
          '    ++p->syscalls;\n    for (volatile int i = 0; i != 25; ++i) {\n    }\n'
          '    switch (regs->reg_rax) {',
          'slower per call (sys_getpid 231 guest instructions against 74, 3.1x; sys_yield '
          '2.1x) is as right: graders wait for events, not tick budgets'),
    right('fault-kills-first', 'tests for a fault from a process first, and panics after',
          '    if (!from_process) {\n        panic_at(regs, "kernel %s", why);   // a fault in the '
          'kernel is a kernel bug\n    }\n    process_kill(current, why);\n'
          '    schedule();                 // does not return\n',
          '    if (from_process) {\n        process_kill(current, why);\n'
          '        schedule();             // does not return\n    }\n'
          '    panic_at(regs, "kernel %s", why);   // a fault in the kernel is a kernel bug\n',
          'the same two cases, the other way round'),
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


@weensy.test('The issue\'s unsolved exercise 8: on the kernel before exercise 8, exercises 10 and 15 '
             'each say first that they need exercise 8')
def _(t):
    image = os.path.join('obj', 'before-8', 'weensyos.img')
    results = grade.grade(image, [8, 10, 15])
    t.check(not results[8].passed, f'exercise 8 passed on the kernel before it: {results[8].why}')
    for n in (10, 15):
        t.check(results[n].why.startswith(f'exercise {n} needs exercise 8 '),
                f'exercise {n} says: {results[n].why}')


def readme_proof():
    """The README's section "The grader's proof", as text."""
    text = weensy.read('README.md')
    start = text.index("### The grader's proof")
    end = text.index('\n#', start + 1)
    return text[start:end]


@weensy.test("The README's proof lists every wrong and every right kernel of tests/proof_grader.py "
             'by name, each wrong one with its exercise and phrase, and their counts')
def _(t):
    section = readme_proof()
    for m in WRONG:
        row = re.search(rf'^\| {m.n} \| `{re.escape(m.tag)}` \|.*"{re.escape(m.says)}"', section,
                        re.M)
        t.check(row, f'the README has no row | {m.n} | `{m.tag}` | ... "{m.says}" ...')
    for m in RIGHT:
        t.check(f'| `{m.tag}` |' in section, f'the README has no row for the right kernel {m.tag}')
    rows = len(re.findall(r'^\| (\d+ \| )?`[a-z0-9-]+` \|', section, re.M))
    t.check(rows == len(WRONG) + len(RIGHT), f'the README has {rows} rows, not '
            f'{len(WRONG) + len(RIGHT)}')
    exercises = len({m.n for m in WRONG})
    t.check(f'{len(WRONG)} wrong kernels' in section and f'{len(RIGHT)} right ones' in section
            and f'over {exercises} of the 16 exercises' in section,
            f'the README does not say "{len(WRONG)} wrong kernels", "{len(RIGHT)} right ones" and '
            f'"over {exercises} of the 16 exercises"')
