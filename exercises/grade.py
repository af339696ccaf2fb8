#!/usr/bin/env python3
"""grade.py: grades the WeensyOS exercises (`make grade`).

Builds the kernel, then for each exercise boots its attacks beside Alice,
headless and on QEMU's steady clock (-icount), and says in one line whether
the defense held, and if not, what the attack did. Ends with the score and
`N passed, N failed`; exits 0 exactly when every exercise passed.

The attacks it boots are variants of the handout's programs, chosen anew
on every run: every program under another name, Eve's warm-up, and the
kernel address she attacks (see Variants below). A kernel that recognises
the handout's attacks by name, timing or exact address gains nothing.

    python3 exercises/grade.py --help             the options
    python3 exercises/grade.py --batch DIR ...    every submission in DIR (the
                                                  course's full tree only:
                                                  make grade-all)
"""
import concurrent.futures
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from catalog import EXERCISES, by_number, describe_numbers, parse_numbers, student_file  # noqa: E402
# define, slot, slot_start: also for the graders that import this module.
from summary import (CALLS_PER_LINE, CONSOLE_ADDR, CONSOLE_COLUMNS, CONSOLE_ROWS, EVE_WARMUP,  # noqa: E402,F401
                     KERNEL_RANGE, Options, PAGESIZE, PROC_SLOT_SIZE, STEADY_CLOCK, Proc, Summary,
                     clean_env, define, slot, slot_start)

# Run as a script, this module is __main__; a grader module that imports
# `grade` (the problem set's) must get this one, not a second copy.
if __name__ == '__main__':
    sys.modules['grade'] = sys.modules[__name__]

BOOT_TIMEOUT = 20                   # seconds; a hang is caught sooner by the watchdog
# Boots at a time: one QEMU per core (WEENSY_QEMUS: batch grading's share).
QEMUS = int(os.environ.get('WEENSY_QEMUS') or 0) or max(1, min(2, os.cpu_count() or 1))
WARMUP = EVE_WARMUP                 # Eve's yields before she attacks, unless varied
SLOT_SIZE = PROC_SLOT_SIZE
# Written into every handout (make handout): its presence says "this
# tree is a handout", and its `exercises:` line says which were handed out.
HANDOUT_STAMP = os.path.join(HERE, 'handout.txt')


class Result:
    def __init__(self, passed, outcome, why, blames=None):
        self.passed = passed
        self.outcome = outcome      # a short code: 'ok', 'alice-starved', ...
        self.why = why              # one sentence for the student
        # A failure that another exercise's code causes names it: its
        # number (None: the exercise graded).
        self.blames = blames


def ok(why=''):
    return Result(True, 'ok', why)


def fail(outcome, why, blames=None):
    return Result(False, outcome, why, blames)


# ---- Booting and reading what the kernel said ----

class Boot(Summary):
    """One headless boot: exit status, the kernel's log (`log`, a list of
    lines), its summary (exercises/summary.py), and the warm-up in yields
    that Eve had in it (`warmup`)."""

    def __init__(self, status, output, stderr, warmup=WARMUP):
        self.status = status
        self.stderr = stderr
        self.warmup = warmup
        super().__init__(output.splitlines())
        self.log = self.log_lines
        self.fault_exercise = None      # (n, 'function at kernel.cc:LINE'): boot() sets it

    def proc(self, pid):
        return self.procs.get(pid) or Proc.missing(pid)

    def text_changed(self):
        return bool(self.integrity) and 'text=CHANGED' in self.integrity

    def what_happened(self):
        """One phrase for a run that did not end normally."""
        if self.status == 1 and self.fault_exercise:
            n, place = self.fault_exercise
            return f'the kernel panicked in exercise {n}\'s code ({place}): {self.panic}'
        if self.status == 1:
            return f'the kernel panicked: {self.panic}'
        if self.status == 2:
            return 'the machine hung (no power-off within the time limit)'
        if self.status == 3:
            return 'the CPU reset (triple fault)'
        if self.status != 0:
            return f'QEMU failed ({self.stderr.strip()[-200:]})'
        return 'the run ended normally'


# ---- Variants ----
# While grade() runs, every boot goes to a disk image of its own, made for
# this run: the same kernel, and the course's programs under random names.
# A grader that asks for it (vary=True) also gets a random warm-up for Eve,
# and passes the address she attacks in her PROCS argument (u-eve.hh).

class Variant:
    """The disk image and the program names of one kernel image for one
    grading run, in a folder of its own that holds what run-qemu reads."""

    def __init__(self, image, rng):
        self.dir = tempfile.mkdtemp(prefix='grade-variant-', dir=os.path.join(ROOT, 'obj'))
        os.makedirs(os.path.join(self.dir, 'obj'))
        with open(os.path.join(ROOT, 'obj', 'programs.txt')) as f:
            programs = f.read().split()
        taken = set(programs)
        self.names = {}
        for p in programs:
            name = p
            while name in taken:
                # No hexadecimal digit, so no address in the log looks like one.
                name = ''.join(rng.choice('ghijklmnopqrstuvwxyz') for _ in range(8))
            taken.add(name)
            self.names[p] = name
            share(os.path.join(ROOT, 'obj', f'p-{p}.elf'), os.path.join(self.dir, f'p-{name}.elf'))
        with open(os.path.join(self.dir, 'obj', 'programs.txt'), 'w') as f:
            f.write(' '.join(self.names.values()) + '\n')
        for f in ('run-qemu', 'obj/k-asm.h'):
            shutil.copy2(os.path.join(ROOT, f), os.path.join(self.dir, f))
        kernel = os.path.join(ROOT, os.path.dirname(image), 'kernel.elf')
        if not os.path.exists(kernel):
            kernel = os.path.join(ROOT, 'obj', 'kernel.elf')
        r = subprocess.run([os.path.join(ROOT, 'mkimage.sh'), os.path.join(self.dir, 'weensyos.img'),
                            os.path.join(ROOT, 'obj', 'bootsector'), kernel]
                           + [os.path.join(self.dir, f'p-{n}.elf') for n in self.names.values()],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           errors='replace')
        if r.returncode != 0:
            raise OSError(f'could not make the grading image: {r.stdout.strip()}')

    def procs(self, procs):
        return ' '.join(self.names.get(t.split(':')[0], t.split(':')[0])
                        + (':' + t.split(':', 1)[1] if ':' in t else '') for t in procs.split())

    def unname(self, text):
        """`text` with the programs' own names again, so that graders and
        their sentences see alice and eve-kwrite, as the student does."""
        for program, name in self.names.items():
            if name != program:
                text = text.replace(name, program)
        return text

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def share(src, dest):
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


class GradingRun:
    """The variants of one grade(): a random source, and a Variant per
    kernel image booted, made at its first boot."""

    def __init__(self, seed):
        self.seed = seed
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.variants = {}
        self.boots = {}             # boots that several graders read: booted once

    def variant(self, image):
        with self.lock:
            if image not in self.variants:
                self.variants[image] = Variant(image, self.rng)
            return self.variants[image]

    def warmup_lines(self):
        with self.lock:
            return self.rng.randint(2, 4)

    def choice(self, options):
        with self.lock:
            return self.rng.choice(options)

    def close(self):
        for v in self.variants.values():
            v.close()


# The GradingRun of the grade() this thread grades for, if any (grade()
# sets it in each of its workers: several grade() may run at once).
_local = threading.local()


def current_run():
    return getattr(_local, 'run', None)


def boot(image, procs, ticks, respawn=0, vary=False, until=None, audit=False):
    """Boots `image` headless with `procs`; with vary=True, during grade(),
    every Eve (a program whose name starts with eve-) gets a random warm-up
    (the Boot's `warmup`). Her PROCS argument, if any, stays in the low 32
    bits (u-eve.hh). The Boot reads the programs' own names: the random
    ones the kernel saw are translated back.

    With `until` (a function of the run so far, a Boot without a summary:
    its log, and its screen rows), the run ends, with its summary, as soon
    as until() holds: `ticks` is then only the limit of a run in which it
    never does. So a grader waits for what it checks (a line, a count),
    however slowly a correct kernel gets there. With audit=True the kernel
    audits its memory at every fork, exit and kill (AUDIT=1), and panics at
    the first disagreement."""
    run = current_run()
    if run is not None and not vary and until is not None:
        key = (image, procs, ticks, respawn, until, audit)
        with run.lock:
            once = run.boots.setdefault(key, Once())
        b = once(lambda: boot_once(image, procs, ticks, respawn, vary, until, audit))
    else:
        b = boot_once(image, procs, ticks, respawn, vary, until, audit)
    b.fault_exercise = exercise_at_fault(b)
    if b.fault_exercise and not getattr(_local, 'fault_at', None):
        _local.fault_at = b.fault_exercise
    if not getattr(_local, 'table_shared', None):
        _local.table_shared = next((m for m in map(TABLE_SHARED.match, b.log) if m), None)
    note_console_kill(b)
    return b


# A kernel fault (or a kernel stuck) whose faulting instruction is in an
# exercise's code, between its markers in the kernel.cc the image was built
# from, is that exercise's doing, whichever grader booted it (proof: a
# virtual page allocation that read `current` while loading the first
# process failed every exercise with "the kernel panicked").
FRAME_0 = re.compile(r'^  #0 0x[0-9a-f]+ (\S+?)\+\d+ ((?:[\w.-]+/)*kernel\.cc):(\d+)')
MARKER = re.compile(r'^\s*// (?:Exercise (\d+) \(|End of exercise (\d+)$)')


def exercise_regions(source):
    """{exercise: range of its lines} in the kernel.cc at `source`."""
    regions, start = {}, {}
    with open(source, errors='replace') as f:
        for number, line in enumerate(f, 1):
            m = MARKER.match(line)
            if m and m.group(1):
                start[int(m.group(1))] = number
            elif m and int(m.group(2)) in start:
                regions[int(m.group(2))] = range(start[int(m.group(2))], number)
    return regions


def exercise_at_fault(b):
    """(exercise, 'function at kernel.cc:LINE') for a boot whose kernel
    faulted, or was found stuck, at a line of an exercise's code; None
    otherwise. Only the kernel's own fault panics ("kernel ..."): a panic
    that code calls deliberately is where it was noticed, not caused."""
    if b.status != 1 or not (b.panic or '').startswith('kernel '):
        return None
    after = b.log.index('backtrace:') + 1 if 'backtrace:' in b.log else len(b.log)
    m = FRAME_0.match(b.log[after]) if after < len(b.log) else None
    # (The frame names the file it was built from: obj/before-K/kernel.cc
    # for a before-K kernel.)
    source = m and os.path.join(ROOT, m.group(2))
    if not m or '..' in m.group(2) or not os.path.exists(source):
        return None
    line = int(m.group(3))
    for n, lines in exercise_regions(source).items():
        if line in lines:
            return n, f'{m.group(1)} at kernel.cc:{line}'
    return None


def fault_blamed(n, r):
    """Exercise n's failed Result r, naming the exercise in whose code a
    kernel that its grader booted faulted (exercise_at_fault): that fault
    is certain, whatever else the grader blamed."""
    at = getattr(_local, 'fault_at', None)
    if r.passed or not at or r.blames == at[0] or (at[0] == n and r.blames is None):
        return r
    return fail(r.outcome, r.why, None if at[0] == n else at[0])


# A program the loader refused because another process runs on the same
# page table at the same addresses (k-loader.cc) needs exercise 8's page
# table per process, whichever grader booted it (proof: a kernel that made
# each process a table but returned the kernel's failed exercises 1-8 each
# with its own sentence). Only the kernel writes `loader:` lines.
TABLE_SHARED = re.compile(r"^loader: cannot load program '.*' as pid (\d+): pid (\d+) runs on "
                          r"the same page table at the same addresses$")


def table_blamed(n, r):
    """Exercise n's failed Result r, naming exercise 8 if one of its boots
    had a program refused a page table another process runs on."""
    m = getattr(_local, 'table_shared', None)
    if r.passed or not m or r.blames == 8:
        return r
    return fail(r.outcome, f'pid {m.group(1)} could not load: pid {m.group(2)} runs on the same '
                f'page table at the same addresses, so each process needs a page table of its '
                f'own (process_pagetable); {r.why}', 8)


# A process killed for touching the console page is exercise 4's doing
# (kernel_page_perm), whichever grader booted it: the grader's failure
# names exercise 4 (proof: a kernel whose console is read-only failed
# exercises 1-8 on their own). The first such kill reason of the grader
# this thread runs.
CONSOLE_ACCESS = re.compile(rf'(read from|write to) 0x{CONSOLE_ADDR >> 12:x}[0-9a-f]{{3}}\b')


def note_console_kill(b):
    if getattr(_local, 'console_kill', '') == '':
        _local.console_kill = next((k for k in b.killed() if CONSOLE_ACCESS.search(k)), '')


def console_blamed(n, r):
    """Exercise n's failed Result r, naming exercise 4 if one of its boots
    had a process killed for touching the console page (whatever else the
    grader blamed: that kill is certain)."""
    kill = getattr(_local, 'console_kill', '')
    if r.passed or r.blames == 4 or n == 4 or not kill:
        return r
    return fail(r.outcome, f'a process was killed touching the console page ({kill}): it must '
                f'stay PTE_U, the one page processes may write; {r.why}', 4)


class Once:
    """A value computed once, by whichever thread asks first."""

    def __init__(self):
        self.lock = threading.Lock()
        self.value = None

    def __call__(self, compute):
        with self.lock:
            if self.value is None:
                self.value = compute()
            return self.value


def boot_once(image, procs, ticks, respawn, vary, until, audit=False):
    run, top, warmup = current_run(), ROOT, WARMUP
    bootopt = kernel_symbols(image, 'bBdD')['bootopt'] if until else None
    if run is not None:
        if vary:
            lines = run.warmup_lines()
            warmup = lines * CALLS_PER_LINE
            procs = ' '.join(vary_eve(t, lines) for t in procs.split())
        v = run.variant(image)
        top, image, procs = v.dir, 'weensyos.img', v.procs(procs)
    else:
        v = None
    gdb = tempfile.mktemp(prefix='weensyos-gdb-', suffix='.sock') if until else None
    settings = dict(PROCS=procs, TICKS=ticks, HZ=100, RESPAWN=respawn, D=0, LOG='file',
                    TIMEOUT=BOOT_TIMEOUT + (ticks // 20 if until else 0),
                    QEMUEXTRA=STEADY_CLOCK + (f' -gdb unix:{gdb},server=on,wait=off' if gdb else ''),
                    IMAGE=image, VIEW='console', PTSWITCH=0, AUDIT=int(audit))
    q = subprocess.Popen([os.path.join(top, 'run-qemu'), 'headless'], cwd=top,
                         env=clean_env(settings), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, errors='replace')
    try:
        if until:
            output, stderr = watch(q, top, gdb, ticks, bootopt, until, v, warmup)
        else:
            output, stderr = q.communicate(timeout=settings['TIMEOUT'] + 30)
    finally:
        if q.poll() is None:
            q.kill()
            q.wait()
        if gdb and os.path.exists(gdb):
            os.remove(gdb)
    output = v.unname(output) if v else output
    keep_transcript(procs if v is None else v.unname(procs), q.returncode, output, stderr)
    return Boot(q.returncode, output, stderr, warmup)


POLL = 0.03                 # seconds between looks at a run that until() watches


def watch(q, top, gdb, ticks, bootopt, until, v, warmup):
    """Runs `q` (run-qemu headless), looking at its log and its screen every
    POLL seconds; once until() holds, ends the run at its next tick (its
    summary follows). Returns (stdout, stderr)."""
    lines, errors = [], []
    threads = [threading.Thread(target=lambda: lines.extend(q.stdout)),
               threading.Thread(target=lambda: errors.append(q.stderr.read()))]
    for t in threads:
        t.start()
    monitor = os.path.join(top, 'obj', f'monitor-{q.pid}.sock')
    screen = os.path.join(os.path.dirname(gdb), os.path.basename(gdb) + '.screen')
    try:
        while q.poll() is None:
            time.sleep(POLL)
            so_far = Boot(0, v.unname(''.join(lines)) if v else ''.join(lines), '', warmup)
            so_far.console = read_screen(monitor, screen)
            if until(so_far):
                end_at_next_tick(gdb, ticks, bootopt)
                break
        q.wait(timeout=BOOT_TIMEOUT + 30)
    finally:
        for t in threads:
            t.join(timeout=BOOT_TIMEOUT + 30)
        if os.path.exists(screen):
            os.remove(screen)
    return ''.join(lines), ''.join(errors)


def monitor_command(path, command):
    """Sends one command to QEMU's human monitor at socket `path`; returns
    its answer ('' if the monitor is not there yet)."""
    import socket
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(path)
            answer = b''
            for text in (None, command):
                if text:
                    s.sendall(text.encode() + b'\n')
                while not answer.endswith(b'(qemu) '):
                    chunk = s.recv(4096)
                    if not chunk:
                        return answer.decode(errors='replace')
                    answer += chunk
                if text:
                    return answer.decode(errors='replace')
                answer = b''
    except OSError:
        return ''


def read_screen(monitor, dump):
    """The screen's rows as text (as the summary prints them), read through
    the monitor; [] if it cannot be read yet."""
    if not monitor_command(monitor, f'pmemsave {CONSOLE_ADDR} {2 * CONSOLE_ROWS * CONSOLE_COLUMNS} '
                                    f'"{dump}"'):
        return []
    try:
        with open(dump, 'rb') as f:
            cells = f.read()[0::2]
    except OSError:
        return []
    text = ''.join(chr(c) if 32 <= c < 127 else (' ' if c == 0 else '?') for c in cells)
    return [text[r * CONSOLE_COLUMNS:(r + 1) * CONSOLE_COLUMNS].rstrip()
            for r in range(CONSOLE_ROWS)]


def end_at_next_tick(path, ticks, base):
    """Ends a headless run at its next tick, with its summary, as if it had
    been booted with that TICKS: through QEMU's GDB stub at `path` (which
    stops the machine while connected), the kernel's copy of TICKS (the one
    word of `bootopt`, at `base`, that holds `ticks`) becomes 1."""
    import socket

    def packet(s, data):
        """Sends a GDB remote packet; returns its answer (not the stub's
        note that the machine stopped)."""
        s.sendall(b'$%s#%02x' % (data, sum(data) % 256))
        buffered = b''
        while True:
            m = re.search(rb'\$([^#]*)#..', buffered)
            if m:
                s.sendall(b'+')
                buffered = buffered[m.end():]
                if not m.group(1).startswith((b'T', b'S')):
                    return m.group(1).decode()
                continue
            chunk = s.recv(65536)
            if not chunk:
                raise OSError('the GDB stub closed the connection')
            buffered += chunk
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(path)
            try:
                words = bytes.fromhex(packet(s, b'm%x,100' % base))
                want = ticks.to_bytes(8, 'little')
                at = next(i for i in range(0, len(words) - 7, 8) if words[i:i + 8] == want)
                packet(s, b'M%x,8:%s' % (base + at, (1).to_bytes(8, 'little').hex().encode()))
            finally:
                packet(s, b'D')     # detach: the machine runs on
    except (OSError, StopIteration, ValueError):
        pass                        # the run ends at its limit instead


def keep_transcript(procs, status, output, stderr):
    """With --transcripts DIR, a boot that did not power off normally
    (a panic, a hang, a reset) is kept in a file of its own in DIR: the
    whole log for the course's staff."""
    folder, n = getattr(_local, 'transcripts', None), getattr(_local, 'exercise', None)
    if not folder or status == 0:
        return
    with _transcript_lock:
        os.makedirs(folder, exist_ok=True)
        k = 1
        while os.path.exists(os.path.join(folder, f'exercise-{n}-boot-{k}.txt')):
            k += 1
        with open(os.path.join(folder, f'exercise-{n}-boot-{k}.txt'), 'w') as f:
            f.write(f'exercise {n}: PROCS="{procs}", run-qemu headless exited {status}\n\n'
                    f'{output}{stderr}')


_transcript_lock = threading.Lock()


def vary_eve(token, lines):
    name, _, arg = token.partition(':')
    if not name.startswith('eve-'):
        return token
    return f'{name}:{(lines << 32) | (int(arg, 0) if arg else 0)}'


def choose(options):
    """One of `options`, chosen for this run (the first outside grade())."""
    run = current_run()
    return run.choice(options) if run is not None else options[0]


def kernel_symbols(image, kinds='Tt'):
    """{name: address} of the image's kernel (its kernel.sym): its
    functions, or the symbols of nm's `kinds`."""
    sym = os.path.join(ROOT, os.path.dirname(image), 'kernel.sym')
    if not os.path.exists(sym):
        sym = os.path.join(ROOT, 'obj', 'kernel.sym')
    table = {}
    with open(sym) as f:
        for line in f:
            parts = line.split(None, 2)
            if len(parts) == 3 and parts[1] in kinds:
                table[parts[2].strip()] = int(parts[0], 16)
    return table


def kernel_address(image, symbol):
    """The address of kernel `symbol`, from the image's kernel.sym."""
    return kernel_symbols(image)[symbol]


# Kernel functions that every system call (a yield) runs: Eve's variant
# targets, away from the pages of the handout's targets.
EVERY_SYSCALL_RUNS = ('schedule()', 'run(proc*)', 'syscall')


def attack_target(image, usual, candidates=EVERY_SYSCALL_RUNS):
    """(address, name) of the kernel code a variant attacks: one of
    `candidates` on a page other than `usual`'s and kernel_entry's, chosen
    per run; `usual` itself outside grade() or when there is none."""
    table = kernel_symbols(image)
    avoid = {table[s] // PAGESIZE for s in (usual, 'kernel_entry', 'syscall_entry') if s in table}
    found = [(table[c], c) for c in candidates if c in table and table[c] // PAGESIZE not in avoid]
    if current_run() is None or not found:
        return table[usual], usual
    return choose(found)


def fault_rip(text):
    m = re.search(r'rip=0x([0-9a-f]+)', text or '')
    return int(m.group(1), 16) if m else None


def eve_slot(pid=2):
    """Where Eve's code runs: her slot on the lecture's kernels, and on the
    problem set's (exercise 11 on) the addresses every process has, from
    0x100000 up to 0x300000."""
    return range(0x100000, 0x300000)


def fault_of_eve(b):
    """How Eve's attack was stopped: her kill reason, or (a kernel without
    exercise 3 panics on any fault) the panic's message. '' if neither."""
    eve = b.proc(2)
    if eve.state == 'broken':
        return eve['reason']
    return b.panic or ''


def panic_note(b):
    return ' (the kernel then panicked: that is exercise 3)' if b.status == 1 else ''


def exception_returned(b):
    """The sentence for a kernel whose exception() returned for a process
    (k-exception.S panics then), or None."""
    if b.panic and 'exception() returned' in b.panic:
        # (The panic says what to call.)
        return ('the fault was handled, but exception() then returned for the process '
                f'instead of running another: PANIC: {b.panic}')
    return None


def alice_hurt(b):
    """The sentence for a boot in which Alice did not survive, or None."""
    alice = b.proc(1)
    if alice.state == 'runnable' or b.status != 0:
        return None
    reason = alice['reason']
    if re.search(rf'(read from|write to) 0x{CONSOLE_ADDR >> 12:x}[0-9a-f]{{3}}\b', reason):
        return (f'Alice was killed printing ({reason}): the console page '
                f'(0x{CONSOLE_ADDR:x}) must stay PTE_U, the one page processes may write')
    return f'Alice did not survive Eve\'s attack: she is {alice.state} ({reason})'


# ---- What a grader waits for ----
# A run ends as soon as what its check needs has happened, within a limit
# (LIMIT ticks) long enough for a correct kernel several times slower per
# call than the reference: the grade never depends on a tick budget.

LIMIT = 1500                # ticks: 15 s of guest time


def line_count(b, prefix):
    """The highest N of the screen's "PREFIX#N" lines (0 if none)."""
    found = [int(m.group(1)) for row in b.console
             for m in [re.search(re.escape(prefix) + r'#(\d+)$', row)] if m]
    return max(found, default=0)


def alice_lines(b):
    return line_count(b, "Hi, I'm Alice! ")


def eve_killed(b):
    return bool(b.killed(2))


def eve_killed_and_alice_on(b):
    """Eve was killed, and Alice has counted a line past Eve's warm-up."""
    return eve_killed(b) and alice_lines(b) > b.warmup // CALLS_PER_LINE + 1


def screen_shows(text):
    return lambda b: b.screen_has(text)


# ---- The exercises ----

def grade_1(image):
    # Until Alice has counted two lines while Eve spins.
    b = boot(image, 'alice eve-spin', LIMIT // 10, vary=True,
             until=lambda b: b.screen_has('Eve: spinning')
             and alice_lines(b) > b.warmup // CALLS_PER_LINE + 2)
    if b.panic and 'runs with interrupts off' in b.panic:
        # The timer cannot preempt a process that runs with IF clear:
        # set_user_mode's flags, exercise 2's code, not the timer's.
        return fail('interrupts-off', 'processes run with interrupts off, so no timer interrupt '
                    f'can preempt Eve: give them FL_IF in set_user_mode (PANIC: {b.panic})', 2)
    if b.status != 0:
        return fail('kernel-failed', f'with eve-spin beside Alice {b.what_happened()}')
    alice, eve = b.proc(1), b.proc(2)
    after = alice.syscalls - eve.syscalls
    if eve.syscalls == b.warmup and after >= eve.ticks // 2:
        return ok()
    return fail('alice-starved',
                f'Alice made no progress after Eve started spinning: {after} system calls '
                f'in the {eve.ticks} ticks Eve held the CPU (the timer must call schedule() '
                'when a slice is over)')


def grade_2(image):
    b = boot(image, 'alice eve-cli', LIMIT // 10, vary=True, until=eve_killed)
    stopped = fault_of_eve(b)
    faulted = 'general protection fault' in stopped and fault_rip(stopped) in eve_slot()
    if faulted and b.panic and 'no timer interrupt' in b.panic:
        return fail('interrupts-off', "Eve's cli faulted, but processes run with interrupts "
                    'off, so the timer never fires while one runs: give them FL_IF too '
                    f'(PANIC: {b.panic})')
    if faulted:
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
        b = boot(image, f'alice {program}', LIMIT, vary=True, until=eve_killed_and_alice_on)
        eve, alice = b.proc(2), b.proc(1)
        returned = exception_returned(b)
        if returned:
            return fail('exception-returned', f'after {attack}, {returned}')
        if b.status == 1:
            return fail(outcome, f'{attack} brought the whole machine down: PANIC: {b.panic}')
        if b.status == 0 and eve.state == 'broken' and eve['reason'].startswith(reason) \
                and alice.state == 'runnable' and alice.syscalls > b.warmup + CALLS_PER_LINE:
            return ok()
        return fail(program + '-mishandled', f'after {attack}, Eve is {eve.state} '
                    f'({eve["reason"]}) and Alice made {alice.syscalls} system calls; '
                    f'{b.what_happened()}')
    return grade_it


grade_3 = only_eve_dies('eve-div0', 'divide error', 'kernel-panic', "Eve's division by zero")


def grade_4(image):
    target, name = attack_target(image, 'syscall_entry')
    b = boot(image, f'alice eve-kwrite:{target}', LIMIT // 10, vary=True, until=eve_killed)
    hurt = alice_hurt(b)
    if hurt:
        return fail('alice-hurt', hurt)
    stopped = fault_of_eve(b)
    if not ('page fault' in stopped and f'write to 0x{target:x}' in stopped
            and not b.text_changed()):
        if b.panic and 'stuck' in b.panic:
            return fail('kernel-hung', f'Eve wrote EB FE over the kernel\'s {name} '
                        f'(0x{target:x}) and her next system call hung the kernel: '
                        f'PANIC: {b.panic}')
        return fail('kernel-overwritten', f'Eve wrote over the kernel\'s {name} '
                    f'(0x{target:x}) without a fault; {b.what_happened()}')
    entry, name = attack_target(image, 'kernel_entry', EVERY_SYSCALL_RUNS + ('kernel_start',))
    b2 = boot(image, f'alice eve-kjump:{entry}', LIMIT // 10, vary=True, until=eve_killed)
    stopped = fault_of_eve(b2)
    if 'page fault' in stopped and f'instruction fetch from 0x{entry:x}' in stopped:
        return ok('both of Eve\'s accesses to kernel pages faulted' + panic_note(b2))
    rip = fault_rip(stopped)
    if rip in KERNEL_RANGE:
        return fail('ran-kernel-code', f'Eve ran kernel code at CPL 3 (kernel code is still '
                    f'PTE_U): she called {name} and got to rip=0x{rip:x} before the '
                    f'processor stopped her ({stopped})')
    return fail('kernel-jump-allowed', f'Eve called the kernel\'s {name} (0x{entry:x}) without '
                f'a page fault; {b2.what_happened()}')


def call_refused(b):
    """Eve's call was answered without harm: the run went on, the kernel's
    code is intact, and Eve kept counting after her attack. (Had the kernel
    given her what she asked for, it would have crashed or hung: see
    p-eve-sysname.cc and p-eve-pagealloc.cc.)"""
    eve = b.proc(2)
    return (b.status == 0 and b.integrity is not None and 'text=ok' in b.integrity
            and eve.state == 'runnable' and eve.syscalls > b.warmup + 1)


def integrity_note(b):
    return f'; kernel {b.integrity}' if b.integrity else ''


# Eve's whole line, closing quote included: the screen can be read while
# the kernel is still writing it.
OWN_BUFFER_LINE = re.compile(r'Eve: my own buffer: -?\d+ "[^"]*"')


def own_buffer_line(b):
    return any(OWN_BUFFER_LINE.search(row) for row in b.console)


def grade_5(image):
    target, name = attack_target(image, 'syscall_entry')
    b = boot(image, f'alice eve-sysname:{target}', LIMIT, vary=True,
             until=own_buffer_line)
    if not call_refused(b):
        if b.panic and f'write to 0x{target:x}' in b.panic:
            return fail('kernel-wrote-own-code',
                        f'the kernel wrote "WeensyOS" over its own code at {name} for Eve '
                        f'(it page-faulted only because CR0.WP keeps kernel code read-only, '
                        f'even for the kernel): PANIC: {b.panic}')
        return fail('kernel-wrote-own-code', f'sys_getsysname(0x{target:x}, the kernel\'s '
                    f'{name}) was not refused: {b.what_happened()}{integrity_note(b)}')
    # Eve's own code: hers to read, not to write (at PROC_START_ADDR when
    # every process has the same addresses: exercise 11).
    own = slot_start(1) if same_addresses(b) else slot_start(2)
    b = boot(image, f'alice eve-sysname:{own}', LIMIT, vary=True,
             until=own_buffer_line)
    if not call_refused(b):
        return fail('read-only-buffer', f'sys_getsysname wrote into Eve\'s own code at '
                    f'0x{own:x}, which she may read but not write: the buffer must be '
                    f'writable by her (user_range_ok(..., true)): {b.what_happened()}')
    # A check that refuses every buffer is no defense: her own (an array
    # on her stack) must get the name (proof: a kernel that checked the
    # buffer in the kernel's page table scored).
    if not b.screen_has('Eve: my own buffer: 0 '):
        return fail('own-buffer-refused', 'sys_getsysname refused her own buffer, an array on '
                    'her stack that she may write: check the buffer in the caller\'s page '
                    'table (p->pagetable)')
    return ok()


def same_addresses(b):
    """Whether pids 1 and 2 were loaded at the same address (the problem
    set's overlapping address spaces), from the kernel's log."""
    at = dict(re.findall(r'^proc (\d+): \S+ loaded at (0x[0-9a-f]+)$', '\n'.join(b.log), re.M))
    return '1' in at and at.get('1') == at.get('2')


def eve_answered(b):
    """Eve heard sys_page_alloc's answer and counted a line after it."""
    rows = b.console
    said = [i for i, row in enumerate(rows) if 'Eve: sys_page_alloc returned' in row]
    return bool(said) and any("Hi, I'm Eve! #" in row for row in rows[said[-1]:])


def grade_6(image):
    target, name = attack_target(image, 'syscall_entry')
    page = target & ~(PAGESIZE - 1)
    b = boot(image, f'alice eve-pagealloc:{target}', LIMIT, vary=True, until=eve_answered)
    if not call_refused(b):
        return fail('kernel-page-given',
                    f'sys_page_alloc handed Eve a page of kernel code (0x{page:x}, with '
                    f'{name}): {b.what_happened()}{integrity_note(b)}')
    # Alice's code page: above PROC_START_ADDR, but not Eve's. From
    # exercise 11 on every process has the same addresses, and Eve cannot
    # name Alice's pages: then a page past her own memory (MEMSIZE_VIRTUAL).
    if same_addresses(b):
        past = define('lib.hh', 'MEMSIZE_VIRTUAL')
        b = boot(image, f'alice eve-pagealloc:{past}', LIMIT, vary=True, until=eve_answered)
        if not b.screen_has('sys_page_alloc returned -1'):
            return fail('slot-not-checked', f'sys_page_alloc mapped Eve a page at 0x{past:x}, past '
                        f'her own memory: a process may map pages only in its own slot (its '
                        f'own memory, up to MEMSIZE_VIRTUAL). {b.what_happened()}')
        return ok()
    theirs = slot_start(1)
    b = boot(image, f'alice eve-pagealloc:{theirs}', LIMIT, vary=True, until=eve_answered)
    hurt = alice_hurt(b) or ('' if call_refused(b) else b.what_happened())
    if hurt:
        return fail('slot-not-checked', f'sys_page_alloc gave Eve the page of Alice\'s code '
                    f'(0x{theirs:x}), zeroed: a process may map pages only in its own slot. '
                    f'{hurt}')
    return ok()


grade_7 = only_eve_dies('eve-panic', 'sys_panic', 'machine-stopped', "Eve's sys_panic")


def grade_8(image):
    # The handout's Eve writes Alice's code first, which is read-only
    # anyway, and her stack only in her second life (RESPAWN=1). This one
    # goes for Alice's stack at once, which only a page table of her own
    # keeps from her: so the grade does not depend on exercise 3.
    stack = slot_start(1) + PROC_SLOT_SIZE - 8
    b = boot(image, f'alice eve-clobber:{stack}', LIMIT // 10, respawn=1, vary=True,
             until=lambda b: b.screen_has("Eve: pid 1's memory is mine") or eve_killed(b))
    kills = b.killed(2)
    if any('page fault' in k and f'write to 0x{stack:x} ' in k for k in kills):
        return ok()
    if b.panic and f'write to 0x{stack:x} ' in b.panic:
        return ok(panic_note(b).strip())
    eve = b.proc(2)
    if eve.state == 'runnable':
        return fail('memory-overwritten', f"Eve wrote over Alice's stack at 0x{stack:x} and "
                    'nothing stopped her')
    return fail('clobber-mishandled', f'Eve is {eve.state} ({eve["reason"]}); '
                f'{b.what_happened()}')


def grade_9(image):
    before8 = os.path.join('obj', 'before-8', 'weensyos.img')
    r = subprocess.run(['make', '-s', before8], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, errors='replace',
                       env=clean_env({}))
    if r.returncode != 0:
        return fail('no-before-kernel', 'the kernel before exercise 8 does not build: '
                    + r.stdout.strip()[-300:])
    secret = random.randrange(10**8, 10**9)
    procs = f'alice:{secret} eve-steal'
    b = boot(before8, procs, LIMIT, until=screen_shows(str(secret)))  # ends when it shows
    if not b.screen_has(str(secret)):
        # On a loaded host the screen may be read too seldom to catch the
        # line before Alice's lines scroll it away: a second look, at 5
        # ticks of the steady clock, where it is still on the screen
        # (proof: under make proof, right kernels failed here now and then).
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


def grade(image, numbers, variants=True, seed=None, transcripts=None):
    """{exercise number: Result} for the kernel image `image` (relative to
    the repository root). With variants (the default), the attacks are
    this run's variants, from `seed` (random if None). The exercises that
    `numbers` need (the catalog's needs:) are graded too: while one fails,
    the exercises that need it fail as well, naming it (needs_first).
    `transcripts`: a folder for the logs of boots that failed
    (keep_transcript)."""
    run = GradingRun(seed if seed is not None else random.randrange(2**32)) if variants else None
    graded = prerequisites_of(numbers)

    def one(n):
        _local.run, _local.exercise, _local.transcripts = run, n, transcripts
        _local.console_kill, _local.fault_at, _local.table_shared = '', None, None
        try:
            return n, console_blamed(n, table_blamed(n, fault_blamed(n, GRADERS[n](image))))
        except (OSError, KeyError, ValueError, subprocess.SubprocessError) as e:
            return n, fail('grader-error', f'could not grade: {e!r}')
        finally:
            _local.run = None
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=QEMUS) as pool:
            results = dict(pool.map(one, graded))
    finally:
        if run:
            run.close()
    results = timer_blamed_on_2(results)
    return {n: verdict(n, results) for n in numbers}


def timer_blamed_on_2(results):
    """While exercise 2's grader finds processes running with interrupts
    off, another grader's boot whose timer went silent ("no timer
    interrupt") failed for exercise 2's code, and names it (proof: a
    kernel without FL_IF failed exercises 3, 7 and 11 on their own)."""
    two = results.get(2)
    if not two or two.outcome != 'interrupts-off':
        return results
    return {n: fail(r.outcome, r.why, 2) if n != 2 and not r.passed and r.blames is None
            and 'no timer interrupt' in r.why else r for n, r in results.items()}


def verdict(n, results):
    """Exercise n's Result, told by what every grader found: an earlier
    exercise it needs that fails comes first (needs_first); then its own
    failure (whose sentence names the exercise it blames, if another's); a
    failure another grader found and blames on n's code fails n too, with
    that grader's sentence. No exercise scores that a boot showed broken."""
    r = results[n]
    first = needs_first(n, results)
    if first:
        return first
    if r.passed:
        blamed = [x for m, x in sorted(results.items()) if m != n and not x.passed
                  and x.blames == n]
        if blamed:
            return fail(blamed[0].outcome, blamed[0].why, n)
    if not r.passed and r.blames not in (None, n):
        return fail(r.outcome, f"exercise {r.blames} ({by_number(r.blames).title}) breaks "
                    f'this one: {r.why}', r.blames)
    return r


def prerequisites_of(numbers):
    """`numbers` and every exercise they need, directly or not, in order."""
    found, todo = set(), list(numbers)
    while todo:
        n = todo.pop()
        if n not in found:
            found.add(n)
            todo += by_number(n).prerequisites()
    return sorted(found)


def unsolved_roots(n, results):
    """The failing exercises at the bottom of what exercise n needs: those
    that fail while everything they need passes."""
    roots = []
    for p in by_number(n).prerequisites():
        r = results[p]
        if r.passed or r.blames == n:
            continue                    # (a failure of n's own, found by p's grader)
        if r.blames not in (None, p):
            roots.append(r.blames)
            continue
        below = unsolved_roots(p, results)
        roots += below if below else [p]
    return sorted(set(roots))


def needs_first(n, results):
    """A failed Result naming the unsolved exercises that exercise n needs
    (or, through them, that break what its grader boots), or None."""
    roots = unsolved_roots(n, results)
    if not roots:
        return None
    named = ' and '.join(f'{p} ({by_number(p).title})' for p in roots)
    several = len(roots) > 1
    blames = None if several else roots[0]
    if set(roots) <= set(prerequisites_of([n])):
        return fail('needs-' + '-'.join(map(str, roots)),
                    f'exercise {n} needs exercise{"s" if several else ""} {named}: solve '
                    f'{"them" if several else "it"} first', blames)
    return fail('broken-by-' + '-'.join(map(str, roots)),
                f'exercise {n} cannot be graded while exercise{"s" if several else ""} {named} '
                f'break{"" if several else "s"} what it boots: fix {"them" if several else "it"} '
                f'first', blames)


# ---- make grade ----

def build():
    """Builds the tree; returns None, or what the compiler said."""
    r = subprocess.run(['make', '-s'], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, errors='replace', env=clean_env({}))
    return None if r.returncode == 0 else r.stdout


DIAGNOSTIC = re.compile(r'^(\S+?):\d+:(\d+:)? (fatal error|error|warning|note):')


def first_errors(output, most=5):
    """The compiler's first `most` errors, each with the lines that follow
    it (the code, the caret), those in the student's own files first; or,
    when no line is an error (a link or make failure), its last lines."""
    blocks, block = [], None
    for line in output.strip().splitlines():
        m = DIAGNOSTIC.match(line)
        if m:
            block = [line] if m.group(3) in ('error', 'fatal error') else None
            if block:
                blocks.append((m.group(1), block))
        elif block is not None and not line.startswith(('make', 'In file included', '   from')):
            block.append(line)
    if not blocks:
        return output.strip().splitlines()[-15:]
    blocks.sort(key=lambda b: not student_file(os.path.normpath(b[0])))
    return [line for _, b in blocks[:most] for line in b[:4]]


def handed_out():
    """The exercises this tree hands out: the handout's set (its stamp's
    `exercises:` line), or every exercise in the full tree."""
    try:
        with open(HANDOUT_STAMP) as f:
            m = re.search(r'^exercises: (.*)$', f.read(), re.M)
    except OSError:
        m = None
    return parse_numbers(m.group(1)) if m else [e.number for e in EXERCISES]


def report(numbers, results, given=()):
    """Prints one line per exercise (the given ones too, ungraded), the
    score and `N passed, N failed`; returns whether every one passed."""
    total = sum(by_number(n).points for n in numbers)
    score = 0
    passed = 0
    for ex in EXERCISES:
        n = ex.number
        r = results.get(n)
        label = f'exercise {n}  {ex.title}'
        if n in given and n not in numbers:
            print(f'{label:<46} given (solved in this handout)')
        elif n not in numbers:
            continue
        elif r and r.passed:
            score += ex.points
            passed += 1
            print(f'{label:<46} {ex.points:>2}/{ex.points}  ok' + (f' ({r.why})' if r.why else ''))
        else:
            why = r.why if r else 'not graded: the kernel does not build'
            print(f'{label:<46}  0/{ex.points}  FAIL: {why}')
    print(f'score: {score}/{total} ({100 * score // max(total, 1)}%)')
    print(f'{passed} passed, {len(numbers) - passed} failed')
    return passed == len(numbers)


NOT_BUILT = 'not graded: the kernel does not build (the compiler\'s words are at the top)'


def results_json(numbers, results, seconds, note='', seed=None):
    """Gradescope's autograder results.json: one test per exercise (name,
    number, score, max_score, status, output), the total score, shown as
    plain text (output_format), with the variants' seed recorded. `note`,
    when given, is the top-level output (a build failure, said once)."""
    tests = []
    for n in numbers:
        ex = by_number(n)
        r = results.get(n)
        passed = bool(r and r.passed)
        tests.append({
            'name': f'exercise {n}: {ex.title}',
            'number': str(n),
            'score': float(ex.points if passed else 0),
            'max_score': float(ex.points),
            'status': 'passed' if passed else 'failed',
            'output': (r.why or 'ok') if passed else (r.why if r else NOT_BUILT),
        })
    passed = sum(t['status'] == 'passed' for t in tests)
    output = note or f'{passed} of {len(tests)} exercises passed'
    out = {'score': sum(t['score'] for t in tests), 'execution_time': int(round(seconds)),
           'output': output, 'output_format': 'text', 'test_output_format': 'text',
           'tests': tests}
    if seed is not None:
        out['output'] += (f'\nThe attacks were this run\'s variants, seed {seed} '
                          f'(exercises/grade.py --seed {seed} replays them).')
        out['extra_data'] = {'seed': seed}
    return out


def write_results(path, numbers, results, seconds, note='', seed=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + '.tmp', 'w') as f:
        json.dump(results_json(numbers, results, seconds, note, seed), f, indent=2)
        f.write('\n')
    os.replace(path + '.tmp', path)


def parse_args(args):
    """The command line (argparse: --help, and a one-line error for a bad
    option)."""
    p = Options(
        prog='exercises/grade.py', description='Grades the WeensyOS exercises (make grade).',
        epilog='python3 exercises/grade.py --batch DIR --help: batch grading (make grade-all).')
    p.add_argument('numbers', nargs='*', metavar='N', help='exercises to grade (as --exercises)')
    p.add_argument('--exercises', metavar='LIST',
                   help='"1-3,5" (default: the handout\'s set, or every exercise)')
    p.add_argument('--results', metavar='PATH', help="also write Gradescope's results.json there")
    p.add_argument('--image', metavar='DIR', help='grade DIR/weensyos.img (built elsewhere)')
    p.add_argument('--verbatim', action='store_true',
                   help="boot the handout's attacks as they are (no variants)")
    p.add_argument('--seed', type=int, metavar='N', help="replay the variants of seed N")
    p.add_argument('--transcripts', metavar='DIR',
                   help='keep the whole log of every boot that panicked, hung or reset in DIR')
    p.add_argument('--summary', nargs='+', metavar='RESULTS',
                   help='print a Markdown table of these results.json files (a CI job\'s '
                   'summary), and grade nothing')
    a = p.parse_args(args)
    listed = ','.join(a.numbers) if a.numbers else a.exercises
    try:
        a.numbers = parse_numbers(listed) if listed and listed.strip() else None
    except ValueError as e:
        p.error(f'exercises "{listed}": {e}')
    return a


def summary_table(paths):
    """A Markdown table of the exercises in results.json files `paths` (one
    per Classroom test): points and the grader's sentence; a file that is
    missing is an exercise not graded."""
    rows, score, total = [], 0, 0
    for path in paths:
        try:
            with open(path) as f:
                tests = json.load(f)['tests']
        except (OSError, ValueError, KeyError):
            rows.append(f'| {os.path.basename(path)} | | not graded (the step did not run) |')
            continue
        for t in tests:
            score, total = score + t['score'], total + t['max_score']
            said = ' '.join(t['output'].split()).replace('|', '\\|')
            verdict = 'ok' if t['status'] == 'passed' else 'FAIL'
            rows.append(f'| {t["name"]} | {t["score"]:g}/{t["max_score"]:g} | '
                        + (verdict if said == 'ok' else f'{verdict}: {said}') + ' |')
    return '\n'.join([f'### WeensyOS: {score:g}/{total:g}', '', '| exercise | points | |',
                      '|---|---|---|'] + rows)


def main(argv):
    args = argv[1:]
    if args[:1] == ['--batch']:
        try:
            import batch
        except ModuleNotFoundError:
            print('grade.py --batch: batch grading is in the course\'s full tree, not in a '
                  'student handout (make grade grades this tree)', file=sys.stderr)
            return 2
        return batch.main(args[1:])
    a = parse_args(args)
    if a.summary:
        print(summary_table(a.summary))
        return 0
    handout_set = handed_out()
    numbers = a.numbers or handout_set
    image = os.path.join(a.image, 'weensyos.img') if a.image else 'weensyos.img'
    results_path = a.results and os.path.abspath(a.results)
    seed = None if a.verbatim else (a.seed if a.seed is not None else random.randrange(2**32))
    given = [e.number for e in EXERCISES if e.number not in handout_set]
    started = time.monotonic()
    if image == 'weensyos.img':
        errors = build()
        if errors is not None:
            quoted = '\n'.join('  ' + l for l in first_errors(errors))
            print('The kernel does not build; the compiler said:\n' + quoted)
            report(numbers, {}, given)
            if results_path:
                write_results(results_path, numbers, {}, time.monotonic() - started,
                              'The kernel does not build; the compiler said:\n' + quoted)
            return 1
    print(f'Grading {image}, exercises {describe_numbers(numbers)}: each boots its attack '
          'beside Alice' + (f' (variants: seed {seed})' if seed is not None else ''), flush=True)
    results = grade(image, numbers, not a.verbatim, seed,
                    a.transcripts and os.path.abspath(a.transcripts))
    passed = report(numbers, results, given)
    if results_path:
        write_results(results_path, numbers, results, time.monotonic() - started, seed=seed)
    return 0 if passed else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
