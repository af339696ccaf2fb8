#!/usr/bin/env python3
"""grade.py: grades the WeensyOS exercises (`make grade`).

Builds the kernel, then for each exercise boots its attacks beside Alice,
headless and on QEMU's steady clock (-icount), and says in one line whether
the defense held, and if not, what the attack did. Ends with the score and
`N passed, N failed`; exits 0 exactly when every exercise passed.

    python3 exercises/grade.py [N ...]            only exercises N ...
    python3 exercises/grade.py --image DIR [N ...]  grade DIR/weensyos.img
                                                  (built elsewhere)
"""
import concurrent.futures
import os
import random
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from catalog import EXERCISES, by_number  # noqa: E402

STEADY_CLOCK = '-icount shift=6'    # guest time follows guest instructions
BOOT_TIMEOUT = 20                   # seconds; a hang is caught sooner by the watchdog
CONSOLE_ROWS = 25
QEMUS = max(1, min(2, os.cpu_count() or 1))


class Result:
    def __init__(self, passed, outcome, why):
        self.passed = passed
        self.outcome = outcome      # a short code: 'ok', 'alice-starved', ...
        self.why = why              # one sentence for the student


def ok(why=''):
    return Result(True, 'ok', why)


def fail(outcome, why):
    return Result(False, outcome, why)


# ---- Booting and reading what the kernel said ----

class Boot:
    """One headless boot: exit status, the kernel's log, its summary."""
    PROC = re.compile(r'^proc (\d+) (\S+) (runnable|exited|broken) ticks=(\d+) syscalls=(\d+)'
                      r'(?: \S+=\S+)*(?: reason="([^"]*)")?$')

    def __init__(self, status, output, stderr):
        self.status = status
        self.stderr = stderr
        lines = output.splitlines()
        # The summary is the last "summary:" block; the 25 rows after its
        # "console:" line are screen text, which any process can write, so
        # they are never read as the kernel's words.
        start = max((i for i, l in enumerate(lines) if l.startswith('summary: ticks=')),
                    default=len(lines))
        self.log = lines[:start]
        self.ticks = None
        self.procs = {}
        self.integrity = None
        self.console = []
        rest = lines[start:]
        if rest:
            self.ticks = int(rest[0].split('=')[1])
        for i, l in enumerate(rest[1:], start=1):
            m = self.PROC.match(l)
            if m:
                self.procs[int(m.group(1))] = {
                    'name': m.group(2), 'state': m.group(3), 'ticks': int(m.group(4)),
                    'syscalls': int(m.group(5)), 'reason': m.group(6) or ''}
            elif l.startswith('kernel '):
                self.integrity = l[len('kernel '):]
            elif l == 'console:':
                self.console = rest[i + 1:i + 1 + CONSOLE_ROWS]
                break
        self.panic = next((l[len('PANIC: '):] for l in self.log if l.startswith('PANIC: ')), None)

    def proc(self, pid):
        return self.procs.get(pid, {'name': '?', 'state': 'missing', 'ticks': 0,
                                    'syscalls': 0, 'reason': ''})

    def screen_has(self, text):
        return any(text in row for row in self.console)

    def text_changed(self):
        return bool(self.integrity) and 'text=CHANGED' in self.integrity

    def what_happened(self):
        """One phrase for a run that did not end normally."""
        if self.status == 1:
            return f'the kernel panicked: {self.panic}'
        if self.status == 2:
            return 'the machine hung (no power-off within the time limit)'
        if self.status == 3:
            return 'the CPU reset (triple fault)'
        if self.status != 0:
            return f'QEMU failed ({self.stderr.strip()[-200:]})'
        return 'the run ended normally'


def clean_env(image, procs, ticks, respawn):
    """The run settings, all of them: nothing from the caller's
    environment or config.mk decides how a grading boot runs."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES')}
    env.update(PROCS=procs, TICKS=str(ticks), HZ='100', RESPAWN=str(respawn), D='0', LOG='file',
               TIMEOUT=str(BOOT_TIMEOUT), QEMUEXTRA=STEADY_CLOCK, IMAGE=image)
    return env


def boot(image, procs, ticks, respawn=0):
    r = subprocess.run([os.path.join(ROOT, 'run-qemu'), 'headless'], cwd=ROOT,
                       env=clean_env(image, procs, ticks, respawn), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, errors='replace', timeout=BOOT_TIMEOUT + 30)
    return Boot(r.returncode, r.stdout, r.stderr)


def define(path, name):
    with open(os.path.join(ROOT, path)) as f:
        return int(re.search(r'^#define\s+' + name + r'\s+(\d+)', f.read(), re.M).group(1))


def kernel_address(image, symbol):
    """The address of kernel `symbol`, from the image's kernel.sym."""
    sym = os.path.join(ROOT, os.path.dirname(image), 'kernel.sym')
    if not os.path.exists(sym):
        sym = os.path.join(ROOT, 'obj', 'kernel.sym')
    with open(sym) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == symbol:
                return int(parts[0], 16)
    raise KeyError(symbol)


def fault_rip(text):
    m = re.search(r'rip=0x([0-9a-f]+)', text or '')
    return int(m.group(1), 16) if m else None


WARMUP = define('u-eve.hh', 'EVE_WARMUP_LINES') * 1024     # Eve's yields before she attacks
SLOT_SIZE = 0x40000
KERNEL_RANGE = range(0x40000, 0x80000)


def eve_slot(pid=2):
    """Where Eve's code runs: her slot on the lecture's kernels, and on the
    problem set's (exercise 11 on) the addresses every process has, from
    0x100000 up to 0x300000."""
    return range(0x100000, 0x300000)


def fault_of_eve(b):
    """How Eve's attack was stopped: her kill reason, or (a kernel without
    exercise 3 panics on any fault) the panic's message. '' if neither."""
    eve = b.proc(2)
    if eve['state'] == 'broken':
        return eve['reason']
    return b.panic or ''


def panic_note(b):
    return ' (the kernel then panicked: that is exercise 3)' if b.status == 1 else ''


# ---- The exercises ----

def grade_1(image):
    b = boot(image, 'alice eve-spin', 60)
    if b.status != 0:
        return fail('kernel-failed', f'with eve-spin beside Alice {b.what_happened()}')
    alice, eve = b.proc(1), b.proc(2)
    after = alice['syscalls'] - eve['syscalls']
    if eve['syscalls'] == WARMUP and after >= eve['ticks'] // 2:
        return ok()
    return fail('alice-starved',
                f'Alice made no progress after Eve started spinning: {after} system calls '
                f'in the {eve["ticks"]} ticks Eve held the CPU')


def grade_2(image):
    b = boot(image, 'alice eve-cli', 40)
    stopped = fault_of_eve(b)
    if 'general protection fault' in stopped and fault_rip(stopped) in eve_slot():
        return ok('Eve\'s cli raised a general protection fault' + panic_note(b))
    if b.panic and 'machine stuck' in b.panic:
        return fail('machine-stuck',
                    f"Eve's cli turned interrupts off and the machine hung: {b.panic}; "
                    f'Alice made no progress after tick {b.ticks}')
    return fail('cli-allowed', f'Eve executed cli without a fault; {b.what_happened()}')


def only_eve_dies(program, reason, outcome, attack):
    """Grades an attack that must kill Eve alone (for `reason`) while the
    machine runs on; `attack` names what she did, for the sentence."""
    def grade_it(image):
        b = boot(image, f'alice {program}', 40)
        eve, alice = b.proc(2), b.proc(1)
        if b.status == 1:
            return fail(outcome, f'{attack} brought the whole machine down: PANIC: {b.panic}')
        if b.status == 0 and eve['state'] == 'broken' and eve['reason'].startswith(reason) \
                and alice['state'] == 'runnable' and alice['syscalls'] > WARMUP + 1024:
            return ok()
        return fail(program + '-mishandled', f'after {attack}, Eve is {eve["state"]} '
                    f'({eve["reason"]}) and Alice made {alice["syscalls"]} system calls; '
                    f'{b.what_happened()}')
    return grade_it


grade_3 = only_eve_dies('eve-div0', 'divide error', 'kernel-panic', "Eve's division by zero")


def grade_4(image):
    target = kernel_address(image, 'syscall_entry')
    b = boot(image, 'alice eve-kwrite', 40)
    stopped = fault_of_eve(b)
    if not ('page fault' in stopped and f'write to 0x{target:x}' in stopped
            and not b.text_changed()):
        if b.panic and 'kernel stuck' in b.panic:
            return fail('kernel-hung', f'Eve wrote EB FE over syscall_entry (0x{target:x}) and '
                        f'her next system call hung the kernel: PANIC: {b.panic}')
        return fail('kernel-overwritten', f'Eve wrote over the kernel\'s syscall_entry '
                    f'(0x{target:x}) without a fault; {b.what_happened()}')
    entry = kernel_address(image, 'kernel_entry')
    b2 = boot(image, 'alice eve-kjump', 40)
    stopped = fault_of_eve(b2)
    if 'page fault' in stopped and f'instruction fetch from 0x{entry:x}' in stopped:
        return ok('both of Eve\'s accesses to kernel pages faulted' + panic_note(b2))
    rip = fault_rip(stopped)
    if rip in KERNEL_RANGE:
        return fail('ran-kernel-code', f'Eve ran kernel code at CPL 3: she got to rip=0x{rip:x} '
                    f'before the processor stopped her ({stopped})')
    return fail('kernel-jump-allowed', f'Eve called kernel_entry (0x{entry:x}) without a page '
                f'fault; {b2.what_happened()}')


def call_refused(b):
    """Eve's call was answered without harm: the run went on, the kernel's
    code is intact, and Eve kept counting after her attack. (Had the kernel
    given her what she asked for, it would have crashed or hung: see
    p-eve-sysname.cc and p-eve-pagealloc.cc.)"""
    eve = b.proc(2)
    return (b.status == 0 and b.integrity is not None and 'text=ok' in b.integrity
            and eve['state'] == 'runnable' and eve['syscalls'] > WARMUP + 1)


def grade_5(image):
    target = kernel_address(image, 'syscall_entry')
    b = boot(image, 'alice eve-sysname', 12)
    if call_refused(b):
        return ok()
    if b.panic and f'write to 0x{target:x}' in b.panic:
        return fail('kernel-wrote-own-code',
                    f'the kernel wrote "WeensyOS" over its own code at syscall_entry for Eve '
                    f'(it page-faulted only because CR0.WP keeps kernel code read-only, even '
                    f'for the kernel): PANIC: {b.panic}')
    return fail('kernel-wrote-own-code', f'sys_getsysname(syscall_entry) was not refused: '
                f'{b.what_happened()}{"; kernel " + b.integrity if b.integrity else ""}')


def grade_6(image):
    target = kernel_address(image, 'syscall_entry')
    b = boot(image, 'alice eve-pagealloc', 12)
    if call_refused(b):
        return ok()
    return fail('kernel-page-given',
                f'sys_page_alloc handed Eve the page of syscall_entry '
                f'(0x{target & ~0xFFF:x}): {b.what_happened()}{"; kernel " + b.integrity if b.integrity else ""}')


grade_7 = only_eve_dies('eve-panic', 'sys_panic', 'machine-stopped', "Eve's sys_panic")


def grade_8(image):
    # Eve's first life writes Alice's code, which is read-only anyway; her
    # second life (RESPAWN=1) writes Alice's stack, which only a page table
    # of her own keeps from her.
    b = boot(image, 'alice eve-clobber', 40, respawn=1)
    stack = 0x100000 + SLOT_SIZE - 8
    kills = [l.split('killed: ', 1)[1] for l in b.log if l.startswith('proc 2 killed: ')]
    if any('page fault' in k and f'write to 0x{stack:x} ' in k for k in kills):
        return ok()
    if b.panic and f'write to 0x{stack:x} ' in b.panic:
        return ok(panic_note(b).strip())
    eve = b.proc(2)
    if eve['state'] == 'runnable':
        return fail('memory-overwritten', f"Eve wrote over Alice's stack at 0x{stack:x} and "
                    'nothing stopped her')
    return fail('clobber-mishandled', f'Eve is {eve["state"]} ({eve["reason"]}); '
                f'{b.what_happened()}')


def grade_9(image):
    before8 = os.path.join('obj', 'before-8', 'weensyos.img')
    r = subprocess.run(['make', '-s', before8], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, errors='replace')
    if r.returncode != 0:
        return fail('no-before-kernel', 'the kernel before exercise 8 does not build: '
                    + r.stdout.strip()[-300:])
    secret = random.randrange(10**8, 10**9)
    procs = f'alice:{secret} eve-steal'
    b = boot(before8, procs, 5)
    if not b.screen_has(str(secret)):
        return fail('no-secret', f'against the kernel before exercise 8, Eve did not print '
                    f"Alice's secret ({secret}); the screen shows no such number")
    b2 = boot(image, procs, 5)
    if b2.screen_has(str(secret)):
        return fail('secret-leaked', "against your kernel too, Eve printed Alice's secret: "
                    'exercise 8 must stop her')
    return ok()


GRADERS = {1: grade_1, 2: grade_2, 3: grade_3, 4: grade_4, 5: grade_5, 6: grade_6,
           7: grade_7, 8: grade_8, 9: grade_9}
from grade_pset import join_pset  # noqa: E402  (the problem set: exercises 10-16)
join_pset(globals())


def grade(image, numbers):
    """{exercise number: Result} for the kernel image `image` (relative to
    the repository root)."""
    def one(n):
        try:
            return n, GRADERS[n](image)
        except (OSError, KeyError, subprocess.SubprocessError) as e:
            return n, fail('grader-error', f'could not grade: {e!r}')
    with concurrent.futures.ThreadPoolExecutor(max_workers=QEMUS) as pool:
        return dict(pool.map(one, numbers))


# ---- make grade ----

def build():
    """Builds the tree; returns None, or what the compiler said."""
    r = subprocess.run(['make', '-s'], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, errors='replace')
    return None if r.returncode == 0 else r.stdout


def report(numbers, results, failed_build=None):
    total = sum(by_number(n).points for n in numbers)
    score = 0
    passed = 0
    for n in numbers:
        ex = by_number(n)
        r = results.get(n)
        label = f'exercise {n}  {ex.title}'
        if r and r.passed:
            score += ex.points
            passed += 1
            print(f'{label:<46} {ex.points:>2}/{ex.points}  ok' + (f' ({r.why})' if r.why else ''))
        else:
            why = r.why if r else 'not graded: the kernel does not build'
            print(f'{label:<46}  0/{ex.points}  FAIL: {why}')
    print(f'score: {score}/{total} ({100 * score // max(total, 1)}%)')
    print(f'{passed} passed, {len(numbers) - passed} failed')
    return passed == len(numbers)


def main(argv):
    args = argv[1:]
    image = 'weensyos.img'
    if args[:1] == ['--image']:
        image = os.path.join(args[1], 'weensyos.img')
        args = args[2:]
    try:
        numbers = [int(a) for a in args] or [e.number for e in EXERCISES]
        for n in numbers:
            by_number(n)
    except (ValueError, StopIteration):
        print(f'grade.py: exercises are numbered 1 to {len(EXERCISES)}', file=sys.stderr)
        return 2
    if image == 'weensyos.img':
        errors = build()
        if errors is not None:
            print('The kernel does not build; the compiler said:')
            print('\n'.join('  ' + l for l in errors.strip().splitlines()[-25:]))
            report(numbers, {})
            return 1
    print(f'Grading {image}: each exercise boots its attack beside Alice', flush=True)
    return 0 if report(numbers, grade(image, numbers)) else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
