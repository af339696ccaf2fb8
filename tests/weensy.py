"""weensy.py: the WeensyOS test framework.

A test is a function registered with @test("what it checks"), or one row of
a table registered with @cases(rows). It receives a `T`, boots scenarios
with t.boot(...), and states what must hold with t.check(...). t.boot() runs
`run-qemu headless` (the engine behind `make run-headless`) and parses the
summary the kernel prints; it also checks on every boot that the exit status
is the expected one and that the kernel's integrity line reads
`kernel text=ok pagetables=ok memory=ok`.

Every boot and every make the tests start sets every run setting itself
(settings()), so neither the environment nor a config.mk changes what a test
sees. What the tests compare against (slot size, warm-up length, symbol and
instruction addresses) is read from the sources and the build.

Boots run in parallel (tests/run.py), at most one QEMU per core at a time.
"""
import atexit
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORES = os.cpu_count() or 1
qemu_slots = threading.BoundedSemaphore(CORES)


# ---- Registering tests ----

class Test:
    """One registered test: its sentence, its function, its file, and
    whether it is one of the slow proofs (`make proof`) rather than the
    fast gate (`make check`)."""

    def __init__(self, sentence, fn, file, proof):
        self.sentence, self.fn, self.file, self.proof = sentence, fn, file, proof


TESTS = []
# The test file being loaded (set by tests/run.py), recorded with each test.
loading = None


def test(sentence, proof=False):
    """Registers a test function under a sentence that says what it checks.
    proof=True: a slow proof (a whole tree copied and built, a handout made
    and graded), run by `make proof`, not `make check`; so is every test in
    a tests/proof_*.py file."""
    def register(fn):
        TESTS.append(Test(sentence, fn, loading,
                          proof or os.path.basename(loading or '').startswith('proof_')))
        return fn
    return register


def cases(rows, proof=False):
    """Registers the decorated function as one test per row of a table,
    under the row's `sentence`; each test calls fn(t, row)."""
    def register(fn):
        for row in rows:
            test(row.sentence, proof)(lambda t, row=row: fn(t, row))
        return fn
    return register


# ---- What the tests compare against: the sources ----

def program_source(name):
    """The path of program NAME's source p-NAME.cc, at the top of the tree
    or among the test programs in tests/programs/."""
    for folder in ('', 'tests/programs'):
        path = os.path.join(folder, f'p-{name}.cc')
        if os.path.isfile(os.path.join(ROOT, path)):
            return path
    raise FileNotFoundError(f'no p-{name}.cc at the top of the tree or in tests/programs/')


# The layout and the constants (slot size, the warm-up, ...), the run
# settings' shared part and the summary reader are the grader's too:
# exercises/summary.py.
sys.path.insert(0, os.path.join(ROOT, 'exercises'))
from summary import (CALLS_PER_LINE, CONSOLE_ADDR, CONSOLE_ROWS, EVE_WARMUP,  # noqa: E402,F401
                     KERNEL_START_ADDR, MAKE_VARIABLES, MAX_PROCS, MEMSIZE_PHYSICAL, PAGESIZE,
                     PROC_SLOT_SIZE, PROC_START_ADDR, STEADY_CLOCK, SYSNAME, Proc, Summary,
                     define, read, slot_start)
import summary  # noqa: E402
CONSOLE_COLUMNS = define('lib.hh', 'CONSOLE_COLUMNS')
SLOT_PROCS = define('lib.hh', 'SLOT_PROCS')     # the lecture's kernels' slots


def slot_offset(pid):
    """How far process `pid` is moved from the slot-1 addresses its program
    is linked at."""
    return slot_start(pid) - slot_start(1)


# ---- What the tests compare against: the build's listings ----

def symbols(sym_file):
    """[(address, name)] of obj/<sym_file> (`nm -n -C`), in address order."""
    return [(int(line.split()[0], 16), line.split(None, 2)[2])
            for line in read(os.path.join('obj', sym_file)).splitlines()
            if len(line.split()) >= 3]


def symbol(sym_file, name):
    """The address of symbol `name` in obj/<sym_file>."""
    for address, symbol_name in symbols(sym_file):
        if symbol_name == name:
            return address
    raise KeyError(f'{name} is not in obj/{sym_file}')


def kernel_symbol(name):
    """The address of kernel symbol `name`, from obj/kernel.sym."""
    return symbol('kernel.sym', name)


def program_symbol(program, name):
    """The link-time (slot 1) address of `name` in obj/p-PROGRAM.sym."""
    return symbol(f'p-{program}.sym', name)


def function_range(program, name):
    """[start, end) of C++ function `name` in obj/p-PROGRAM.sym, at link time."""
    table = symbols(f'p-{program}.sym')
    for i, (address, symbol_name) in enumerate(table):
        if symbol_name.startswith(name + '('):
            return address, table[i + 1][0]
    raise KeyError(f'{name} is not in obj/p-{program}.sym')


def instruction_address(program, pattern):
    """The link-time address of the one instruction in obj/p-PROGRAM.asm
    matching `pattern` (a regular expression)."""
    listing = read(f'obj/p-{program}.asm')
    found = [int(m.group(1), 16) for m in re.finditer(r'^\s*([0-9a-f]+):\t(.*)$', listing, re.M)
             if re.search(pattern, m.group(2))]
    if len(found) != 1:
        raise KeyError(f'{len(found)} instructions match {pattern!r} in obj/p-{program}.asm')
    return found[0]


# ---- Run settings ----

# The steady clock (STEADY_CLOCK, from summary.py), with idle time skipped:
# when no process is runnable (killed ones waiting to restart, say) guest
# time jumps to the next timer tick, so a run through hundreds of
# backed-off restarts takes no longer than the work in it.
RESTART_CLOCK = STEADY_CLOCK + ',sleep=off'

# Every setting a run or a build reads from the environment or config.mk,
# with the value the tests use unless a test says otherwise.
# (BEFORE chooses the kernel booted; LOAD, LIST and ONLY steer a `make
# check` a test runs.)
DEFAULT_SETTINGS = {
    'PROCS': 'alice eve', 'TICKS': '50', 'HZ': '100', 'RESPAWN': '0', 'TIMEOUT': '30',
    'QEMUEXTRA': '', 'D': '0', 'LOG': 'file', 'GDBPORT': '12949', 'V': '0', 'VIEW': 'console',
    'PTSWITCH': '0', 'AUDIT': '0', 'BEFORE': '', 'LOAD': '0', 'LIST': '0', 'ONLY': '',
}


def settings(**chosen):
    """Every run setting: the tests' defaults, with `chosen` ones
    (PROCS='alice', HZ=1000, ...) instead."""
    unknown = set(chosen) - set(DEFAULT_SETTINGS)
    if unknown:
        raise KeyError(f'not run settings: {sorted(unknown)}')
    return {**DEFAULT_SETTINGS, **{k: str(v) for k, v in chosen.items()}}


def clean_env(run_settings=None):
    """The environment for a command a test runs: this one, without make's
    own variables, and with every run setting as `run_settings` (default:
    settings()) says. IMAGE, which make exports to run-qemu and which would
    choose another kernel, goes too unless `run_settings` sets it."""
    run_settings = run_settings or settings()
    env = summary.clean_env(run_settings)
    if 'IMAGE' not in run_settings:
        env.pop('IMAGE', None)
    return env


def make_command(*words, **chosen):
    """`make WORDS...` with every run setting (settings(**chosen)) on its
    command line, where it overrides config.mk as well as the environment;
    a setting among WORDS (`BEFORE=2`) comes after them, and wins."""
    return ['make', *(f'{k}={v}' for k, v in settings(**chosen).items()), *words]


def describe_settings(run_settings):
    """The settings as shell assignments: `PROCS='alice eve' TICKS=50 ...`."""
    return ' '.join(f'{k}={shlex.quote(v)}' for k, v in run_settings.items())


def run(cmd, cwd=ROOT, timeout=120, run_settings=None):
    """Runs a host command in `cwd` with clean_env(run_settings); returns
    (exit status, output with stderr, seconds)."""
    started = time.monotonic()
    try:
        r = subprocess.run(cmd, cwd=cwd, env=clean_env(run_settings), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, errors='replace', timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.output.decode(errors='replace') if isinstance(e.output, bytes) else (e.output or '')
        return None, f'{out}\n(`{" ".join(cmd)}` did not end within {timeout} s)', timeout
    return r.returncode, r.stdout, time.monotonic() - started


def copy_sources(dest):
    """Copies into `dest` the files a fresh clone would have, new files not
    yet added (untracked but not ignored), and the local settings
    (config.mk), which hold the toolchain a machine needs (CCPREFIX)."""
    listed = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True).stdout
    for name in sorted(set(listed.split('\0')) - {''} | {'config.mk'}):
        if os.path.isfile(os.path.join(ROOT, name)):
            os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, name), os.path.join(dest, name))


@contextlib.contextmanager
def autograder_zip(t, exercises):
    """`make autograder EXERCISES=exercises` in a new temporary folder
    (removed afterwards): (the folder, the zip's path)."""
    tmp = tempfile.mkdtemp(prefix='weensy-autograder-')
    try:
        zip_path = os.path.join(tmp, 'autograder.zip')
        status, out, _ = run(make_command('-s', 'autograder', f'EXERCISES={exercises}', f'OUT={zip_path}'))
        t.check(status == 0, f'make autograder failed:\n{out}')
        yield tmp, zip_path
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def autograde(zip_path, root, upload, settings=None):
    """Gradescope's run of autograder zip `zip_path` in the simulated root
    `root` (AUTOGRADER_ROOT): unpacked into root/source, `upload(folder)`
    fills root/submission, run_autograder grades it, with `settings` in its
    environment. (results.json as a dict, run_autograder's output)."""
    os.makedirs(os.path.join(root, 'source'))
    # As Gradescope unpacks it: with the files' modes.
    subprocess.run(['unzip', '-q', zip_path, '-d', os.path.join(root, 'source')], check=True)
    os.makedirs(os.path.join(root, 'submission'))
    upload(os.path.join(root, 'submission'))
    with qemu_slots:
        _, out, _ = run([os.path.join(root, 'source', 'run_autograder')], cwd=root, timeout=300,
                        run_settings={'AUTOGRADER_ROOT': root, **(settings or {})})
    with open(os.path.join(root, 'results', 'results.json')) as f:
        return json.load(f), out


def fresh_copy(prefix='weensyos-copy-'):
    """A new temporary copy of the sources (copy_sources), removed when the
    tests end."""
    dest = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, dest, True)
    copy_sources(dest)
    return dest


def process_stat(pid):
    """(state, parent pid, process group) of host process `pid`, from
    /proc; None once it is gone."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return fields[0], int(fields[1]), int(fields[2])
    except (OSError, IndexError, ValueError):
        return None


def process_running(pid):
    """Whether host process `pid` exists and has not ended (a zombie has)."""
    stat = process_stat(pid)
    return stat is not None and stat[0] != 'Z'


def processes():
    """{pid: (state, parent pid, process group)} of every host process."""
    table = {}
    for entry in os.listdir('/proc'):
        stat = process_stat(int(entry)) if entry.isdigit() else None
        if stat:
            table[int(entry)] = stat
    return table


# ---- Boots ----

class Boot(Summary):
    """The outcome of one headless boot: its settings, exit status, output
    (with each line's arrival time, in seconds from the start), and what
    Summary reads from it (log_lines, procs, integrity, console, ...)."""

    def __init__(self, run_settings, status, lines, stderr, seconds, arrivals=None, note=''):
        self.settings = run_settings
        self.note = note
        self.status = status
        self.arrivals = arrivals or []
        self.stderr = stderr
        self.seconds = seconds
        super().__init__(lines)

    @property
    def log(self):
        """The kernel's log: everything but the summary (and its screen rows)."""
        return '\n'.join(self.log_lines)

    def when(self, prefix):
        """Seconds from the start of the boot to the first output line
        starting with `prefix` (None if there is none)."""
        return next((s for s, l in zip(self.arrivals, self.lines) if l.startswith(prefix)), None)

    def kill_count(self, pid):
        """How many times process `pid` was killed: its `proc N killed:`
        lines, plus the kills the log only counted (`proc N: NAME killed K
        more times since tick T, ...`, once a process restarted with
        RESPAWN has had a few lives)."""
        counted = 0
        for l in self.log_lines:
            m = re.match(r'^proc (\d+): \S+ killed (\d+) more times since tick ', l)
            if m and int(m.group(1)) == pid:
                counted += int(m.group(2))
        return len(self.killed(pid)) + counted

    def memory_map(self):
        """The last physical memory map in the log: {address: character},
        one entry per page."""
        pages = {}
        for l in self.lines:
            if l.startswith('physical memory, one character per page:'):
                pages = {}
            m = re.match(r'^0x([0-9a-f]{6}) (\S+)$', l)
            if m:
                base = int(m.group(1), 16)
                for i, c in enumerate(m.group(2)):
                    pages[base + i * PAGESIZE] = c
        return pages

    def console_matches(self, pattern):
        """The matches of `pattern` against each console row that it matches."""
        return [m for m in (re.match(pattern, row) for row in self.console) if m]

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
        """Every setting of the boot, its exit status, and its last lines."""
        shown = self.lines[-tail:]
        return (f'  boot: {describe_settings(self.settings)}'
                + (f'; {self.note}' if self.note else '')
                + f'  (exit {self.status}, {self.seconds:.1f}s)\n'
                + (f'  stderr: {self.stderr.strip()}\n' if self.stderr.strip() else '')
                + '\n'.join('  | ' + l for l in shown))


def boot_settings(procs='alice eve', ticks=50, hz=100, respawn=0, timeout=30, qemuextra='',
                  view='console', ptswitch=0, audit=0):
    """The run settings of a headless boot with these choices (view='map':
    the live screen, as `make run` shows it)."""
    return settings(PROCS=procs, TICKS=ticks, HZ=hz, RESPAWN=respawn, TIMEOUT=timeout,
                    QEMUEXTRA=qemuextra, VIEW=view, PTSWITCH=ptswitch, AUDIT=audit)


def boot(procs='alice eve', ticks=50, tree=ROOT, image=None, **chosen):
    """Boots `tree` headless with these settings (see boot_settings) and
    returns a Boot. `image`: another disk image of the tree's to boot
    (obj/before-K/weensyos.img, a lecture's kernel)."""
    run_settings = boot_settings(procs, ticks, **chosen)
    if image:
        run_settings['IMAGE'] = image
    return headless(run_settings, tree)


def headless(run_settings, tree=ROOT, note='', before_wait=None, on_line=None):
    """Runs `tree`'s `run-qemu headless` with exactly `run_settings`,
    holding a QEMU slot, and returns a Boot. `before_wait(process)`, if
    given, runs once QEMU is starting (for example to attach a debugger);
    `on_line(line)`, if given, sees each output line as it arrives."""
    limit = int(run_settings['TIMEOUT']) + 30
    with qemu_slots:
        started = time.monotonic()
        q = subprocess.Popen([os.path.join(tree, 'run-qemu'), 'headless'], cwd=tree,
                             env=clean_env(run_settings), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, errors='replace',
                             start_new_session=True)
        # run-qemu ends QEMU after TIMEOUT; this is for run-qemu itself.
        guard = threading.Timer(limit, os.killpg, (q.pid, signal.SIGKILL))
        guard.start()
        stderr = []
        reader = threading.Thread(target=lambda: stderr.append(q.stderr.read()))
        reader.start()
        try:
            if before_wait:
                before_wait(q)
            lines, arrivals = [], []
            for line in q.stdout:
                arrivals.append(time.monotonic() - started)
                lines.append(line.rstrip('\n'))
                if on_line:
                    on_line(lines[-1])
            status = q.wait()
        finally:
            guard.cancel()
            if q.poll() is None:
                os.killpg(q.pid, signal.SIGKILL)
                q.wait()
            reader.join()
        seconds = time.monotonic() - started
    return Boot(run_settings, status, lines, ''.join(stderr), seconds, arrivals, note)



def boot_with_gdb(procs, port, gdb_commands, tree=ROOT, ticks=1000, timeout=20):
    """Boots `tree` headless, stopped for GDB (QEMU's stub on `port`); GDB,
    with the kernel's symbols, runs `gdb_commands` and detaches. Returns
    (Boot, what GDB printed)."""
    gdb = ['gdb', '-nx', '-q', '-batch', '-ex', 'set confirm off', '-ex', 'file obj/kernel.full',
           '-ex', f'target remote 127.0.0.1:{port}']
    for c in list(gdb_commands) + ['detach']:
        gdb += ['-ex', c]
    session = {}

    def attach(qemu):
        # GDB retries connecting until QEMU listens.
        session['out'] = run(gdb, tree, timeout=timeout + 20)[1]
    b = headless(boot_settings(procs, ticks=ticks, timeout=timeout,
                               qemuextra=f'-gdb tcp:127.0.0.1:{port} -S'),
                 tree, note='GDB: ' + '; '.join(gdb_commands), before_wait=attach)
    return b, session.get('out', '')


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on now (the system's
    choice)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def repeated_phrase(text, words=4):
    """The first run of `words` words that `text` says twice (case and
    punctuation aside), or None: a grader's line never repeats a phrase."""
    seq = re.findall(r"[\w'/.%-]+", text.lower())
    seen = set()
    for i in range(len(seq) - words + 1):
        phrase = ' '.join(seq[i:i + words])
        if phrase in seen:
            return phrase
        seen.add(phrase)
    return None


class Monitor:
    """QEMU's human monitor on a Unix socket: a command, then its answer up
    to the next prompt."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(EVENT_LIMIT)
        self.sock.connect(path)
        self.read()

    def read(self):
        data = b''
        while not data.endswith(b'(qemu) '):
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', data.decode(errors='replace'))

    def __call__(self, command):
        self.sock.sendall(command.encode() + b'\n')
        return self.read()

    def close(self):
        self.sock.close()


# How long a test waits for an event before it fails: the bound of a broken
# run, never a span a passing run depends on.
EVENT_LIMIT = 60


class Live:
    """A headless boot that a test steers while it runs, one event after
    another: it waits for a log line (wait_for), types keys (key), reads the
    screen (screen) and ends the run at the next timer tick (end), which
    prints the summary. The run lasts until the test ends it (or TIMEOUT
    says it is broken), so nothing depends on how fast the host is. Use it
    as a context manager: a test that fails half-way stops its QEMU.

    QEMU gets a monitor (keys, the screen) and a GDB stub: ending the run
    is GDB setting the kernel's bootopt.ticks to 1, so that the next tick is
    the last, exactly as if the run had been booted with that TICKS."""

    def __init__(self, t, procs, tree=ROOT, image=None, **chosen):
        self.t, self.tree = t, tree
        self.dir = tempfile.mkdtemp(prefix='weensyos-live-')
        self.monitor_path = os.path.join(self.dir, 'monitor.sock')
        self.port = free_port()
        self.monitor = None
        self.lines = []
        self.cursor = 0                 # wait_for looks at lines from here on
        self.arrived = threading.Condition()
        self.result = []
        extra = chosen.pop('qemuextra', '')
        chosen.setdefault('timeout', EVENT_LIMIT)
        run_settings = boot_settings(
            procs, ticks=1 << 40, qemuextra=f'{extra} -monitor unix:{self.monitor_path},'
            f'server=on,wait=off -gdb tcp:127.0.0.1:{self.port}'.strip(), **chosen)
        # GDB needs the booted kernel's symbols: another image's are beside it.
        self.kernel = os.path.join(os.path.dirname(image), 'kernel.full') if image \
            else 'obj/kernel.full'
        if image:
            run_settings['IMAGE'] = image       # another of the tree's kernels
        self.runner = threading.Thread(target=self._run, args=(run_settings,))
        self.runner.start()

    def _run(self, run_settings):
        try:
            self.result.append(headless(run_settings, self.tree, on_line=self._arrive))
        finally:
            with self.arrived:
                self.arrived.notify_all()

    def _arrive(self, line):
        with self.arrived:
            self.lines.append(line)
            self.arrived.notify_all()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.runner.is_alive():
            try:
                self._monitor()('quit')
            except OSError:
                pass
        self.runner.join()
        if self.monitor:
            self.monitor.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _boot_so_far(self):
        """The run as far as it went, for a failure's description."""
        return self.result[0] if self.result else Boot(
            {}, None, list(self.lines), '', 0, note='still running')

    def wait_for(self, pattern):
        """Waits for the next output line (after the last one waited for)
        that matches the regular expression `pattern`; returns it."""
        deadline = time.monotonic() + EVENT_LIMIT
        with self.arrived:
            while True:
                for i in range(self.cursor, len(self.lines)):
                    if re.search(pattern, self.lines[i]):
                        self.cursor = i + 1
                        return self.lines[i]
                self.cursor = len(self.lines)
                left = deadline - time.monotonic()
                if self.result or left <= 0:
                    break
                self.arrived.wait(left)
        self.t.boots.append(self._boot_so_far())
        self.t.fail(f'no output line matching {pattern!r}'
                    + (' before the run ended' if self.result else f' within {EVENT_LIMIT} s'))

    def _monitor(self):
        if self.monitor is None:
            self.wait_for(r'^WeensyOS: ')   # QEMU and its monitor are up
            self.monitor = Monitor(self.monitor_path)
        return self.monitor

    def key(self, key):
        """Types `key` (a QEMU key name: 'v', '1') into the machine's
        keyboard; the kernel reads it at its next tick."""
        self._monitor()(f'sendkey {key}')

    def screen(self):
        """The 25 rows of the screen as text, trailing blanks trimmed (as the
        summary prints them), read while the machine is stopped."""
        dump = os.path.join(self.dir, 'screen.bin')
        self._monitor()('stop')
        try:
            self.monitor(f'pmemsave {CONSOLE_ADDR} {2 * CONSOLE_ROWS * CONSOLE_COLUMNS} "{dump}"')
        finally:
            self.monitor('cont')
        with open(dump, 'rb') as f:
            cells = f.read()[0::2]
        text = ''.join(chr(c) if 32 <= c < 127 else (' ' if c == 0 else '?') for c in cells)
        return [text[r * CONSOLE_COLUMNS:(r + 1) * CONSOLE_COLUMNS].rstrip()
                for r in range(CONSOLE_ROWS)]

    def screen_when(self, condition, what):
        """The screen once `condition(rows)` holds for it (a repaint the log
        does not announce); fails if it never does, saying `what` was
        awaited."""
        deadline = time.monotonic() + EVENT_LIMIT
        while True:
            rows = self.screen()
            if condition(rows):
                return rows
            if not self.runner.is_alive() or time.monotonic() > deadline:
                self.t.boots.append(self._boot_so_far())
                self.t.fail(f'the screen never showed {what}:\n' + '\n'.join(rows))
            time.sleep(0.05)

    def end(self, status=0, summary=True):
        """Ends the run at its next tick, with the summary, and returns the
        Boot (checked as T.boot checks it)."""
        _, out, _ = run(['gdb', '-nx', '-q', '-batch', '-ex', 'set confirm off',
                         '-ex', f'file {self.kernel}', '-ex', f'target remote 127.0.0.1:{self.port}',
                         '-ex', 'set var bootopt.ticks = 1', '-ex', 'detach'],
                        self.tree, timeout=EVENT_LIMIT)
        self.t.check('Detaching' in out or '[Inferior 1' in out,
                     f'GDB could not end the run:\n{out}')
        return self.finished(status, summary)

    def finished(self, status=0, summary=True):
        """Waits for the run to end by itself (after q, say); returns the
        Boot, checked as T.boot checks it."""
        self.runner.join()
        return self.t.checked(self.result[0], status, summary)


def descendants(pid):
    """Pids of every living descendant of host process `pid`."""
    children = {}
    for child, (state, parent, _) in processes().items():
        if state != 'Z':
            children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def wait_until(condition, seconds):
    """Polls `condition` for up to `seconds`; returns its last answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


class Tmux:
    """A tmux server of our own (its own socket, in a folder of its own),
    so a user's tmux is never touched. A pane stays after its command ends,
    so the session can still be read (and is ended by close())."""

    def __init__(self, t):
        self.t = t
        self.dir = tempfile.mkdtemp(prefix='weensy-tmux-')
        self.socket = os.path.join(self.dir, 'tmux.sock')
        self.conf = os.path.join(self.dir, 'tmux.conf')
        with open(self.conf, 'w') as f:
            f.write('set-option -g remain-on-exit on\n')

    def __call__(self, *args):
        """Runs `tmux ARGS...` on this server; returns what it printed."""
        r = subprocess.run(['tmux', '-S', self.socket, '-f', self.conf, *args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, errors='replace',
                           timeout=10, env=dict(clean_env(), TERM=os.environ.get('TERM', 'xterm')))
        self.t.check(r.returncode == 0, f'tmux {" ".join(args)} failed: {r.stdout.strip()}')
        return r.stdout

    def pane(self, fmt, target='weensy'):
        return self('display-message', '-p', '-t', target, fmt).strip()

    def close(self):
        subprocess.run(['tmux', '-S', self.socket, 'kill-server'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)

# ---- Tests ----

# The integrity line of a run in which nothing went wrong.
INTEGRITY_OK = 'text=ok pagetables=ok memory=ok'
# The lecture's kernel, with its defenses (exercises 1-9) and each process
# in its identity slot: the problem set's exercises (10 on) in their
# starting state, exit giving back nothing among them, so its memory audit
# is not part of a clean run. The tests of the lecture's slot layout boot
# it (T.boot_lecture); `make check` builds it first.
LECTURE_IMAGE = 'obj/before-10/weensyos.img'
LECTURE_INTEGRITY_OK = 'text=ok pagetables=ok'

class TestFailure(Exception):
    pass


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

    def boot(self, procs='alice eve', ticks=50, status=0, summary=True, **chosen):
        """Boots (see weensy.boot), and checks the exit status (None: any)
        and, unless the run is expected to end without a summary, the
        kernel's integrity line."""
        return self.checked(boot(procs, ticks, **chosen), status, summary)

    def live(self, procs='alice eve', **chosen):
        """A headless boot this test steers as it runs (see Live)."""
        return Live(self, procs, **chosen)

    def boot_lecture(self, procs='alice eve', ticks=50, status=0, summary=True, **chosen):
        """Boots the lecture's kernel (LECTURE_IMAGE) as boot() does."""
        return self.checked(boot(procs, ticks, image=LECTURE_IMAGE, **chosen), status, summary)

    def checked(self, b, status=0, summary=True):
        """Records boot `b` (its description goes with any failure) and
        checks its exit status and integrity line, as boot() does."""
        self.boots.append(b)
        if status is not None:
            self.check(b.status == status, f'expected exit status {status}, got {b.status}')
        want = LECTURE_INTEGRITY_OK if b.settings.get('IMAGE') == LECTURE_IMAGE else INTEGRITY_OK
        if summary and b.status in (0, 1):
            self.check(b.integrity is not None and b.integrity.startswith(want)
                       and (want == INTEGRITY_OK or ' memory=' in b.integrity),
                       f'kernel integrity line is {b.integrity!r}, not "{want}"')
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

    # ---- Checks many tests share ----

    def no_panic(self, b):
        """The kernel never panicked during boot `b`."""
        panics = [l for l in b.lines if l.startswith('PANIC')]
        self.check(not panics, f'the kernel panicked: {panics[0] if panics else ""}')

    def alice_counts(self, b, pid=1, at_least=10):
        """Alice (process `pid`) is runnable and was never killed, her lines
        on the screen count up by one to at least #at_least, and the last of
        them matches her system call count."""
        alice = self.proc(b, pid, 'alice', 'runnable')
        self.check(not b.killed(pid), f'Alice was killed: {b.killed(pid)}')
        a = b.console_numbers('Alice')
        self.check(a and a == list(range(a[0], a[0] + len(a))),
                   f"Alice's numbers are not consecutive: {a}")
        self.check(max(a) >= at_least,
                   f'Alice reached only #{max(a)}, expected #{at_least} or more')
        expected = alice.syscalls // CALLS_PER_LINE
        self.check(abs(max(a) - expected) <= 1,
                   f"Alice's last line on screen is #{max(a)}, but her {alice.syscalls} "
                   f'system calls mean about #{expected}')
        return alice

    def killed_once(self, b, pid, reason, alice=1):
        """Process `pid` was killed exactly once, for `reason`, without a
        kernel panic, and Alice (process `alice`) went on counting."""
        p = self.proc(b, pid, state='broken')
        self.check(p.reason == reason, f'reason {p.reason!r}, expected {reason!r}')
        self.check(b.killed(pid) == [reason], f'kills of proc {pid}: {b.killed(pid)}')
        self.no_panic(b)
        self.alice_counts(b, alice)
        return p


def qemu_version():
    """(major, minor) of the QEMU the tests boot (QEMU= from make, or
    qemu-system-x86_64): behaviour differs between 7.2 and 10.0 where the
    README's "QEMU versions" says."""
    if not hasattr(qemu_version, 'cached'):
        out = subprocess.run([os.environ.get('QEMU') or 'qemu-system-x86_64', '--version'],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             errors='replace').stdout
        m = re.search(r'version (\d+)\.(\d+)', out)
        qemu_version.cached = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    return qemu_version.cached
