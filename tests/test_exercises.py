"""Exercises: every defense is an exercise. The lecture's kernel before
defense K (obj/before-K) lets K's attack succeed the way the lectures say,
and grades exercises 1..K-1 passed and K failed for that reason; the full
kernel grades 100%; the student handout holds no solution, builds, boots
and grades 0%; and pasting the solutions back gives the full kernel."""
import importlib.util
import os
import re
import shutil
import tempfile
import threading
from types import SimpleNamespace

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
                          f'{e.attacks[0]} succeeds ({e.before})'
                          + (f'; exercises {graded_before(e.number)[0]}-{e.number - 1} pass'
                             if e.number > 1 else ''))
          for e in catalog.EXERCISES if e.number != 9]


@cases(BEFORE)
def _(t, row):
    """Exercise K's row of exercises/catalog.txt says how its attack
    succeeds without the defense (fails-as); the before-K kernel must
    grade 1..K-1 passed and K failed in exactly that way."""
    ex = row.ex
    k = ex.number
    image = build_before(t, k)
    results = grade.grade(os.path.join(image, 'weensyos.img'), graded_before(k) + [k])
    for n in graded_before(k):
        r = results[n]
        t.check(r.passed, f'before-{k}: exercise {n} failed: {r.why}')
    r = results[k]
    t.check(not r.passed, f'before-{k}: exercise {k} passed, but its defense is missing')
    t.check(r.outcome == ex.outcome,
            f'before-{k}: exercise {k} failed as {r.outcome!r} ({r.why}), '
            f'not because its attack succeeded ({ex.outcome!r})')
    t.check(ex.says in r.why, f'the grader\'s sentence does not say {ex.says!r}: {r.why}')


@test("make grade in the full tree: one line per exercise, 150/150 (100%), and '15 passed, 0 failed' last")
def _(t):
    # What grade.py builds (the tree, and the kernel before exercise 8 for
    # exercise 9), built first under the lock: it is a no-op for it then.
    build_before(t, 8)
    with build_lock:
        weensy.run(weensy.make_command('-s'))
    with weensy.qemu_slots:
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


@test("make handout: a fresh git repository with one commit, no solution line, its own README; "
      "it builds without warnings, Alice and Eve run, make grade scores 0 with a reason per exercise (and with the compiler's words when it does not build), "
      "and a second make handout into it is refused")
def _(t):
    tmp = tempfile.mkdtemp(prefix='weensy-handout-')
    try:
        dest = os.path.join(tmp, 'h')
        status, out, _ = weensy.run(weensy.make_command('-s', 'handout', f'DIR={dest}'))
        t.check(status == 0, f'make handout failed:\n{out}')
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

        with weensy.qemu_slots:
            status, out, _ = weensy.run(['python3', 'exercises/grade.py'], cwd=dest, timeout=300)
        lines = out.strip().splitlines()
        t.check(status == 1, f'make grade in the handout exited {status}:\n{out}')
        for e in catalog.EXERCISES:
            t.check(any(re.match(rf'^exercise {e.number} .* 0/{e.points}  FAIL: \S', l) for l in lines),
                    f'no failing line with a reason for exercise {e.number}:\n{out}')
        t.check(f'score: 0/{TOTAL} (0%)' in lines and lines[-1] == f'0 passed, {len(catalog.EXERCISES)} failed',
                f'the handout does not score 0:\n{out}')

        # A student's kernel that does not build scores 0, with the
        # compiler's words.
        with open(os.path.join(dest, 'kernel.cc'), 'a') as f:
            f.write('\nthis line is not C++\n')
        status, out, _ = weensy.run(['python3', 'exercises/grade.py'], cwd=dest, timeout=300)
        lines = out.strip().splitlines()
        t.check(status == 1 and 'The kernel does not build; the compiler said:' in out
                and 'kernel.cc' in out and 'error' in out,
                f'a kernel that does not build is not reported with the compiler\'s words:\n{out}')
        t.check(f'score: 0/{TOTAL} (0%)' in lines and lines[-1] == f'0 passed, {len(catalog.EXERCISES)} failed',
                f'a kernel that does not build does not score 0:\n{out}')

        status, out, _ = weensy.run(weensy.make_command('-s', 'handout', f'DIR={dest}'))
        t.check(status != 0 and 'not an empty folder' in out, f'a second handout was not refused:\n{out}')
        status, out, _ = weensy.run(weensy.make_command('-s', 'handout', f'DIR={tmp}/h2'), cwd=dest)
        t.check(status != 0 and 'itself a handout' in out, f'a handout made a handout:\n{out}')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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
      "run-before-ATTACK picks the right kernel and refuses a program that is no attack")
def _(t):
    build_before(t, 2)
    with weensy.qemu_slots:
        status, out, _ = weensy.run(weensy.make_command('-s', 'run-headless', 'BEFORE=2', PROCS='alice eve-cli',
                                                        TICKS=40, QEMUEXTRA=weensy.STEADY_CLOCK))
    t.check(status != 0, f'the before-2 kernel did not stop on the hang:\n{out[-1500:]}')
    t.check(re.search(r'^PANIC: machine stuck: no timer interrupt for \d+ ms; proc 2 \(eve-cli\) runs '
                      r'with interrupts off', out, re.M), f'no "machine stuck" report:\n{out[-1500:]}')
    for attack, k in (('eve-spin', 1), ('eve-cli', 2), ('eve-kjump', 4), ('eve-clobber', 8),
                      ('eve-steal', 8)):
        status, out, _ = weensy.run(['python3', 'exercises/tool.py', 'lecture-before', attack])
        t.check(status == 0 and out.strip() == str(k), f'{attack}: before-{out.strip()}, expected {k}')
    status, out, _ = weensy.run(weensy.make_command('run-before-alice'))
    t.check(status != 0 and "'alice' is no exercise's attack" in out, f'run-before-alice: {out[-500:]}')
