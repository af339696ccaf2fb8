"""summary.py: what the grader (exercises/grade.py) and the test suite
(the full tree's tests/) both know about a WeensyOS boot: the memory layout and
the constants they compare against, read from the headers; the run settings
every headless boot gets; and the one reader of the summary a headless run
prints (the CONTRACT's "Headless runs").

Nothing here is typed twice: a number the kernel or a program defines is
read from its header, so a change there reaches both readers."""
import argparse
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(path):
    """The text of a file of the tree (a path relative to its top)."""
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def define(path, name):
    """The value of `#define NAME VALUE` in a source file: a number (with
    any U/L suffix dropped) or a string literal's text."""
    m = re.search(r'^#define\s+' + name + r'\s+(\S+)', read(path), re.M)
    if not m:
        raise KeyError(f'no #define {name} in {path}')
    value = m.group(1)
    return value.strip('"') if value.startswith('"') else int(value.rstrip('UL'), 0)


# ---- The memory layout and the programs' constants (lib.hh, u-*.hh) ----

KERNEL_START_ADDR = define('lib.hh', 'KERNEL_START_ADDR')
KERNEL_STACK_TOP = define('lib.hh', 'KERNEL_STACK_TOP')
KERNEL_RANGE = range(KERNEL_START_ADDR, KERNEL_STACK_TOP)     # code, data, stack
CONSOLE_ADDR = define('lib.hh', 'CONSOLE_ADDR')
PROC_START_ADDR = define('lib.hh', 'PROC_START_ADDR')
PROC_SLOT_SIZE = define('lib.hh', 'PROC_SLOT_SIZE')
MAX_PROCS = define('lib.hh', 'MAX_PROCS')
MEMSIZE_PHYSICAL = define('lib.hh', 'MEMSIZE_PHYSICAL')
CONSOLE_ROWS = define('lib.hh', 'CONSOLE_ROWS')
CONSOLE_COLUMNS = define('lib.hh', 'CONSOLE_COLUMNS')
SYSNAME = define('lib.hh', 'SYSNAME')
PAGESIZE = define('x86-64.h', 'PAGESIZE')
# Alice and every Eve print a line every ITERATIONS_PER_LINE iterations,
# one sys_yield each (u-lib.hh).
CALLS_PER_LINE = define('u-lib.hh', 'ITERATIONS_PER_LINE')
# Eve's system calls (yields) before she attacks, unless her PROCS argument
# chooses another warm-up (u-eve.hh).
EVE_WARMUP_LINES = define('u-eve.hh', 'EVE_WARMUP_LINES')
EVE_WARMUP = EVE_WARMUP_LINES * CALLS_PER_LINE


def slot_start(pid):
    """The first address of process `pid`'s slot."""
    return PROC_START_ADDR + (pid - 1) * PROC_SLOT_SIZE


def slot(pid):
    """The addresses of process `pid`'s slot."""
    return range(slot_start(pid), slot_start(pid) + PROC_SLOT_SIZE)


# ---- Run settings ----

# For boots that measure how much a process got done: QEMU's icount makes
# guest time follow guest instructions (64 ns each), so a tick is the same
# amount of guest work however loaded the host is.
STEADY_CLOCK = '-icount shift=6'

# Make passes these to the commands it runs; under `make check` or `make
# grade` they would carry that make's command line into the makes and
# boots started from there.
MAKE_VARIABLES = ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES', 'MAKE_TERMOUT',
                  'MAKE_TERMERR')


def clean_env(run_settings):
    """This process's environment without make's own variables, with every
    run setting as `run_settings` says: nothing from the caller's
    environment or config.mk decides how the boot runs."""
    env = {k: v for k, v in os.environ.items() if k not in MAKE_VARIABLES}
    env.update({k: str(v) for k, v in run_settings.items()})
    return env


# ---- The summary ----

class Proc:
    """One `proc <pid> <name> <state> ticks=N syscalls=N [key=value ...]
    [reason="..."]` line. Known fields are attributes (cpu, pages, parent,
    reason: None when the line has none); every key=value is in `fields`.
    Indexing (p['state'], as the graders read it) gives the same, with ''
    for no reason."""
    LINE = re.compile(r'^proc (\d+) (\S+) (runnable|exited|broken) ticks=(\d+) syscalls=(\d+)'
                      r'((?: [a-z_]+=\S+)*)(?: reason="([^"]*)")?$')

    def __init__(self, m):
        self.pid = int(m.group(1))
        self.name = m.group(2)
        self.state = m.group(3)
        self.ticks = int(m.group(4))
        self.syscalls = int(m.group(5))
        self.fields = dict(kv.split('=', 1) for kv in m.group(6).split())
        self.reason = m.group(7)
        for key in ('cpu', 'pages', 'parent'):
            setattr(self, key, int(self.fields[key]) if key in self.fields else None)

    @classmethod
    def missing(cls, pid):
        """A stand-in for a process the summary does not list."""
        return cls(cls.LINE.match(f'proc {pid} ? exited ticks=0 syscalls=0'))._as('missing')

    def _as(self, state):
        self.state = state
        return self

    def __getitem__(self, key):
        value = getattr(self, key)
        return '' if key == 'reason' and value is None else value

    def __repr__(self):
        return (f'proc {self.pid} {self.name} {self.state} ticks={self.ticks} '
                f'syscalls={self.syscalls} reason={self.reason!r}')


class Summary:
    """A headless run's output, read: the kernel's log and its summary.

    The CONSOLE_ROWS rows after a block's `console:` line are screen text,
    which any process can write (a hostile test program paints a whole
    summary there), so they are taken as screen rows and nothing
    else: never as a summary, `proc`, `kernel` or log line. The last
    complete block is the summary (a panic while printing one prints
    another); with none complete, the first incomplete one."""

    def __init__(self, lines):
        self.lines = lines
        self.log_lines = []
        self.ticks = None
        self.procs = {}
        self.integrity = None   # the `kernel ...` line, without `kernel `
        self.memory = {}        # the problem set's `memory free=N ...` line
        self.console = []
        found = False
        i = 0
        while i < len(lines):
            if not lines[i].startswith('summary: ticks='):
                self.log_lines.append(lines[i])
                i += 1
                continue
            block, i = self._block(i)
            if block['complete'] or not found:
                found = block['complete']
                for key in ('ticks', 'procs', 'integrity', 'memory', 'console'):
                    setattr(self, key, block[key])
        self.panic = next((l[len('PANIC: '):] for l in self.log_lines if l.startswith('PANIC: ')),
                          None)

    def _block(self, i):
        """The summary block whose first line is lines[i], and the index of
        the first line after it."""
        lines = self.lines
        m = re.match(r'^summary: ticks=(\d+)$', lines[i])
        block = {'ticks': int(m.group(1)) if m else None, 'procs': {}, 'integrity': None,
                 'memory': {}, 'console': [], 'complete': False}
        i += 1
        while i < len(lines) and lines[i] != 'console:' and not lines[i].startswith('summary: '):
            line = lines[i]
            m = Proc.LINE.match(line)
            if m:
                p = Proc(m)
                block['procs'][p.pid] = p
            elif line.startswith('kernel '):
                block['integrity'] = line[len('kernel '):]
            elif line.startswith('memory '):
                block['memory'] = {k: int(v) if v.isdigit() else v for k, v in
                                   (kv.split('=', 1) for kv in line.split()[1:] if '=' in kv)}
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

    def killed(self, pid=None):
        """Reasons of every `proc N killed: ...` log line (for pid, if given).
        Only the log: the screen rows repeat the message, and a process can
        write anything there."""
        out = []
        for l in self.log_lines:
            m = re.match(r'^proc (\d+) killed: (.*)$', l)
            if m and (pid is None or int(m.group(1)) == pid):
                out.append(m.group(2))
        return out

    def screen_has(self, text):
        return any(text in row for row in self.console)


# ---- The command line of every tool (grade.py, the course's own, the tests) ----

class Options(argparse.ArgumentParser):
    """argparse with --help, whose error for a bad option or value is one
    line: `PROG: WHAT (PROG --help lists the options)`, exit status 2."""

    def error(self, message):
        self.exit(2, f'{self.prog}: {message} ({self.prog} --help lists the options)\n')
