"""Building and running: a clean build is warning-free and complete; bad
settings and missing tools fail fast with one line saying what to do;
`make stop` stops only this checkout's QEMU; headless runs end with the
contract's exit status for each outcome.

Everything here runs in temporary copies of the tree, never in the tree
itself: other tests boot from it at the same time, and `make stop` there
would stop their QEMUs."""
import atexit
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import weensy
from weensy import make_command, process_running, run, test


# ---- Copies of the tree ----

def copy_of_built_copy(t, prefix):
    """A new copy of the built copy, without the pid files and monitor
    sockets of runs going on there (they are not the new copy's)."""
    copy = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, copy, True)
    shutil.copytree(built_copy(t), copy, dirs_exist_ok=True, symlinks=True,
                    ignore=shutil.ignore_patterns('qemu-*.pid*', 'monitor-*.sock', 'screen-*'))
    return copy


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
                cls.path = weensy.fresh_copy()
                # A whole build: on a busy machine it may take minutes.
                cls.status, cls.output, _ = run(make_command('-j2'), cls.path, timeout=900)
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
    status, out, _ = run(make_command(), copy)
    t.check(status == 0 and out.strip() == '', f'a second make rebuilt something:\n{out}')


# ---- Mistakes and missing tools: one line that says what to do ----

def one_line_failure(t, cmd, cwd, *must_say):
    """`cmd` fails within 10 s, starts no QEMU, and prints exactly one line
    of its own (besides make's "*** Error" line), saying each of must_say."""
    status, out, seconds = run(cmd, cwd, timeout=60)
    own = [l for l in out.splitlines() if not re.match(r'make(\[\d+\])?: \*\*\* ', l)]
    shown = '\n'.join('  | ' + l for l in out.splitlines())
    t.check(status != 0, f'{" ".join(cmd)} succeeded:\n{shown}')
    t.check(seconds < 10, f'{" ".join(cmd)} took {seconds:.1f} s to fail')
    t.check(not any(l.startswith('WeensyOS:') for l in own), f'QEMU was started:\n{shown}')
    t.check(len(own) == 1, f'expected one line of explanation, got {len(own)}:\n{shown}')
    for words in must_say:
        t.check(words in own[0], f'the message does not say {words!r}:\n{shown}')


@test("A kernel that #includes a file outside the tree (an absolute path, a macro, a digraph "
      "and a path through ..), or whose asm statement asks the assembler for one (.incbin, "
      ".include, spelled in pieces), is refused with a sentence naming it, and neither make "
      "nor make grade's results.json quotes a line of that file")
def _(t):
    copy = copy_of_built_copy(t, 'weensy-include-')
    secret_dir = tempfile.mkdtemp(prefix='weensy-secret-')
    atexit.register(shutil.rmtree, secret_dir, True)
    secret = os.path.join(secret_dir, 'solution.cc')
    with open(secret, 'w') as f:
        f.write('the grading machine\'s secret line\n/* never closed\n')
    kernel = open(os.path.join(copy, 'kernel.cc')).read()
    up = os.path.relpath(secret, copy)
    for spelled, named in ((f'#include "{secret}"', secret),
                           (f'#define PLACE "{secret}"\n#include PLACE', secret),
                           (f'%:include <{up}>', up),
                           (f'#inc\\\nlude "k-hardware.cc/../{up}"', f'k-hardware.cc/../{up}')):
        with open(os.path.join(copy, 'kernel.cc'), 'w') as f:
            f.write(spelled + '\n' + kernel)
        status, out, _ = run(make_command('-s'), copy, timeout=120)
        t.check(status != 0 and f'error: kernel.cc includes {named}, which is outside this tree' in out,
                f'{spelled!r} was not refused:\n{out[-1000:]}')
        t.check('secret line' not in out and 'never closed' not in out,
                f'{spelled!r}: make quoted the outside file:\n{out[-1000:]}')
    for spelled in (f'asm(".inc" "bin \\"{secret}\\"");',
                    f'asm(".pushsection .rodata; .INCLUDE \\"{secret}\\"; .popsection");'):
        with open(os.path.join(copy, 'kernel.cc'), 'w') as f:
            f.write(kernel + '\n' + spelled + '\n')
        status, out, _ = run(make_command('-s'), copy, timeout=120)
        t.check(status != 0 and 'error: kernel.cc asks the assembler to read a file' in out,
                f'{spelled!r} was not refused:\n{out[-1000:]}')
        t.check('secret line' not in out and 'never closed' not in out,
                f'{spelled!r}: make quoted the outside file:\n{out[-1000:]}')
    with open(os.path.join(copy, 'kernel.cc'), 'w') as f:
        f.write(f'#include "{secret}"\n' + kernel)
    status, out, _ = run(['python3', 'exercises/grade.py', '1', '--results', 'r.json'], copy, timeout=120)
    results = open(os.path.join(copy, 'r.json')).read()
    t.check(status == 1 and 'outside this tree' in out and 'outside this tree' in results,
            f'make grade does not say why the kernel does not build:\n{out}\n{results}')
    t.check('secret line' not in out + results, f'make grade quoted the outside file:\n{results}')


@test("make run-headless with PROCS naming an unknown program fails at once, naming that program")
def _(t):
    one_line_failure(t, make_command('run-headless', PROCS='alice nosuchprogram'), built_copy(t),
                     "'nosuchprogram'")


@test("make run-headless with sixteen programs in PROCS fails at once, saying there are 15 slots")
def _(t):
    one_line_failure(t, make_command('run-headless', PROCS=' '.join(['alice'] * 16)),
                     built_copy(t), '16 programs', '15 process slots')


@test("make run-headless with TICKS=abc fails at once, naming TICKS and the bad value")
def _(t):
    one_line_failure(t, make_command('run-headless', TICKS='abc'), built_copy(t), 'TICKS=abc')


@test("make with CCPREFIX=nonexistent- fails at once, naming the missing compiler and what to install")
def _(t):
    one_line_failure(t, make_command('CCPREFIX=nonexistent-'), weensy.fresh_copy(),
                     'nonexistent-g++', 'install')


@test("make run-headless with QEMU=/nonexistent/qemu fails at once, naming the qemu-system-x86 package")
def _(t):
    one_line_failure(t, make_command('run-headless', 'QEMU=/nonexistent/qemu', PROCS='alice'),
                     built_copy(t), '/nonexistent/qemu', 'qemu-system-x86')


# ---- make stop ----

def qemu_pid_in(copy):
    """The pid in this copy's QEMU pid file, once QEMU is running."""
    for name in os.listdir(os.path.join(copy, 'obj')):
        if re.fullmatch(r'qemu-\d+\.pid', name):
            try:
                with open(os.path.join(copy, 'obj', name)) as f:
                    pid = int(f.read())
            except (OSError, ValueError):
                continue
            if process_running(pid):
                return pid
    return None


@test("make stop ends this checkout's headless run, and spares a process named in a stray pid file")
def _(t):
    # A copy of its own: `make stop` stops every QEMU its checkout started.
    copy = copy_of_built_copy(t, 'weensyos-stop-')
    # The decoy looks like a QEMU of another checkout, and its pid sits in
    # a pid file of this one.
    decoy = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)',
                              '-pidfile', '/elsewhere/obj/qemu-1.pid'])
    with weensy.qemu_slots:
        headless = subprocess.Popen(make_command('run-headless', TICKS=100000, TIMEOUT=60),
                                    cwd=copy, env=weensy.clean_env(), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, errors='replace',
                                    start_new_session=True)
        try:
            deadline = time.monotonic() + 15
            while qemu_pid_in(copy) is None and time.monotonic() < deadline:
                time.sleep(0.1)
            qemu = qemu_pid_in(copy)
            t.check(qemu is not None, 'the headless run wrote no QEMU pid file within 15 s')
            with open(os.path.join(copy, 'obj', f'qemu-{decoy.pid}.pid'), 'w') as f:
                f.write(f'{decoy.pid}\n')
            status, out, _ = run(make_command('stop'), copy, timeout=30)
            t.check(status == 0, f'make stop failed:\n{out}')
            t.check(f'pid {qemu}' in out, f'make stop does not report stopping pid {qemu}:\n{out}')
            try:
                log, _ = headless.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                t.fail('the headless run still runs 5 s after make stop')
            t.check(not process_running(qemu), f'QEMU (pid {qemu}) is still running')
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
    b, out = weensy.boot_with_gdb('alice', port, ['hbreak syscall', 'continue', sabotage],
                                  tree=built_copy(t))
    t.checked(b, status=None, summary=False)
    t.check('Breakpoint 1, syscall' in out, f"GDB did not stop at syscall:\n{out}")
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
    # The page at the top of the last slot is all zeros when only slot 1 is used.
    zeros = weensy.slot_start(weensy.SLOT_PROCS) + weensy.PROC_SLOT_SIZE - weensy.PAGESIZE
    b = headless_with_gdb(t, port, f'set $cr3 = (long) 0x{zeros:x}')
    t.check(b.status == 3, f'exit status {b.status}, expected 3 (CPU reset)')
    t.check('triple fault' in b.stderr, f'stderr does not say "triple fault": {b.stderr!r}')
    t.check(b.ticks is None, 'a summary was printed, as if the kernel powered off')


@test("A run that outlasts TIMEOUT is stopped: exit status 2, no summary, soon after the limit")
def _(t):
    b = t.boot('alice eve', ticks=100000, timeout=1, status=2)
    t.check('TIMEOUT=1' in b.stderr, f'stderr does not name TIMEOUT=1: {b.stderr!r}')
    t.check(b.ticks is None, 'a summary was printed, as if the kernel powered off')
    t.check(b.seconds < 8, f'the run took {b.seconds:.1f} s with TIMEOUT=1')


# ---- Local settings do not reach the tests ----

# Settings a developer might keep in the environment or config.mk, each of
# which would change or break a test's boot if it leaked in: QEMU would
# refuse QEMUEXTRA, TIMEOUT=1 ends a boot of more than 100 ticks, D=1
# writes qemu.log.
HOSTILE = {'PROCS': 'eve-spin', 'TICKS': '3', 'HZ': '1000', 'RESPAWN': '7', 'TIMEOUT': '1',
           'QEMUEXTRA': '-no-such-option', 'D': '1', 'LOG': 'stdio', 'GDBPORT': '1', 'V': '1'}

# One boot through the framework, in a process of its own whose environment
# holds HOSTILE; it prints what the parent checks.
FRAMEWORK_BOOT = """
import json, sys
sys.path.insert(0, sys.argv[1])
import weensy
b = weensy.boot('alice eve-div0', ticks=150, tree=sys.argv[2])
print(json.dumps({'status': b.status, 'ticks': b.ticks, 'killed': b.killed(2),
                  'procs': {p.pid: [p.name, p.state] for p in b.procs.values()},
                  'log': b.log_lines, 'describe': b.describe()}))
"""


@test("A boot the framework starts ignores run settings in the environment (HZ=1000 RESPAWN=7 "
      "D=1 TICKS=3 PROCS=eve-spin TIMEOUT=1 ...), and its report names every setting it used")
def _(t):
    copy = copy_of_built_copy(t, 'weensyos-env-')
    env = dict(weensy.clean_env(), **HOSTILE)
    with weensy.qemu_slots:
        r = subprocess.run([sys.executable, '-c', FRAMEWORK_BOOT, os.path.dirname(__file__), copy],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           errors='replace', timeout=90)
    t.check(r.returncode == 0, f'the boot in a hostile environment failed:\n{r.stdout}')
    b = json.loads(r.stdout.splitlines()[-1])
    t.check(b['status'] == 0, f"exit status {b['status']}:\n{b['describe']}")
    t.check(b['ticks'] == 150, f"the run ended at tick {b['ticks']}, not 150 (TICKS, TIMEOUT)")
    t.check(b['procs'] == {'1': ['alice', 'runnable'], '2': ['eve-div0', 'broken']},
            f"processes {b['procs']}, expected alice and a broken eve-div0 (PROCS)")
    t.check(len(b['killed']) == 1, f"Eve was killed {len(b['killed'])} times, not once (RESPAWN)")
    t.check(any('interrupting 100 times a second' in l for l in b['log']),
            'the timer does not interrupt 100 times a second (HZ)')
    t.check(not os.path.exists(os.path.join(copy, 'qemu.log')), 'QEMU wrote qemu.log (D)')
    for name, value in weensy.boot_settings('alice eve-div0', ticks=150).items():
        shown = f'{name}={shlex.quote(value)}'
        t.check(shown in b['describe'], f"a boot's report does not say {shown}:\n{b['describe']}")


@test("make check in a copy whose config.mk and environment hold hostile run settings "
      "still passes: every make and boot the tests start sets every setting itself", proof=True)
def _(t):
    copy = copy_of_built_copy(t, 'weensyos-config-')
    with open(os.path.join(copy, 'config.mk'), 'a') as f:
        f.writelines(f'{name} = {value}\n' for name, value in HOSTILE.items())
    # One quick test: a boot of Alice and Eve that checks ticks and processes.
    with weensy.qemu_slots:
        status, out, _ = run(['make', 'check', 'ONLY=equal'], copy, timeout=120,
                             run_settings=HOSTILE)
    shown = '\n'.join('  | ' + l for l in out.splitlines()[-40:])
    t.check('running 1 tests' in out, f'ONLY=equal did not select one test:\n{shown}')
    t.check(status == 0 and out.splitlines()[-1] == '1 passed, 0 failed',
            f'make check failed under the hostile config.mk (exit {status}):\n{shown}')


# ---- Choosing and listing tests ----

@test("make check LIST=1 with ONLY naming a test file in capitals lists exactly that file's "
      "tests, each with its file, and runs none; run.py --list matches a sentence whatever "
      "its case", proof=True)
def _(t):
    keys = [f'{x.file}: {x.sentence}' for x in weensy.TESTS if x.file == 'test_keys.py']
    t.check(len(keys) >= 2, f'test_keys.py registered {len(keys)} tests')
    status, out, _ = run(['make', '-s', 'check', 'LIST=1', 'ONLY=TEST_KEYS'], built_copy(t))
    t.check(status == 0 and out.splitlines() == keys,
            f'make check LIST=1 ONLY=TEST_KEYS (exit {status}) printed:\n{out}\nexpected:\n'
            + '\n'.join(keys))
    status, out, _ = run([sys.executable, 'tests/run.py', '--list', 'TYPING Q IN THE OS SCREEN'],
                         built_copy(t))
    t.check(status == 0 and out.splitlines() == [k for k in keys if 'Typing q' in k],
            f'run.py --list "TYPING Q IN THE OS SCREEN" (exit {status}) printed:\n{out}')
