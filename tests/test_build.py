"""Building and running: a clean build is warning-free and complete; bad
settings and missing tools fail fast with one line saying what to do;
`make stop` stops only this checkout's QEMU; headless runs end with the
contract's exit status for each outcome.

Everything here runs in temporary copies of the tree, never in the tree
itself: other tests boot from it at the same time, and `make stop` there
would stop their QEMUs."""
import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import weensy
from weensy import ROOT, test


# ---- Copies of the tree ----

def source_files():
    """The files a fresh clone would have, plus new files not yet added
    (untracked but not ignored), plus local settings (config.mk)."""
    listed = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard'],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True).stdout
    names = set(listed.splitlines()) | {'config.mk'}
    return sorted(n for n in names if os.path.isfile(os.path.join(ROOT, n)))


def fresh_copy():
    """A new temporary copy of the sources, removed when the tests end."""
    dest = tempfile.mkdtemp(prefix='weensyos-copy-')
    atexit.register(shutil.rmtree, dest, True)
    for name in source_files():
        os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, name), os.path.join(dest, name))
    return dest


def run(cmd, cwd, timeout=120, env_extra=None, **kw):
    """Runs `cmd` (a list) in `cwd`; returns (status, output, seconds)."""
    env = dict(os.environ, **(env_extra or {}))
    started = time.monotonic()
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       errors='replace', timeout=timeout, **kw)
    return r.returncode, r.stdout, time.monotonic() - started


class BuiltCopy:
    """One copy of the tree built with `make`, shared by the tests that
    need a built tree; built once, by whichever test asks first."""
    lock = threading.Lock()
    path = None
    status = output = None

    @classmethod
    def get(cls):
        with cls.lock:
            if cls.path is None:
                cls.path = fresh_copy()
                cls.status, cls.output, _ = run(['make', '-j2'], cls.path)
            return cls.path


def built_copy(t):
    path = BuiltCopy.get()
    t.check(BuiltCopy.status == 0, f'make failed in a copy of the tree:\n{BuiltCopy.output}')
    return path


# ---- A clean build ----

@test("A clean build in a copy of the tree prints no warning and makes the image, listings and symbol files")
def _(t):
    copy = built_copy(t)
    warnings = [l for l in BuiltCopy.output.splitlines() if 'warning' in l.lower()]
    t.check(not warnings, 'the build printed warnings:\n' + '\n'.join(warnings))
    for name in ['weensyos.img', 'obj/kernel.asm', 'obj/kernel.sym', 'obj/p-alice.asm',
                 'obj/p-alice.sym', 'obj/kernel.full', 'obj/p-alice.full']:
        path = os.path.join(copy, name)
        t.check(os.path.isfile(path) and os.path.getsize(path) > 0, f'the build did not make {name}')
    with open(os.path.join(copy, 'obj/kernel.sym')) as f:
        t.check(re.search(r' T syscall_entry$', f.read(), re.M),
                'obj/kernel.sym does not list syscall_entry')
    # Nothing changed, so nothing is rebuilt.
    status, out, _ = run(['make'], copy)
    t.check(status == 0 and out.strip() == '', f'a second make rebuilt something:\n{out}')


# ---- Mistakes and missing tools: one line that says what to do ----

def one_line_failure(t, cmd, cwd, env_extra, *must_say):
    """`cmd` fails within 10 s, starts no QEMU, and prints exactly one line
    of its own (besides make's "*** Error" line), saying each of must_say."""
    status, out, seconds = run(cmd, cwd, timeout=60, env_extra=env_extra)
    own = [l for l in out.splitlines() if not re.match(r'make(\[\d+\])?: \*\*\* ', l)]
    shown = '\n'.join('  | ' + l for l in out.splitlines())
    t.check(status != 0, f'{" ".join(cmd)} succeeded:\n{shown}')
    t.check(seconds < 10, f'{" ".join(cmd)} took {seconds:.1f} s to fail')
    t.check(not any(l.startswith('WeensyOS:') for l in own), f'QEMU was started:\n{shown}')
    t.check(len(own) == 1, f'expected one line of explanation, got {len(own)}:\n{shown}')
    for words in must_say:
        t.check(words in own[0], f'the message does not say {words!r}:\n{shown}')


@test("make run-headless with PROCS naming an unknown program fails at once, naming that program")
def _(t):
    one_line_failure(t, ['make', 'run-headless'], built_copy(t),
                     {'PROCS': 'alice nosuchprogram'}, "'nosuchprogram'")


@test("make run-headless with five programs in PROCS fails at once, saying there are 4 slots")
def _(t):
    one_line_failure(t, ['make', 'run-headless'], built_copy(t),
                     {'PROCS': 'alice eve alice eve alice'}, '5 programs', '4 process slots')


@test("make run-headless with TICKS=abc fails at once, naming TICKS and the bad value")
def _(t):
    one_line_failure(t, ['make', 'run-headless'], built_copy(t), {'TICKS': 'abc'}, 'TICKS=abc')


@test("make with CCPREFIX=nonexistent- fails at once, naming the missing compiler and what to install")
def _(t):
    one_line_failure(t, ['make', 'CCPREFIX=nonexistent-'], fresh_copy(), {},
                     'nonexistent-g++', 'install')


@test("make run-headless with QEMU=/nonexistent/qemu fails at once, naming the qemu-system-x86 package")
def _(t):
    one_line_failure(t, ['make', 'run-headless'], built_copy(t),
                     {'QEMU': '/nonexistent/qemu', 'PROCS': 'alice'},
                     '/nonexistent/qemu', 'qemu-system-x86')


# ---- make stop ----

def pid_alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def qemu_pid_in(copy):
    """The pid in this copy's QEMU pid file, once QEMU is running."""
    for name in os.listdir(os.path.join(copy, 'obj')):
        if re.fullmatch(r'qemu-\d+\.pid', name):
            try:
                with open(os.path.join(copy, 'obj', name)) as f:
                    pid = int(f.read())
            except (OSError, ValueError):
                continue
            if pid_alive(pid):
                return pid
    return None


@test("make stop ends this checkout's headless run, and spares a process named in a stray pid file")
def _(t):
    # A copy of its own: `make stop` stops every QEMU its checkout started.
    copy = tempfile.mkdtemp(prefix='weensyos-stop-')
    atexit.register(shutil.rmtree, copy, True)
    # Not the pid files and monitor sockets of runs going on in the other
    # copy: they are not this checkout's.
    shutil.copytree(built_copy(t), copy, dirs_exist_ok=True, symlinks=True,
                    ignore=shutil.ignore_patterns('qemu-*.pid*', 'monitor-*.sock', 'screen-*'))
    # The decoy looks like a QEMU of another checkout, and its pid sits in
    # a pid file of this one.
    decoy = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)',
                              '-pidfile', '/elsewhere/obj/qemu-1.pid'])
    env = dict(os.environ, PROCS='alice eve', TICKS='100000', TIMEOUT='60', QEMUEXTRA='')
    with weensy.qemu_slots:
        headless = subprocess.Popen(['make', 'run-headless'], cwd=copy, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                errors='replace', start_new_session=True)
        try:
            deadline = time.monotonic() + 15
            while qemu_pid_in(copy) is None and time.monotonic() < deadline:
                time.sleep(0.1)
            qemu = qemu_pid_in(copy)
            t.check(qemu is not None, 'the headless run wrote no QEMU pid file within 15 s')
            with open(os.path.join(copy, 'obj', f'qemu-{decoy.pid}.pid'), 'w') as f:
                f.write(f'{decoy.pid}\n')
            status, out, _ = run(['make', 'stop'], copy, timeout=30)
            t.check(status == 0, f'make stop failed:\n{out}')
            t.check(f'pid {qemu}' in out, f'make stop does not report stopping pid {qemu}:\n{out}')
            try:
                log, _ = headless.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                t.fail('the headless run still runs 5 s after make stop')
            t.check(not pid_alive(qemu), f'QEMU (pid {qemu}) is still running')
            t.check('summary:' not in log, 'the stopped run printed a summary as if it had finished')
            t.check('QEMU was stopped (make stop)' in log,
                    f'the stopped run does not say it was stopped by make stop:\n{log[-500:]}')
            t.check(decoy.poll() is None, 'make stop killed a process it did not start')
        finally:
            if headless.poll() is None:
                os.killpg(headless.pid, signal.SIGKILL)
            headless.wait()
            decoy.kill()
            decoy.wait()


# ---- Exit statuses of headless runs ----
# The kernel never panics or resets on purpose, so GDB (through QEMU's gdb
# stub) breaks it: at the first system call it sends the kernel to address
# 0, or points %cr3 at a page of zeros so nothing is mapped at all.

def headless_with_gdb(t, port, sabotage):
    """Boots the built copy headless, stopped for GDB; GDB runs to the
    kernel's syscall, runs `sabotage` and lets go. Returns a Boot."""
    copy = built_copy(t)
    env = dict(os.environ, PROCS='alice', TICKS='1000', TIMEOUT='20',
               QEMUEXTRA=f'-gdb tcp:127.0.0.1:{port} -S')
    gdb = ['gdb', '-nx', '-q', '-batch', '-ex', 'set confirm off', '-ex', 'file obj/kernel.full',
           '-ex', f'target remote 127.0.0.1:{port}', '-ex', 'hbreak syscall', '-ex', 'continue',
           '-ex', sabotage, '-ex', 'detach']
    with weensy.qemu_slots:
        started = time.monotonic()
        q = subprocess.Popen([os.path.join(copy, 'run-qemu'), 'headless'], cwd=copy, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, errors='replace',
                             start_new_session=True)
        try:
            # GDB retries connecting until QEMU listens.
            _, gdb_out, _ = run(gdb, copy, timeout=40)
            out, err = q.communicate(timeout=40)
        finally:
            if q.poll() is None:
                os.killpg(q.pid, signal.SIGKILL)
                q.wait()
    b = weensy.Boot(['PROCS=alice', f'GDB: {sabotage}'], q.returncode, out, err,
                    time.monotonic() - started)
    t.boots.append(b)
    t.check('Breakpoint 1, syscall' in gdb_out, f'GDB did not stop at syscall:\n{gdb_out}')
    return b


@test("A kernel fault panics: headless exit status 1, a PANIC line naming the fault, and a summary")
def _(t):
    port = 20000 + (os.getpid() + 1) % 10000
    b = headless_with_gdb(t, port, 'set $pc = 0')
    t.check(b.status == 1, f'exit status {b.status}, expected 1 (kernel panic)')
    panics = [l for l in b.lines if l.startswith('PANIC: ')]
    t.check(panics and 'instruction fetch from 0x0' in panics[0],
            f'no PANIC line naming the fetch from 0x0: {panics}')
    t.check(b.ticks is not None, 'the panicked run printed no summary')


@test("A triple fault ends a headless run with exit status 3 and says so")
def _(t):
    port = 20000 + (os.getpid() + 2) % 10000
    # Page 0x1ff000, at the top of slot 4, is all zeros when only slot 1 is used.
    b = headless_with_gdb(t, port, 'set $cr3 = (long) 0x1ff000')
    t.check(b.status == 3, f'exit status {b.status}, expected 3 (CPU reset)')
    t.check('triple fault' in b.stderr, f'stderr does not say "triple fault": {b.stderr!r}')
    t.check(b.ticks is None, 'a summary was printed, as if the kernel powered off')


@test("A run that outlasts TIMEOUT is stopped: exit status 2, no summary, soon after the limit")
def _(t):
    b = t.boot('alice eve', ticks=100000, timeout=1, status=2)
    t.check('TIMEOUT=1' in b.stderr, f'stderr does not name TIMEOUT=1: {b.stderr!r}')
    t.check(b.ticks is None, 'a summary was printed, as if the kernel powered off')
    t.check(b.seconds < 8, f'the run took {b.seconds:.1f} s with TIMEOUT=1')
