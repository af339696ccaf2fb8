"""Exercises: every defense is an exercise. The lecture's kernel before
defense K (obj/before-K) lets K's attack succeed the way the lectures say,
and grades exercises 1..K-1 passed and K failed for that reason; the full
kernel grades 100%; the student handout holds no solution, builds, boots
and grades 0%; and pasting the solutions back gives the full kernel.
Students' classic mistakes get their own sentences; a handout can hand out
any set; the grader writes Gradescope's results.json, grades a folder of
submissions, and cannot be gamed by a kernel that knows its attacks."""
import contextlib
import csv
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import zipfile
from types import SimpleNamespace

import yaml

import weensy
from weensy import ROOT, cases, test


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, 'exercises', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


catalog = load('catalog')
TOTAL = sum(e.points for e in catalog.EXERCISES)
tool = load('tool')
grade = load('grade')

# The grader boots QEMU itself; under the test runner each of its boots
# takes one of the runner's QEMU slots like any other boot.
_grader_boot = grade.boot


def _boot_in_slot(*args, **kw):
    with weensy.qemu_slots:
        return _grader_boot(*args, **kw)


grade.boot = _boot_in_slot


# One make at a time in this tree: the before-K images share prerequisites
# (the boot sector, the programs) that concurrent makes would race to write.
# (`make check` builds them all before the tests start.)
build_lock = threading.Lock()


def build_before(t, k):
    """Builds obj/before-K/weensyos.img; returns its folder."""
    with build_lock:
        status, out, _ = weensy.run(weensy.make_command('-s', f'obj/before-{k}/weensyos.img'))
    t.check(status == 0, f'obj/before-{k}/weensyos.img does not build:\n{out[-2000:]}')
    t.check('warning' not in out.lower(), f'the before-{k} kernel builds with warnings:\n{out}')
    return os.path.join('obj', f'before-{k}')


# Before a lecture exercise K (1-8), exercises 1..K-1 pass. Before a
# problem-set exercise K (10 on), the lecture's exercises are graded once,
# on before-10 (the lecture's kernel, all of them done), and 10..K-1 pass.
def graded_before(k):
    return list(range(1, k)) if k <= 10 else list(range(10, k))


BEFORE = [SimpleNamespace(ex=e, sentence=f'Before exercise {e.number} ({e.title}), '
                          f'{e.attacks[0]} succeeds ({e.before})')
          for e in catalog.EXERCISES if e.number != 9]
# The slow half, for make proof: every exercise the before-K kernel has
# solved passes there.
BEFORE_SOLVED = [SimpleNamespace(ex=e, sentence=f'The kernel before exercise {e.number} '
                                 f'({e.title}) passes '
                                 + catalog.describe_numbers(graded_before(e.number))
                                 .replace(',', ', ').join(('exercises ', ', which it has')))
                 for e in catalog.EXERCISES if e.number not in (1, 9)]


@cases(BEFORE)
def _(t, row):
    """Exercise K's row of exercises/catalog.txt says how its attack
    succeeds without the defense (fails-as); the before-K kernel must
    fail K in exactly that way (and the exercises K needs, which it has,
    pass: a failing one would make K fail as needs-N instead)."""
    ex = row.ex
    k = ex.number
    image = build_before(t, k)
    r = grade.grade(os.path.join(image, 'weensyos.img'), [k])[k]
    t.check(not r.passed, f'before-{k}: exercise {k} passed, but its defense is missing')
    t.check(r.outcome == ex.outcome,
            f'before-{k}: exercise {k} failed as {r.outcome!r} ({r.why}), '
            f'not because its attack succeeded ({ex.outcome!r})')
    t.check(ex.says in r.why, f'the grader\'s sentence does not say {ex.says!r}: {r.why}')


@cases(BEFORE_SOLVED, proof=True)
def _(t, row):
    k = row.ex.number
    image = build_before(t, k)
    results = grade.grade(os.path.join(image, 'weensyos.img'), graded_before(k))
    for n in graded_before(k):
        t.check(results[n].passed, f'before-{k}: exercise {n} failed: {results[n].why}')


@test("make grade in the full tree: one line per exercise, 150/150 (100%), and '15 passed, 0 failed' last")
def _(t):
    # What grade.py builds (the tree, and the kernel before exercise 8 for
    # exercise 9), built first under the lock: it is a no-op for it then.
    # The grader's own makes are no-ops then, but make runs a rule or two
    # every time: no other make in this tree meanwhile.
    build_before(t, 8)
    with build_lock, weensy.qemu_slots:
        weensy.run(weensy.make_command('-s'))
        status, out, _ = weensy.run(['python3', 'exercises/grade.py'], timeout=300)
    lines = out.strip().splitlines()
    t.check(status == 0, f'make grade exited {status}:\n{out}')
    for e in catalog.EXERCISES:
        t.check(any(re.match(rf'^exercise {e.number}  {re.escape(e.title)} .* ok', l) for l in lines),
                f'no passing line for exercise {e.number}:\n{out}')
    total = sum(e.points for e in catalog.EXERCISES)
    t.check(f'score: {total}/{total} (100%)' in lines, f'the score is not {total}/{total}:\n{out}')
    t.check(lines[-1] == f'{len(catalog.EXERCISES)} passed, 0 failed', f'last line: {lines[-1]!r}')


@test("Exercise 9: Eve's reference attack prints Alice's random secret on the kernel before exercise 8, "
      "is killed reading Alice's memory on the lecture's kernel (exercise 8 done), and finds no "
      "secret on the full kernel, where Alice's addresses are Eve's own")
def _(t):
    image = build_before(t, 8)
    build_before(t, 10)
    secret = 271828182
    full = t.boot(f'alice:{secret} eve-steal', ticks=5, qemuextra=weensy.STEADY_CLOCK)
    t.check(not any(str(secret) in row for row in full.console), 'the full kernel let Eve read the secret')
    b = t.boot_lecture(f'alice:{secret} eve-steal', ticks=5, qemuextra=weensy.STEADY_CLOCK)
    t.check(not any(str(secret) in row for row in b.console), 'the lecture kernel let Eve read the secret')
    eve = t.proc(b, 2, 'eve-steal', 'broken')
    t.check(eve.reason.startswith('page fault: read from 0x100000'),
            f'Eve was not stopped reading Alice\'s memory: {eve.reason}')
    r = grade.boot(os.path.join(image, 'weensyos.img'), f'alice:{secret} eve-steal', 5)
    t.check(any(f"Alice's secret is {secret}" in row for row in r.console),
            'before exercise 8, Eve did not print the secret:\n' + '\n'.join(r.console))


def make_handout(t, dest, exercises=''):
    status, out, _ = weensy.run(weensy.make_command('-s', 'handout', f'DIR={dest}',
                                                    *([f'EXERCISES={exercises}'] if exercises else [])))
    t.check(status == 0, f'make handout failed:\n{out}')


@contextlib.contextmanager
def handout_tree(t, exercises=''):
    """A new handout (of `exercises`, default all) in a temporary folder:
    (the folder, the handout in it), removed afterwards."""
    tmp = tempfile.mkdtemp(prefix='weensy-handout-')
    try:
        dest = os.path.join(tmp, 'h')
        make_handout(t, dest, exercises)
        yield tmp, dest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def grade_in(tree, *args):
    """Runs `tree`'s grader (exercises/grade.py ARGS); (status, lines, output)."""
    with weensy.qemu_slots:
        status, out, _ = weensy.run(['python3', 'exercises/grade.py', *args], cwd=tree, timeout=300)
    return status, out.strip().splitlines(), out


@test("make handout: a fresh git repository with one commit, no solution line, its own README; "
      "it builds without warnings, Alice and Eve run, make grade scores 0 with a reason per exercise (and with the compiler's words when it does not build), "
      "and make handout into it with uncommitted changes, or into any other non-empty folder, is refused", proof=True)
def _(t):
    with handout_tree(t) as (tmp, dest):
        status, log, _ = weensy.run(['git', 'log', '--oneline'], cwd=dest)
        t.check(status == 0 and len(log.strip().splitlines()) == 1,
                f'the handout is not a git repository with one commit:\n{log}')
        leaked = [line for line in tool.solution_lines(ROOT) if tool.handout_contains(dest, line)]
        t.check(not leaked, f'solution lines in the handout: {leaked}')
        t.check(not os.path.exists(os.path.join(dest, 'tests')), 'the handout holds the test suite')
        readme = open(os.path.join(dest, 'README.md')).read()
        for e in catalog.EXERCISES:
            t.check(f'| {e.number} | {e.title} |' in readme, f'the handout README lacks exercise {e.number}')
        t.check('make grade' in readme and 'make run' in readme, 'the handout README lacks how to run and grade')
        for e in catalog.EXERCISES:
            t.check(f'// Exercise {e.number} (' in open(os.path.join(dest, e.file)).read(),
                    f'exercise {e.number} has no marker in the handout')

        status, out, _ = weensy.run(weensy.make_command('-j2'), cwd=dest, timeout=300)
        t.check(status == 0, f'the handout does not build:\n{out[-2000:]}')
        t.check('warning' not in out.lower(), f'the handout builds with warnings:\n{out}')
        b = weensy.boot('alice eve', ticks=20, tree=dest)
        t.check(b.status == 0, f'the handout does not boot: {b.describe()}')
        t.check(b.console_numbers('Alice') and b.console_numbers('Eve'),
                'Alice and Eve do not both print in the handout')

        status, lines, out = grade_in(dest)
        t.check(status == 1, f'make grade in the handout exited {status}:\n{out}')
        for e in catalog.EXERCISES:
            t.check(any(re.match(rf'^exercise {e.number} .* 0/{e.points}  FAIL: \S', l) for l in lines),
                    f'no failing line with a reason for exercise {e.number}:\n{out}')
        t.check(f'score: 0/{TOTAL} (0%)' in lines and lines[-1] == f'0 passed, {len(catalog.EXERCISES)} failed',
                f'the handout does not score 0:\n{out}')

        # A student's kernel that does not build scores 0, with the
        # compiler's words (and so does its results.json).
        with open(os.path.join(dest, 'kernel.cc'), 'a') as f:
            f.write('\nthis line is not C++\n')
        status, lines, out = grade_in(dest, '--results', 'r.json')
        t.check(status == 1 and 'The kernel does not build; the compiler said:' in out
                and 'kernel.cc' in out and 'error' in out,
                f'a kernel that does not build is not reported with the compiler\'s words:\n{out}')
        t.check(f'score: 0/{TOTAL} (0%)' in lines and lines[-1] == f'0 passed, {len(catalog.EXERCISES)} failed',
                f'a kernel that does not build does not score 0:\n{out}')
        results = json.load(open(os.path.join(dest, 'r.json')))
        t.check(results['score'] == 0 and 'does not build' in results['output'],
                f'results.json of a kernel that does not build: {results}')

        status, out, _ = weensy.run(weensy.make_command('-s', 'handout', f'DIR={dest}'))
        t.check(status != 0 and 'uncommitted changes' in out,
                f'a handout with uncommitted changes was updated:\n{out}')
        status, out, _ = weensy.run(weensy.make_command('-s', 'handout', f'DIR={dest}/exercises'))
        t.check(status != 0 and 'not an empty folder, nor a handout repository' in out,
                f'a handout into a non-empty folder was not refused:\n{out}')
        status, out, _ = weensy.run(weensy.make_command('-s', 'handout', f'DIR={tmp}/h2'), cwd=dest)
        t.check(status != 0 and 'this tree is a student handout' in out,
                f'a handout made a handout:\n{out}')
        for target in ('grade-all SUBMISSIONS=subs', 'autograder'):
            status, out, _ = weensy.run(weensy.make_command('-s', *target.split()), cwd=dest)
            t.check(status != 0 and 'this tree is a student handout' in out,
                    f'make {target} in a handout was not refused with a sentence:\n{out}')


@test("make handout DIR= on an existing handout repository adds one commit (its exercise set kept, "
      "nothing when nothing changed), and a student's clone with solved work pulls and merges "
      "the corrected handout")
def _(t):
    with handout_tree(t, '1,3') as (tmp, dest):
        student = os.path.join(tmp, 'student')
        git = ['git', '-c', 'user.name=s', '-c', 'user.email=s@example.invalid']
        subprocess.run(['git', 'clone', '-q', dest, student], check=True)
        # The student solves exercise 1 and commits.
        full = weensy.read('kernel.cc')
        first, last = tool.regions(full, 'kernel.cc')[1]
        solution = full.split('\n')[first + 1:last]
        mine = open(os.path.join(student, 'kernel.cc')).read().split('\n')
        first, last = tool.regions('\n'.join(mine), 'kernel.cc')[1]
        mine[first + 1:last] = solution
        open(os.path.join(student, 'kernel.cc'), 'w').write('\n'.join(mine))
        subprocess.run(git + ['commit', '-q', '-am', 'exercise 1'], cwd=student, check=True)

        # The course corrects exercise 3's TODO and a program, in its tree.
        course = weensy.fresh_copy('weensy-course-')
        subprocess.run(['git', 'init', '-q'], cwd=course, check=True)
        subprocess.run(['git', 'add', '-A'], cwd=course, check=True)
        catalog_text = open(os.path.join(course, 'exercises', 'catalog.txt')).read()
        todo = catalog.by_number(3).todo.split('\n')[0]
        open(os.path.join(course, 'exercises', 'catalog.txt'), 'w').write(
            catalog_text.replace(todo, todo + ' (corrected)', 1))
        with open(os.path.join(course, 'p-alice.cc'), 'a') as f:
            f.write('// A correction to Alice.\n')
        status, out, _ = weensy.run(['python3', 'exercises/tool.py', 'handout', dest], cwd=course)
        t.check(status == 0 and 'one more commit' in out, f'the update was not committed:\n{out}')
        log = subprocess.run(['git', 'log', '--format=%s'], cwd=dest, stdout=subprocess.PIPE,
                             text=True).stdout.split('\n')
        t.check(log[:2] == ['WeensyOS handout update', 'WeensyOS handout'], f'the handout\'s log: {log}')
        t.check('exercises: 1,3' in open(os.path.join(dest, 'exercises', 'handout.txt')).read(),
                'the update did not keep the handout\'s exercise set')
        status, out, _ = weensy.run(['python3', 'exercises/tool.py', 'handout', dest], cwd=course)
        t.check(status == 0 and 'nothing changed' in out, f'an update with no change: {out}')

        status, out, _ = weensy.run(git + ['pull', '-q', '--no-rebase', '--no-edit'], cwd=student)
        t.check(status == 0, f'the student could not merge the corrected handout:\n{out}')
        merged = open(os.path.join(student, 'kernel.cc')).read()
        t.check('(corrected)' in merged and '\n'.join(solution) in merged,
                'the merged kernel.cc lacks the student\'s solution or the corrected TODO')
        t.check(open(os.path.join(student, 'p-alice.cc')).read().endswith('// A correction to Alice.\n'),
                'the corrected program did not reach the student')


@test("Pasting every solution back into the handout's files gives the full tree's files byte for byte")
def _(t):
    for ex_file in sorted({e.file for e in catalog.EXERCISES}):
        full = open(os.path.join(ROOT, ex_file)).read()
        numbers = {e.number for e in catalog.EXERCISES}
        handout = tool.replace(full, ex_file, numbers)
        t.check(handout != full, f'{ex_file}: the handout is the same as the full file')
        solved = handout.split('\n')
        spans_full = tool.regions(full, ex_file)
        spans_handout = tool.regions(handout, ex_file)
        t.check(set(spans_full) == set(spans_handout), f'{ex_file}: markers differ')
        full_lines = full.split('\n')
        for n in sorted(spans_handout, key=lambda n: spans_handout[n][0], reverse=True):
            first, last = spans_handout[n]
            f_first, f_last = spans_full[n]
            solved[first + 1:last] = full_lines[f_first + 1:f_last]
        t.check('\n'.join(solved) == full, f'{ex_file}: handout plus solutions is not the full file')


@test("BEFORE=2 with eve-cli: the lecture's kernel hangs after Eve's cli and the watchdog says who; "
      "run-before-ATTACK picks the right kernel and refuses a program that is no attack; "
      "make run-eve-NAME says how to boot Eve beside Alice")
def _(t):
    build_before(t, 2)
    with build_lock, weensy.qemu_slots:
        status, out, _ = weensy.run(weensy.make_command('-s', 'run-headless', 'BEFORE=2', PROCS='alice eve-cli',
                                                        TICKS=40, QEMUEXTRA=weensy.STEADY_CLOCK))
    t.check(status != 0, f'the before-2 kernel did not stop on the hang:\n{out[-1500:]}')
    t.check(re.search(r'^PANIC: machine stuck: no timer interrupt for \d+ ms; proc 2 \(eve-cli\) runs '
                      r'with interrupts off', out, re.M), f'no "machine stuck" report:\n{out[-1500:]}')
    for attack, k in (('eve-spin', 1), ('eve-cli', 2), ('eve-kjump', 4), ('eve-clobber', 8),
                      ('eve-steal', 8)):
        status, out, _ = weensy.run(['python3', 'exercises/catalog.py', 'lecture-before', attack])
        t.check(status == 0 and out.strip() == str(k), f'{attack}: before-{out.strip()}, expected {k}')
    with build_lock:
        status, out, _ = weensy.run(weensy.make_command('run-before-alice'))
        status2, out2, _ = weensy.run(weensy.make_command('run-eve-nosuch'))
    t.check(status2 != 0 and 'make run PROCS="alice eve-nosuch"' in out2 and "no program 'eve-nosuch'" in out2,
            f'make run-eve-NAME does not say how to boot Eve beside Alice:\n{out2[-500:]}')
    t.check(status != 0 and "'alice' is no exercise's attack" in out, f'run-before-alice: {out[-500:]}')


# ---- Kernels written by a test: a student's mistake, a cheat ----

def with_regions(bodies):
    """kernel.cc with the regions of `bodies` ({exercise: C++ text}) holding
    that text instead of their solutions."""
    text = weensy.read('kernel.cc')
    lines = text.split('\n')
    spans = tool.regions(text, 'kernel.cc')
    for n in sorted(bodies, key=lambda n: spans[n][0], reverse=True):
        first, last = spans[n]
        indent = re.match(r'^(\s*)', lines[first]).group(1)
        lines[first + 1:last] = [indent + l if l else l for l in bodies[n].strip('\n').split('\n')]
    return '\n'.join(lines)


def build_kernel(t, tag, text):
    """Builds `text` as a kernel.cc beside the tree's (obj/before-TAG/, made
    like the lecture's before-K kernels); returns its image."""
    folder = os.path.join(ROOT, 'obj', f'before-{tag}')
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'kernel.cc'), 'w') as f:
        f.write(text)
    # Newer than what the before-K rule makes it from, so make keeps it.
    with build_lock:
        status, out, _ = weensy.run(weensy.make_command('-s', f'obj/before-{tag}/weensyos.img'))
    t.check(status == 0, f'the {tag} kernel does not build:\n{out[-2000:]}')
    return os.path.join('obj', f'before-{tag}', 'weensyos.img')


MISTAKES = [
    SimpleNamespace(n=3, tag='kill-no-schedule', outcome='exception-returned', says='call schedule()',
                    what='kills the faulting process but forgets schedule(), so exception() returns',
                    body='''if (!from_process) {
    panic_at(regs, "kernel %s", why);   // does not return
}
process_kill(current, why);'''),
    SimpleNamespace(n=2, tag='iopl0-no-if', outcome='interrupts-off', says='give them FL_IF',
                    what='gives processes IOPL 0 but not interrupts on (FL_IF)',
                    body='regs.reg_rflags = regs.reg_rflags & FL_USER_MASK;'),
    SimpleNamespace(n=4, tag='code-still-user', outcome='ran-kernel-code', says='kernel code is still PTE_U',
                    what='makes kernel code read-only but leaves it PTE_U',
                    body='''if (pa == CONSOLE_ADDR) {
    return PTE_PWU | PTE_NX;
} else if (pa >= reinterpret_cast<uintptr_t>(kernel_text_start)
           && pa < reinterpret_cast<uintptr_t>(kernel_rodata_start)) {
    return PTE_P | PTE_U;
}
return PTE_P | PTE_W | PTE_NX;'''),
    SimpleNamespace(n=4, tag='console-not-user', outcome='alice-hurt', says='the console page',
                    what='takes PTE_U off the console page too',
                    body='''if (pa >= reinterpret_cast<uintptr_t>(kernel_text_start)
    && pa < reinterpret_cast<uintptr_t>(kernel_rodata_start)) {
    return PTE_P;
}
return PTE_P | PTE_W | PTE_NX;'''),
    SimpleNamespace(n=5, tag='readable-buffer', outcome='read-only-buffer', says='writable by her',
                    what='checks that the buffer is the process\'s to read, not to write',
                    body='''if (!user_range_ok(p->pagetable, buf, sizeof(SYSNAME), false)) {
    return -1;
}'''),
    SimpleNamespace(n=6, tag='any-user-page', outcome='slot-not-checked', says='only in its own slot',
                    what='refuses only addresses below PROC_START_ADDR, not other processes\' pages',
                    body='''if (addr % PAGESIZE != 0 || addr < PROC_START_ADDR) {
    return -1;
}'''),
    SimpleNamespace(n=1, tag='run-current', outcome='alice-starved', says='call schedule()',
                    what='runs the same process again when its slice is over',
                    body='run(current);       // does not return'),
    # The problem set's classic mistakes.
    SimpleNamespace(n=16, tag='badfork', outcome='cow-shared', says='a copy of its own',
                    what='shares writable pages between parent and child at fork ("badfork")',
                    body='''static uintptr_t fork_writable_page(proc* child, uintptr_t va, uintptr_t pa, uint64_t& perm) {
    page_share(pa);
    return pa;
}
bool copy_on_write(proc* p, uintptr_t addr) {
    return false;
}'''),
    SimpleNamespace(n=12, tag='child-rbx', outcome='child-registers', says="parent's registers",
                    what="gives the child the parent's registers but for %rbx",
                    edit=('    child->regs.reg_rax = 0;\n',
                          '    child->regs.reg_rax = 0;\n    child->regs.reg_rbx = 0;\n')),
    SimpleNamespace(n=12, tag='child-rax-7', outcome='fork-result', says='got 7 from sys_fork',
                    what="leaves the system call's number (7) in the child's %rax",
                    edit=('    child->regs.reg_rax = 0;\n', '')),
    SimpleNamespace(n=12, tag='leak-on-failure', outcome='fork-leaks',
                    says='could not complete kept',
                    what='leaves what it allocated behind when the copy fails half way',
                    edit=('        process_memory_free(child);\n        return -1;',
                          '        return -1;')),
    # Graded on exercise 15, whose comparison run beside eve-spin would be
    # starved as badly as Alice: it requires exercise 1 and says so.
    SimpleNamespace(n=1, tag='run-current-15', graded=15, outcome='needs-1',
                    says='exercise 15 needs exercise 1', what='runs the same process again '
                    'when its slice is over, graded on exercise 15,',
                    body='run(current);       // does not return'),
    SimpleNamespace(n=14, tag='exit-keeps-tables', outcome='exit-leaks', says='page-table pages',
                    what="frees a process's pages at exit but not its page-table pages",
                    body='user_pages_free(p->pagetable, user_memory_start(p), user_memory_end(p));'),
    SimpleNamespace(n=14, tag='exit-frees-console', outcome='bad-free', says='console page',
                    what='frees every user-accessible page the exiting process maps, the console too',
                    body='''for (vmiter it(p->pagetable, 0); it.va() < MEMSIZE_VIRTUAL; it.next_page()) {
    if (it.user()) {
        kfree(it.pa());
    }
}
proc_pagetable_free(p->pagetable);'''),
]
for m in MISTAKES:
    m.graded = getattr(m, 'graded', m.n)
    m.sentence = (f'A classic mistake in exercise {m.n}: a kernel that {m.what} fails '
                  f'{"it" if m.graded == m.n else f"exercise {m.graded}"} as {m.outcome}, '
                  f'with a sentence that says "{m.says}"')


@cases(MISTAKES)
def _(t, m):
    if hasattr(m, 'edit'):      # one line changed in the solution
        full = weensy.read('kernel.cc')
        t.check(full.count(m.edit[0]) == 1, f'kernel.cc has no single {m.edit[0]!r} to change')
        text = full.replace(*m.edit)
    else:
        text = with_regions({getattr(m, 'region', m.n): m.body})
    image = build_kernel(t, f'wrong-{m.tag}', text)
    r = grade.grade(image, [m.graded])[m.graded]
    t.check(not r.passed, f'exercise {m.graded} passed')
    t.check(r.outcome == m.outcome, f'failed as {r.outcome!r} ({r.why}), expected {m.outcome!r}')
    t.check(m.says in r.why, f'the sentence does not say {m.says!r}: {r.why}')
    phrase = weensy.repeated_phrase(r.why)
    t.check(not phrase, f'the sentence says "{phrase}" twice: {r.why}')


@test("AUDIT=1 catches a corruption where it happens: a copy-on-write copy that keeps the "
      "shared page's user panics at the next fork, naming the page and the pid, where "
      "AUDIT=0 runs on to memory=BAD at the end")
def _(t):
    full = weensy.read('kernel.cc')
    keep = '        page_copy(mine, pa);\n        kfree(pa);\n'
    t.check(full.count(keep) == 1, f'kernel.cc has no single {keep!r} to change')
    image = build_kernel(t, 'wrong-cow-keeps-user',
                         full.replace(keep, '        page_copy(mine, pa);\n'))
    quiet = t.boot('fork', ticks=60, image=image, summary=False)
    t.check(quiet.integrity and 'memory=BAD(page 0x' in quiet.integrity,
            f'AUDIT=0: integrity line {quiet.integrity!r}')
    b = t.boot('fork', ticks=60, image=image, audit=1, status=1, summary=False)
    panic = [l for l in b.lines if l.startswith('PANIC: ')]
    t.check(panic and re.match(r'PANIC: AUDIT at the (fork|exit|kill) of proc \d+: page 0x[0-9a-f]+ '
                               r'(has 2 users but 1 mappings \(pid \d+\)|of pid \d+ leaked)',
                               panic[0]),
            f'the panic: {panic}')


# Kernels that know the handout's attacks: one refuses only the pages of
# their exact addresses, the other protects only processes with their
# names. Each passes exercise 4 against the verbatim attacks, and fails it
# against make grade's variants.
CHEATS = [
    SimpleNamespace(tag='cheat-address', how='protects only the page that syscall_entry and kernel_entry are on',
                    bodies={4: 'return PTE_PWU;', 8: '''uintptr_t aimed_at = reinterpret_cast<uintptr_t>(syscall_entry);
vmiter(kernel_pagetable, aimed_at).map(aimed_at & ~(PAGESIZE - 1), PTE_P);
return kernel_pagetable;'''}),
    SimpleNamespace(tag='cheat-name', how='protects the kernel only from processes named eve-kwrite or eve-kjump',
                    bodies={4: 'return PTE_PWU;', 8: '''if (strcmp(p->name, "eve-kwrite") != 0 && strcmp(p->name, "eve-kjump") != 0) {
    return kernel_pagetable;
}
x86_64_pagetable* pt = proc_pagetable_create();
for (uintptr_t va = KERNEL_START_ADDR; pt && va < KERNEL_STACK_TOP; va += PAGESIZE) {
    vmiter(pt, va).map(va, PTE_P | PTE_W);
}
return pt;'''}),
]
for c in CHEATS:
    c.sentence = (f'A kernel that {c.how} passes exercise 4 against the handout\'s own attacks, '
                  'and fails it against the variants make grade boots')


@cases(CHEATS, proof=True)
def _(t, c):
    # On the lecture's layout (the problem set's exercises, 10 on, in their
    # starting state): a table shared by all is only sound with slots.
    pset = {e.number for e in catalog.EXERCISES if e.number >= 10}
    image = build_kernel(t, c.tag, tool.replace(with_regions(c.bodies), 'kernel.cc', pset))
    verbatim = grade.grade(image, [4], variants=False)[4]
    t.check(verbatim.passed, f'the cheat does not even fool the verbatim attacks: {verbatim.why}')
    for seed in (1, 2, 3):
        r = grade.grade(image, [4], seed=seed)[4]
        t.check(not r.passed, f'seed {seed}: the cheating kernel passed exercise 4 ({r.why})')


# ---- Choosing what to hand out; results for machines; CI ----

# What a build, a run or a grade writes: named, never shipped.
BUILT = ('results.json', 'grades.csv', 'programs.txt', 'log.txt', 'qemu.log', 'kernel-addresses.h',
         'lecture-sets.h', 'k-asm.h', 'handout.txt', 'compile_commands.json')


def absent_names(tree):
    """Names of files that `tree`'s sources and texts mention and it lacks:
    paths with a folder (tests/...) and source file names (p-*.cc, *.py,
    ...). The GNUmakefile is left out: it names tests/ only behind checks
    that the folder exists."""
    name = re.compile(r'(?<![\w./$-])((?:[\w-]+/)*[\w.-]+\.(?:cc|hh|h|S|py|md|txt|yml|json|ld))\b')
    found = []
    for f in tool.tracked_files(tree):
        if f == 'GNUmakefile' or not os.path.isfile(os.path.join(tree, f)):
            continue
        try:
            text = open(os.path.join(tree, f)).read()
        except UnicodeDecodeError:
            continue
        for m in name.finditer(text):
            ref = m.group(1)
            here = [os.path.join(tree, ref), os.path.join(tree, os.path.dirname(f), ref)]
            if not any(os.path.exists(p) for p in here) and '*' not in ref \
                    and not ref.startswith(('obj/', 'p-NAME', 'config.')) and ref not in BUILT:
                found.append(f'{f}: {ref}')
    return found


@test("make handout EXERCISES=1-3,5 hands out those four: the others come solved and say 'given'; "
      "its make grade grades exactly the four (0/40, the rest listed as given), its EXERCISES=4,6-9 "
      "grades the given ones 50/50; every Try-it line boots the attack beside Alice; no file names "
      "a file the handout lacks or keeps a comment of a solution it removed", proof=True)
def _(t):
    with handout_tree(t, '1-3,5') as (tmp, dest):
        stamp = open(os.path.join(dest, 'exercises', 'handout.txt')).read()
        t.check('exercises: 1-3,5' in stamp, f'the handout does not remember its set:\n{stamp}')
        for e in catalog.EXERCISES:
            spans = tool.regions(open(os.path.join(dest, e.file)).read(), e.file)
            body = open(os.path.join(dest, e.file)).read().split('\n')[spans[e.number][0]:spans[e.number][1]]
            given = any(tool.GIVEN in l for l in body)
            t.check(given == (e.number not in (1, 2, 3, 5)),
                    f'exercise {e.number}: "given" is {given} in the handout')
            if e.number in (1, 2, 3, 5):
                tries = [l for l in body if 'Try it:' in l]
                t.check(tries and e.try_command() in ' '.join(l.strip('/ ') for l in body),
                        f'exercise {e.number}\'s TODO lacks "Try it: {e.try_command()}"')
                t.check('alice' in e.try_command() or 'run-before' in e.try_command(),
                        f'exercise {e.number}: {e.try_command()} does not boot Alice beside the attack')
        t.check('RESPAWN=1' in catalog.by_number(8).try_command(), "exercise 8's Try it lacks RESPAWN=1")
        # Solutions of the handed-out exercises, their comments too, and
        # the text the catalog rewrites are gone; the given ones stay.
        for e in catalog.EXERCISES:
            full = weensy.read(e.file)
            first, last = tool.regions(full, e.file)[e.number]
            handed = open(os.path.join(dest, e.file)).read()
            comments = [l for l in full.split('\n')[first + 1:last]
                        if l.strip().startswith('//') and len(l.strip()) > 12]
            for l in comments:
                t.check((l in handed) == (e.number not in (1, 2, 3, 5)),
                        f'exercise {e.number}: its solution\'s comment {l.strip()!r} is '
                        f'{"in" if l in handed else "not in"} the handout')
            for old, _ in e.rewrites():
                t.check((old in handed) == (e.number not in (1, 2, 3, 5)),
                        f'exercise {e.number}: the handout\'s {e.file} and {old!r}')
        for f, old, _ in catalog.HANDOUT_SAYS:
            t.check(old not in open(os.path.join(dest, f)).read(), f'{f} in the handout still says {old!r}')
        absent = absent_names(dest)
        t.check(not absent, 'the handout names files it lacks:\n' + '\n'.join(absent))

        status, lines, out = grade_in(dest)
        t.check(status == 1 and lines[-1] == '0 passed, 4 failed' and 'score: 0/40 (0%)' in lines,
                f'the subset handout does not grade its four exercises:\n{out}')
        for n in (4, 6, 7, 8, 9):
            t.check(any(re.match(rf'^exercise {n} .* given', l) for l in lines), f'exercise {n} is not listed as given:\n{out}')
        status, lines, out = grade_in(dest, '--exercises', '4,6-9')
        t.check(status == 0 and 'score: 50/50 (100%)' in lines and lines[-1] == '5 passed, 0 failed',
                f'the given exercises do not pass:\n{out}')
        status, out, _ = weensy.run(weensy.make_command('-s', 'handout', f'DIR={tmp}/h3', 'EXERCISES=1-40'))
        last = max(e.number for e in catalog.EXERCISES)
        t.check(status != 0 and 'EXERCISES=1-40' in out and f'exercises are 1-{last}' in out,
                f'a set with no such exercise was not refused clearly:\n{out}')


@test("make grade RESULTS=path writes Gradescope's results.json: a test per exercise with name, "
      "number, score, max_score, status and output (the reason), and the total score; the human "
      "lines stay the same")
def _(t):
    folder = build_before(t, 5)
    path = os.path.join(ROOT, 'obj', 'test-results.json')
    status, lines, out = grade_in(ROOT, '--image', folder, '--exercises', '3-5',
                                  '--results', path)
    t.check(status == 1 and lines[-1] == '2 passed, 1 failed', f'before-5 graded 3-5 as:\n{out}')
    r = json.load(open(path))
    t.check(set(r) >= {'score', 'tests'} and isinstance(r['score'], float), f'top level: {r}')
    t.check([x['number'] for x in r['tests']] == ['3', '4', '5'], f'tests: {r["tests"]}')
    for x in r['tests']:
        t.check(isinstance(x['name'], str) and isinstance(x['output'], str) and x['output']
                and isinstance(x['score'], float) and isinstance(x['max_score'], float)
                and x['status'] in ('passed', 'failed'), f'a test entry of the wrong form: {x}')
        t.check((x['status'] == 'passed') == (x['score'] == x['max_score'] == 10.0)
                or (x['status'] == 'failed' and x['score'] == 0.0), f'score and status disagree: {x}')
    t.check(r['score'] == 20.0 == sum(x['score'] for x in r['tests']), f'total: {r["score"]}')
    five = r['tests'][2]
    t.check(five['status'] == 'failed' and catalog.by_number(5).says in five['output'],
            f'exercise 5\'s output is not the grader\'s reason: {five}')
    t.check(any(l.startswith('exercise 5 ') and five['output'] in l for l in lines),
            f'the human line and the output differ:\n{out}')


# Every action the handout's workflow may name, as it exists (its tags
# checked on its repository): actions/checkout@v6 runs on Node 24; the
# Classroom actions have only v1.
KNOWN_ACTIONS = {'actions/checkout@v6', 'classroom-resources/autograding-command-grader@v1',
                 'classroom-resources/autograding-grading-reporter@v1'}


def run_step(t, dest, step, env=None):
    """Runs a workflow step's `run` script in the handout `dest` as the
    runner would (bash -e); (status, output)."""
    status, out, _ = weensy.run(['bash', '-e', '-c', step['run']], cwd=dest, timeout=300,
                                run_settings=env or {})
    return status, out


@test("The handout's Classroom workflow (.github/workflows/classroom.yml) parses: on push, it "
      "checks the course's files, installs with ./setup --grade, has one command test per "
      "exercise with its points, then the reporter of exactly those; it names only commands and "
      "actions that exist; a changed grader is named and refused; the summary gives each "
      "exercise's sentence; the retired files are gone", proof=True)
def _(t):
    with handout_tree(t, '2,4') as (tmp, dest):
        github = os.path.join(dest, '.github')
        t.check(sorted(os.listdir(github)) == ['workflows']
                and os.listdir(os.path.join(github, 'workflows')) == ['classroom.yml'],
                f'the handout\'s .github holds more than classroom.yml: {list(os.walk(github))}')
        flow = yaml.safe_load(open(os.path.join(github, 'workflows', 'classroom.yml')))
        on = flow.get(True, flow.get('on'))
        t.check('push' in on, f'not run on push: {on}')
        job = flow['jobs']['run-autograding-tests']
        steps = job['steps']
        uses = [s['uses'] for s in steps if 'uses' in s]
        t.check(set(uses) <= KNOWN_ACTIONS, f'unknown actions: {set(uses) - KNOWN_ACTIONS}')
        graders = [s for s in steps if s.get('uses', '').startswith(
            'classroom-resources/autograding-command-grader')]
        t.check([(g['id'], g['with']['max-score']) for g in graders] == [('exercise2', 10), ('exercise4', 10)]
                and all(g['with']['command'].startswith(f'make grade EXERCISES={g["id"][8:]} ')
                        for g in graders), f'the command tests: {graders}')
        reporter = next(s for s in steps if 'grading-reporter' in s.get('uses', ''))
        t.check(reporter['with']['runners'] == 'exercise2,exercise4'
                and sorted(reporter['env']) == ['EXERCISE2_RESULTS', 'EXERCISE4_RESULTS']
                and steps.index(reporter) > steps.index(graders[-1]),
                f'the reporter does not follow the tests it reports: {reporter}')
        runs = [s['run'] for s in steps if 'run' in s] + [g['with']['command'] for g in graders]
        t.check(any(r.strip() == './setup --grade' for r in runs), f'no ./setup --grade: {runs}')
        targets = set(re.findall(r'^([a-z][\w-]*):', open(os.path.join(dest, 'GNUmakefile')).read(), re.M))
        for r in runs:
            for line in r.strip().splitlines():
                words = line.split()
                if not words or re.fullmatch(r'[0-9a-f]{64}', words[0]) or words[0] == 'END':
                    continue
                if words[0] == 'make':
                    t.check(words[1] in targets, f'{line!r}: the handout has no make target {words[1]}')
                elif words[0].startswith('./'):
                    t.check(os.access(os.path.join(dest, words[0]), os.X_OK), f'{line!r}: no such command in the handout')
                else:
                    t.check(shutil.which(words[0]), f'{line!r}: no command {words[0]}')

        check = next(s for s in steps if 'sha256sum' in s.get('run', ''))
        status, out = run_step(t, dest, check)
        t.check(status == 0, f'the untouched handout fails its own check:\n{out}')
        with open(os.path.join(dest, 'exercises', 'grade.py'), 'a') as f:
            f.write('\nprint("1 passed, 0 failed")\n')
        os.remove(os.path.join(dest, 'p-alice.cc'))
        status, out = run_step(t, dest, check)
        t.check(status != 0 and 'exercises/grade.py: FAILED' in out and 'p-alice.cc' in out
                and "These files are the course's" in out,
                f'a changed grader and a deleted program were not named and refused:\n{out}')
        subprocess.run(['git', 'checkout', '-q', '--', '.'], cwd=dest, check=True)
        open(os.path.join(dest, 'kernel.cc'), 'a').write('\n// the student\'s own work\n')
        status, out = run_step(t, dest, check)
        t.check(status == 0, f'a changed kernel.cc (the student\'s own) was refused:\n{out}')

        with weensy.qemu_slots:
            status, out, _ = weensy.run(graders[0]['with']['command'].split(), cwd=dest, timeout=300)
        t.check(status != 0 and '0 passed, 1 failed' in out, f'the unsolved exercise 2 passed:\n{out}')
        summary = next(s for s in steps if 'GITHUB_STEP_SUMMARY' in s.get('run', ''))
        summary_file = os.path.join(tmp, 'summary.md')
        status, out = run_step(t, dest, summary, {'GITHUB_STEP_SUMMARY': summary_file})
        table = open(summary_file).read()
        t.check(status == 0 and summary.get('if') == 'always()'
                and re.search(r'^\| exercise 2: .* \| 0/10 \| FAIL: \S', table, re.M)
                and re.search(r'^\| results-4.json \| \| not graded', table, re.M),
                f'the job summary does not give each exercise:\n{table}\n{out}')


# ---- Batch grading ----

def submission_kernels():
    """kernel.cc texts: solved, half-solved (1-4), the handout's."""
    full = weensy.read('kernel.cc')
    return (full, tool.replace(full, 'kernel.cc', {e.number for e in catalog.EXERCISES if e.number > 4}),
            tool.replace(full, 'kernel.cc', {e.number for e in catalog.EXERCISES}))


@test("make grade-all: ten submissions (solved, half-solved, unsolved, not building, a kernel "
      "that hangs, one panicking at boot, tampered grader and programs, a git repository with broken "
      "uncommitted changes, its grader deleted, no kernel) graded in parallel into a CSV, each row "
      "right, with the course's grader and programs", proof=True)
def _(t):
    with handout_tree(t) as (tmp, handout):
        solved, half, unsolved = submission_kernels()
        steal = weensy.read(catalog.by_number(9).file)
        subs = os.path.join(tmp, 'subs')

        def sub(name, kernel=None, extra=None):
            d = os.path.join(subs, name)
            shutil.copytree(handout, d, ignore=shutil.ignore_patterns('.git'))
            if kernel is not None:
                open(os.path.join(d, 'kernel.cc'), 'w').write(kernel)
            for f, text in (extra or {}).items():
                if text is None:
                    shutil.rmtree(os.path.join(d, f)) if os.path.isdir(os.path.join(d, f)) else os.remove(os.path.join(d, f))
                else:
                    open(os.path.join(d, f), 'w').write(text)
            return d
        sub('01-solved', solved, {'p-eve-steal.cc': steal})
        sub('02-half', half)
        sub('03-unsolved')
        sub('04-no-build', unsolved + '\nthis is not C++\n')
        # Hangs at boot, before the watchdog starts: every boot runs to its
        # time limit.
        sub('05-hangs', with_regions({4: 'for (;;) {\n    asm volatile("pause");\n}'}))
        sub('06-panics', with_regions({1: 'panic("this kernel gives up");'}))
        forged = ('import json, sys\nprint("score: 90/90 (100%)")\nprint("9 passed, 0 failed")\n'
                  'json.dump({"score": 90.0, "tests": []}, open(sys.argv[-1], "w"))\n')
        sub('07-tampered', half, {'exercises/grade.py': forged,
                                  'p-alice.cc': '#include "u-lib.hh"\nvoid process_main() { sys_exit(); }\n',
                                  'GNUmakefile': 'grade:\n\t@echo "9 passed, 0 failed"\n'})
        repo = sub('08-git', solved, {'p-eve-steal.cc': steal})
        git = ['git', '-c', 'user.name=s', '-c', 'user.email=s@example.invalid']
        for args in (['init', '-q'], ['add', '-A'], ['commit', '-q', '-m', 'done']):
            subprocess.run(git + args, cwd=repo, check=True, stdout=subprocess.DEVNULL)
        open(os.path.join(repo, 'kernel.cc'), 'a').write('\nnot committed, not C++\n')
        sub('09-no-grader', tool.replace(solved, 'kernel.cc', {e.number for e in catalog.EXERCISES
                                                               if e.number > 1}),
            {'exercises': None})
        os.makedirs(os.path.join(subs, '10-empty'))
        open(os.path.join(subs, '10-empty', 'README.md'), 'w').write('I did not get to it.\n')

        out_csv = os.path.join(tmp, 'grades.csv')
        with weensy.qemu_slots:
            status, out, seconds = weensy.run(
                ['python3', 'exercises/grade.py', '--batch', subs, '--csv', out_csv, '--time-limit', '90'],
                timeout=900)
        t.check(status == 0, f'the batch failed:\n{out}')
        rows = {r['submission']: r for r in csv.DictReader(open(out_csv))}
        # The panicking kernel panics when a slice ends: exercise 1 (and any
        # other whose boot ends a slice) fails, never all of them pass.
        expect = {'01-solved': TOTAL, '02-half': 40, '03-unsolved': 0, '04-no-build': 0,
                  '05-hangs': 0, '06-panics': None, '07-tampered': 40, '08-git': TOTAL,
                  '09-no-grader': 10, '10-empty': 0}
        t.check(sorted(rows) == sorted(expect), f'rows: {sorted(rows)}\n{out}')
        for name, total in expect.items():
            t.check(total is None or int(rows[name]['total']) == total,
                    f'{name}: {rows[name]}, expected {total}\n{out}')
        t.check(rows['06-panics']['exercise 1'] == '0' and int(rows['06-panics']['total']) < TOTAL,
                f'the panicking kernel: {rows["06-panics"]}')
        t.check([int(rows['02-half'][f'exercise {n}']) for n in range(1, 10)] == [10] * 4 + [0] * 5,
                f'half-solved: {rows["02-half"]}')
        for name, why in (('04-no-build', 'does not build'), ('05-hangs', 'time limit'),
                          ('06-panics', 'this kernel gives up'), ('10-empty', 'no kernel.cc in the upload'),
                          ('02-half', 'exercise 5:')):
            t.check(why in rows[name]['first reason'], f'{name}: first reason {rows[name]["first reason"]!r}')
        t.check(rows['01-solved']['first reason'] == '', f'solved: {rows["01-solved"]}')


@test("make autograder: the zip has setup.sh, run_autograder and the handout's kernel.cc, no "
      "solution; run against a simulated root (AUTOGRADER_ROOT) it scores a kernel that does not "
      "build 0 with its errors once, and an upload with no kernel.cc 0 with a message saying what "
      "to upload (the graded uploads: tests/proof_autograder.py)", proof=True)
def _(t):
    with weensy.autograder_zip(t, '1,3') as (tmp, zip_path):
        with zipfile.ZipFile(zip_path) as z:
            names = z.namelist()
            t.check({'setup.sh', 'run_autograder', 'exercises/grade.py'} <= set(names), f'zip: {names}')
            t.check('./setup --grade' in z.read('setup.sh').decode(), 'setup.sh does not install')
            kernel = z.read('kernel.cc').decode()
        t.check('TODO' in kernel, 'the zip\'s kernel.cc is not the handout\'s')
        full = weensy.read('kernel.cc')
        r, out = weensy.autograde(zip_path, os.path.join(tmp, 'broken'), lambda sub: open(
            os.path.join(sub, 'kernel.cc'), 'w').write(full + '\nint broken_here = ;\n'))
        t.check(r['score'] == 0 and 'kernel.cc:' in r['output'] and 'error' in r['output']
                and all('kernel.cc:' not in x['output'] for x in r['tests']),
                f'a kernel that does not build (its errors once, at the top): {r}\n{out}')
        r, out = weensy.autograde(zip_path, os.path.join(tmp, 'nothing'), lambda sub: open(
            os.path.join(sub, 'notes.txt'), 'w').write('hi'))
        t.check(r['score'] == 0 and 'no kernel.cc in the upload' in r['output'] and 'notes.txt' in r['output'],
                f'an upload with no kernel: {r}\n{out}')


@test("The handout's README states the catalog's counts: the last exercise, the problem "
      "set's range, the process limit, which exercises kernel.cc holds, and a score "
      "example whose points and counts add up")
def _(t):
    readme = weensy.read('exercises/handout-README.md')
    numbers = [e.number for e in catalog.EXERCISES]
    last = max(numbers)
    # The lecture ends with the attacker's exercise; the problem set follows.
    first = max(e.number for e in catalog.EXERCISES if e.file != 'kernel.cc') + 1
    t.check(f'exercise {last} (copy-on-write fork) is the last' in readme,
            f'the README does not say exercise {last} is the last')
    t.check(f'exercises {first}-{last} are the problem set' in readme.replace('\n', ' '),
            f'the README does not give the problem set as exercises {first}-{last}')
    procs = int(re.search(r'#define MAX_PROCS\s+(\d+)', weensy.read('lib.hh')).group(1))
    t.check(f'up to {procs} once' in readme.replace('\n', ' '),
            f'the README does not give the process limit, {procs}')
    held = re.search(r'`kernel\.cc` \|[^|]*exercises ([\d\-, and]+) live', readme)
    in_kernel = [e.number for e in catalog.EXERCISES if e.file == 'kernel.cc']
    t.check(held and held.group(1).strip().replace(' and ', ',')
            == catalog.describe_numbers(in_kernel),
            f"the README's file table says kernel.cc holds exercises "
            f"{held and held.group(1)!r}, the catalog {catalog.describe_numbers(in_kernel)}")
    total = sum(e.points for e in catalog.EXERCISES)
    score = re.search(r'score: (\d+)/(\d+) \((\d+)%\)\n(\d+) passed, (\d+) failed', readme)
    t.check(score, "the README's score example has no score line and count line")
    got, out_of, percent, passed, failed = map(int, score.groups())
    t.check(out_of == total and percent == 100 * got // total
            and passed + failed == len(numbers) and got == 10 * passed,
            f"the README's score example {score.group(0)!r} does not add up to the "
            f"catalog's {len(numbers)} exercises and {total} points")


@test("A kernel fault whose backtrace starts at a line between an exercise's markers in "
      "kernel.cc is that exercise's; a panic the kernel calls, a frame outside every "
      "exercise, or a file outside the tree is nobody's")
def _(t):
    regions = grade.exercise_regions(os.path.join(ROOT, 'kernel.cc'))
    t.check(sorted(regions) == [e.number for e in catalog.EXERCISES if e.file == 'kernel.cc'],
            f'kernel.cc has markers for exercises {sorted(regions)}')
    inside, outside = regions[10][1], regions[10][-1] + 3

    def at(panic, frame):
        log = f'PANIC: {panic}\ncurrent process: none\nbacktrace:\n  #0 0x41258 {frame}\n'
        return grade.exercise_at_fault(grade.Boot(1, log, ''))
    fault = 'kernel page fault: read from 0x8 (page not present), rip=0x41258'
    found = at(fault, f'process_page_alloc+8 kernel.cc:{inside}')
    t.check(found == (10, f'process_page_alloc at kernel.cc:{inside}'), f'found {found}')
    for panic, frame in [('kfree(0x1000): the page is free already',
                          f'process_page_alloc+8 kernel.cc:{inside}'),
                         (fault, f'process_page_alloc+8 kernel.cc:{outside}'),
                         (fault, f'process_page_alloc+8 ../kernel.cc:{inside}'),
                         (fault, 'kalloc+8 k-memory.cc:40')]:
        t.check(at(panic, frame) is None, f'{panic} at {frame} was blamed on an exercise')
