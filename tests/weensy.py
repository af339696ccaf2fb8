"""weensy.py: the WeensyOS test framework.

A test is a function registered with @test("what it checks"). It receives a
`T`, boots scenarios with t.boot(...), and states what must hold with
t.check(...). t.boot() runs `run-qemu headless` (the engine behind
`make run-headless`) and parses the summary the kernel prints; it also checks
on every boot that the exit status is the expected one and that the kernel's
integrity line reads `kernel text=ok pagetables=ok`.

Boots run in parallel (tests/run.py), at most one QEMU per core at a time.
"""
import os
import re
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORES = os.cpu_count() or 1
qemu_slots = threading.BoundedSemaphore(CORES)

TESTS = []

# For boots that check how much a process got done: QEMU's icount makes
# guest time follow guest instructions (64 ns each), so a tick is the same
# amount of guest work however loaded the host is.
STEADY_CLOCK = '-icount shift=6'

# The screen rows a summary's console section holds (lib.hh's CONSOLE_ROWS).
CONSOLE_ROWS = 25


def test(name):
    """Registers a test function under a sentence that says what it checks."""
    def register(fn):
        TESTS.append((name, fn))
        return fn
    return register


class TestFailure(Exception):
    pass


class Proc:
    """One `proc <pid> <name> <state> ticks=N syscalls=N cpu=US [reason="..."]`
    line (cpu: microseconds it ran)."""
    LINE = re.compile(r'^proc (\d+) (\S+) (runnable|exited|broken) ticks=(\d+) '
                      r'syscalls=(\d+)(?: cpu=(\d+))?(?: reason="([^"]*)")?$')

    def __init__(self, m):
        self.pid = int(m.group(1))
        self.name = m.group(2)
        self.state = m.group(3)
        self.ticks = int(m.group(4))
        self.syscalls = int(m.group(5))
        self.cpu = int(m.group(6)) if m.group(6) is not None else None
        self.reason = m.group(7)

    def __repr__(self):
        return (f'proc {self.pid} {self.name} {self.state} ticks={self.ticks} '
                f'syscalls={self.syscalls} reason={self.reason!r}')


class Boot:
    """The outcome of one headless boot: exit status, log, parsed summary."""

    def __init__(self, args, status, output, stderr, seconds):
        self.args = args
        self.status = status
        self.output = output
        self.stderr = stderr
        self.seconds = seconds
        self.lines = output.splitlines()
        self.ticks = None
        self.procs = {}
        self.integrity = None
        self.console = []
        self._parse_summary()

    def _parse_summary(self):
        """Splits the output into the kernel's log and its summary blocks.
        The 25 rows after a block's `console:` line are screen text, which
        any process can write (p-eve-forge.cc paints a whole summary there),
        so they are taken as screen rows and nothing else: never as a
        summary, `proc`, `kernel` or log line. The last complete block is
        the summary (a panic while printing one prints another)."""
        self.log_lines = []
        found = False
        i = 0
        while i < len(self.lines):
            if not self.lines[i].startswith('summary: ticks='):
                self.log_lines.append(self.lines[i])
                i += 1
                continue
            block, i = self._summary_block(i)
            if block['complete'] or not found:
                found = block['complete']
                self.ticks, self.procs = block['ticks'], block['procs']
                self.integrity, self.console = block['integrity'], block['console']

    def _summary_block(self, i):
        """Parses the summary block whose first line is self.lines[i];
        returns it and the index of the first line after it."""
        lines = self.lines
        m = re.match(r'^summary: ticks=(\d+)$', lines[i])
        block = {'ticks': int(m.group(1)) if m else None, 'procs': {}, 'integrity': None,
                 'console': [], 'complete': False}
        i += 1
        while i < len(lines) and lines[i].startswith('proc '):
            m = Proc.LINE.match(lines[i])
            if m:
                p = Proc(m)
                block['procs'][p.pid] = p
            i += 1
        if i < len(lines) and lines[i].startswith('kernel '):
            block['integrity'] = lines[i][len('kernel '):]
            i += 1
        if i < len(lines) and lines[i] == 'console:':
            block['console'] = lines[i + 1:i + 1 + CONSOLE_ROWS]
            i += 1 + len(block['console'])
            if len(block['console']) == CONSOLE_ROWS and i < len(lines) \
                    and lines[i] == 'end-summary':
                block['complete'] = block['ticks'] is not None
                i += 1
        return block, i

    def proc(self, pid):
        return self.procs.get(pid)

    @property
    def log(self):
        """The kernel's log: everything but the summary (and its screen rows)."""
        return '\n'.join(self.log_lines)

    def killed(self, pid=None):
        """Reasons of every `proc N killed: ...` log line (for pid, if given)."""
        out = []
        # Only the log: the screen rows in the summary repeat the message
        # (and a process can write anything there).
        for l in self.log_lines:
            m = re.match(r'^proc (\d+) killed: (.*)$', l)
            if m and (pid is None or int(m.group(1)) == pid):
                out.append(m.group(2))
        return out

    def memory_map(self):
        """The last physical memory map in the log: {address: character},
        one entry per 4096-byte page."""
        pages = {}
        for l in self.lines:
            if l.startswith('physical memory, one character per page:'):
                pages = {}
            m = re.match(r'^0x([0-9a-f]{6}) (\S+)$', l)
            if m:
                base = int(m.group(1), 16)
                for i, c in enumerate(m.group(2)):
                    pages[base + i * 4096] = c
        return pages

    def console_numbers(self, who, collapse_repeats=True):
        """The N of every "Hi, I'm <who>! #N" line on the final screen. The
        kernel reads the screen when the run ends, possibly while a process
        is in the middle of scrolling it; the rows already moved up and the
        rows not yet moved then show one row twice, so (unless the test
        expects identical neighbours) a row equal to the one above it is
        skipped."""
        pat = re.compile(r"Hi, I'm " + re.escape(who) + r"! #(\d+)")
        rows = [l for i, l in enumerate(self.console)
                if not collapse_repeats or i == 0 or l != self.console[i - 1]]
        return [int(m.group(1)) for l in rows for m in pat.finditer(l)]

    def describe(self, tail=40):
        shown = self.lines[-tail:]
        return (f'  boot: {" ".join(self.args)}  (exit {self.status}, {self.seconds:.1f}s)\n'
                + (f'  stderr: {self.stderr.strip()}\n' if self.stderr.strip() else '')
                + '\n'.join('  | ' + l for l in shown))


def boot(procs='alice eve', ticks=50, hz=None, respawn=None, timeout=30,
         qemuextra=None, env_extra=None):
    """Boots headless with these settings and returns a Boot."""
    env = dict(os.environ)
    env.update(PROCS=procs, TICKS=str(ticks), TIMEOUT=str(timeout))
    if hz is not None:
        env['HZ'] = str(hz)
    if respawn is not None:
        env['RESPAWN'] = str(respawn)
    env['QEMUEXTRA'] = qemuextra or ''
    if env_extra:
        env.update(env_extra)
    args = [f'PROCS="{procs}"', f'TICKS={ticks}'] + \
        ([f'HZ={hz}'] if hz else []) + ([f'RESPAWN={respawn}'] if respawn is not None else []) + \
        ([f'QEMUEXTRA="{qemuextra}"'] if qemuextra else [])
    with qemu_slots:
        t0 = time.monotonic()
        r = subprocess.run([os.path.join(ROOT, 'run-qemu'), 'headless'], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           errors='replace', timeout=timeout + 30)
        seconds = time.monotonic() - t0
    return Boot(args, r.returncode, r.stdout, r.stderr, seconds)


class T:
    """What a test function receives."""

    def __init__(self, name):
        self.name = name
        self.boots = []

    def fail(self, message):
        detail = '\n'.join(b.describe() for b in self.boots[-1:])
        raise TestFailure(message + ('\n' + detail if detail else ''))

    def check(self, condition, message):
        if not condition:
            self.fail(message)

    def boot(self, procs='alice eve', ticks=50, status=0, summary=True, **kw):
        """Boots, and checks the exit status (None: any) and, unless the run
        is expected to end without a summary, the kernel's integrity line."""
        b = boot(procs, ticks, **kw)
        self.boots.append(b)
        if status is not None:
            self.check(b.status == status,
                       f'expected exit status {status}, got {b.status}')
        if summary and b.status in (0, 1):
            self.check(b.integrity == 'text=ok pagetables=ok',
                       f'kernel integrity line is {b.integrity!r}, not "text=ok pagetables=ok"')
        return b

    def proc(self, b, pid, name=None, state=None):
        """Returns process `pid` of boot `b`, checking its name and state."""
        p = b.proc(pid)
        self.check(p is not None, f'no summary line for proc {pid}')
        if name is not None:
            self.check(p.name == name, f'proc {pid} is {p.name}, expected {name}')
        if state is not None:
            self.check(p.state == state,
                       f'proc {pid} ({p.name}) is {p.state}, expected {state}'
                       + (f' (reason: {p.reason})' if p.reason else ''))
        return p

    def run(self, cmd, timeout=120, **kw):
        """Runs a host command in the repository; returns CompletedProcess."""
        return subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              errors='replace', timeout=timeout, **kw)
