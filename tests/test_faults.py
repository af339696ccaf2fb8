"""Under faults: a run-qemu killed by a signal, or whose parent dies, takes
its QEMU with it; a course's 150 extra programs build and boot, and a full
program directory says how many it holds; a config.mk full of hostile
settings reaches no test.

Everything here runs in temporary copies of the tree: a QEMU is "this
checkout's" when its command line names the copy's pid file, and the copy
holds only the QEMUs these tests start."""
import os
import re
import shlex
import signal
import subprocess
import tempfile
import threading
from types import SimpleNamespace

import weensy
from weensy import EVENT_LIMIT, cases, make_command, process_running, run, test


# ---- Copies of the tree ----

class Built:
    """Copies of the tree built with `make`, one per name, each built once
    by whichever test asks first."""
    lock = threading.Lock()
    copies = {}

    @classmethod
    def copy(cls, t, name, prepare=None):
        """The copy `name`: `prepare(path)`, if given, runs before the build
        (to add programs, say)."""
        with cls.lock:
            if name not in cls.copies:
                path = weensy.fresh_copy(f'weensyos-{name}-')
                if prepare:
                    prepare(path)
                cls.copies[name] = (path, *run(make_command('-j2'), path, timeout=600)[:2])
        path, status, output = cls.copies[name]
        t.check(status == 0, f'make failed in the copy {path}:\n{output[-3000:]}')
        return path


def qemus_of(tree):
    """Pids of the QEMUs started from `tree`: their command line names a
    pid file in its obj/ (as `make stop` tells them apart)."""
    mark = os.path.join(tree, 'obj', 'qemu-').encode()
    found = []
    for pid, (state, _, _) in weensy.processes().items():
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                words = f.read().split(b'\0')
        except OSError:
            continue
        if state != 'Z' and any(w.startswith(mark) for w in words):
            found.append(pid)
    return found


def wait_for_line(stream, prefix):
    """Reads `stream` up to a line starting with `prefix`; returns what it
    read (all of it, if the line never came)."""
    seen = []
    for line in stream:
        seen.append(line)
        if line.startswith(prefix):
            break
    return ''.join(seen)


# ---- No orphaned QEMU ----

def default_signals():
    """In a child before it runs its program: SIGINT, SIGTERM and SIGHUP
    as they are by default."""
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)


LONG_RUN = dict(PROCS='alice eve-spin', TICKS=1 << 40, TIMEOUT=EVENT_LIMIT)
# One test at a time boots in the copy these share, so that "no QEMU of
# the copy is left" speaks of that test's run alone.
ONE_RUN = threading.Lock()


@cases([SimpleNamespace(sentence=f"./run-qemu headless killed by SIG{name} ends its QEMU "
                        f"before it exits (status {128 + number}, saying why), and no QEMU "
                        f"of that checkout is left", name=name, number=number)
        for name, number in (('TERM', signal.SIGTERM), ('INT', signal.SIGINT),
                             ('HUP', signal.SIGHUP))])
def _(t, case):
    tree = Built.copy(t, 'signals')
    with ONE_RUN, weensy.qemu_slots:
        # With its signals as a terminal's shell leaves them: a suite run
        # in the background has SIGINT ignored, which no shell can trap.
        rq = subprocess.Popen([os.path.join(tree, 'run-qemu'), 'headless'], cwd=tree,
                              env=weensy.clean_env(weensy.settings(**LONG_RUN)),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, errors='replace', start_new_session=True,
                              preexec_fn=default_signals)
        try:
            seen = wait_for_line(rq.stdout, 'WeensyOS: ')
            t.check('WeensyOS: ' in seen, f'the kernel never started:\n{seen}')
            t.check(qemus_of(tree), 'no QEMU of the copy runs while the kernel prints')
            rq.send_signal(case.number)
            try:
                status = rq.wait(timeout=EVENT_LIMIT)
            except subprocess.TimeoutExpired:
                t.fail(f'run-qemu still runs {EVENT_LIMIT} s after SIG{case.name}')
            left = qemus_of(tree)
            err = rq.stderr.read()
        finally:
            if rq.poll() is None:
                os.killpg(rq.pid, signal.SIGKILL)
                rq.wait()
    t.check(not left, f'QEMU {left} still runs after run-qemu ended on SIG{case.name}')
    t.check(status == 128 + case.number, f'run-qemu exited {status} on SIG{case.name}')
    t.check(f'stopped by SIG{case.name}' in err, f'run-qemu did not say why it stopped:\n{err}')


@test("./run-qemu headless whose parent is killed (SIGKILL, no chance to pass anything on) "
      "ends its QEMU and itself")
def _(t):
    tree = Built.copy(t, 'signals')
    settings = ' '.join(f'{k}={shlex.quote(str(v))}' for k, v in LONG_RUN.items())
    with ONE_RUN, weensy.qemu_slots:
        parent = subprocess.Popen(['bash', '-c', f'{settings} ./run-qemu headless & echo $!; wait'],
                                  cwd=tree, env=weensy.clean_env(), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  errors='replace', start_new_session=True)
        try:
            rq = int(parent.stdout.readline())
            seen = wait_for_line(parent.stdout, 'WeensyOS: ')
            t.check('WeensyOS: ' in seen, f'the kernel never started:\n{seen}')
            t.check(qemus_of(tree), 'no QEMU of the copy runs while the kernel prints')
            parent.kill()
            parent.wait()
            t.check(weensy.wait_until(lambda: not process_running(rq), EVENT_LIMIT),
                    f'run-qemu (pid {rq}) still runs {EVENT_LIMIT} s after its parent died')
            t.check(not qemus_of(tree), f'QEMU {qemus_of(tree)} still runs after run-qemu '
                    'ended when its parent died')
        finally:
            for pid in qemus_of(tree):
                os.kill(pid, signal.SIGKILL)


# ---- Room for a course's programs ----

EXTRA = 150


def add_programs(tree):
    """Writes EXTRA programs p-extra001.cc ... into `tree`, as a course
    would: each prints its number and exits."""
    for n in range(1, EXTRA + 1):
        with open(os.path.join(tree, f'p-extra{n:03}.cc'), 'w') as f:
            f.write('#include "u-lib.hh"\n\nvoid process_main() {\n'
                    f'    console_printf(CS_GREEN "extra program {n} here\\n");\n}}\n')


@test(f"A course adds {EXTRA} programs of its own to the tree: they build, and the first, a "
      "middle one and the last boot, each from its own directory entry, and exit", proof=True)
def _(t):
    tree = Built.copy(t, 'programs', add_programs)
    with open(os.path.join(tree, 'obj', 'programs.txt')) as f:
        names = f.read().split()
    t.check(len(names) >= EXTRA + 50, f'the image holds {len(names)} programs')
    picked = (1, EXTRA // 2, EXTRA)
    b = t.checked(weensy.boot(' '.join(f'extra{n:03}' for n in picked), ticks=1000, tree=tree))
    for pid, n in enumerate(picked, start=1):
        t.proc(b, pid, f'extra{n:03}', 'exited')
        t.check(f'extra program {n} here' in b.console,
                f'extra{n:03} did not print its line:\n' + '\n'.join(b.console))
    t.check(b.ticks < 1000, 'the run did not end once the three had exited')


@test("mkimage.sh takes 511 programs, and refuses a 512th saying how many the directory holds "
      "and what to change", proof=True)
def _(t):
    tree = Built.copy(t, 'signals')
    with tempfile.TemporaryDirectory(prefix='weensyos-dir-') as d:
        programs = []
        for n in range(512):
            programs.append(os.path.join(d, f'p-x{n}.elf'))
            with open(programs[-1], 'w') as f:
                f.write('not really a program\n')
        image = os.path.join(d, 'weensyos.img')
        base = ['./mkimage.sh', image, 'obj/bootsector', 'obj/kernel.elf']
        status, out, _ = run(base + programs[:511], tree)
        t.check(status == 0 and os.path.exists(image), f'511 programs refused:\n{out}')
        status, out, _ = run(base + programs, tree)
    t.check(status == 1, f'512 programs: exit status {status}')
    t.check(re.search(r'512 programs, but the disk\'s program directory holds 511', out)
            and 'PROGRAM_DIR_SECTORS' in out, f'the error does not say how many and what:\n{out}')


# ---- Every setting, every test ----

# The config.mk, then every other setting the README lists (and
# those make check reads) at a value that would change or break a test:
# QEMU refuses QEMUEXTRA, TIMEOUT=1 ends a boot of more than 100 ticks,
# D=1 writes qemu.log, BEFORE=2 boots the lecture's kernel before exercise
# 2, LIST=1 lists instead of running. (Toolchain settings, CCPREFIX and
# LLVM, are the machine's and rightly reach every build.)
HOSTILE_CONFIG = {'LOG': 'stdio', 'HZ': '1000', 'RESPAWN': '3', 'TICKS': '17', 'PROCS': 'hello',
                  'VIEW': 'map', 'PTSWITCH': '1', 'TIMEOUT': '1', 'QEMUEXTRA': '-no-such-option',
                  'D': '1', 'V': '1', 'GDBPORT': '1', 'BEFORE': '2', 'IMAGE': '/nonexistent.img',
                  'LOAD': '2', 'LIST': '1', 'ONLY': 'nothing-matches-this'}


def hostile_copy(tree):
    with open(os.path.join(tree, 'config.mk'), 'a') as f:
        f.writelines(f'{name} = {value}\n' for name, value in HOSTILE_CONFIG.items())


@test("make check in a copy whose config.mk holds LOG = stdio, HZ = 1000, RESPAWN = 3, "
      "TICKS = 17, PROCS = hello and every other setting at a hostile value passes the tests "
      "that boot through make (run-console in tmux), keys and the boot tests", proof=True)
def _(t):
    tree = Built.copy(t, 'hostile', hostile_copy)
    words = '80x25 typing equal'
    with weensy.qemu_slots:
        status, out, _ = run(make_command('check', f'ONLY={words}'), tree, timeout=600)
    shown = '\n'.join('  | ' + l for l in out.splitlines()[-60:])
    ran = re.search(r'^running (\d+) tests', out, re.M)
    t.check(ran and int(ran.group(1)) >= 5, f'ONLY="{words}" did not run its tests:\n{shown}')
    t.check(status == 0 and out.splitlines()[-1] == f'{ran.group(1)} passed, 0 failed',
            f'make check failed under the hostile config.mk (exit {status}):\n{shown}')


@test("make run-headless as the tests start it, in a copy whose config.mk holds every setting "
      "at a hostile value, boots exactly what the test asked: its PROCS, TICKS, HZ, RESPAWN, "
      "VIEW, PTSWITCH, TIMEOUT, QEMUEXTRA, D, V, BEFORE and IMAGE", proof=True)
def _(t):
    tree = Built.copy(t, 'hostile-run', hostile_copy)
    os.utime(os.path.join(tree, 'p-hello.cc'))      # one rebuild step, for V
    with weensy.qemu_slots:
        status, out, _ = run(make_command('run-headless', PROCS='alice eve-div0', TICKS=150),
                             tree, timeout=120)
    b = weensy.Boot(weensy.settings(PROCS='alice eve-div0', TICKS=150), status,
                    out.splitlines(), '', 0, note='make run-headless in the hostile copy')
    t.boots.append(b)
    t.check(status == 0, f'make run-headless failed (exit {status}: QEMUEXTRA, IMAGE, TIMEOUT?)')
    t.check(b.ticks == 150, f'the run ended at tick {b.ticks}, not 150 (TICKS)')
    t.check({p.pid: (p.name, p.state) for p in b.procs.values()}
            == {1: ('alice', 'runnable'), 2: ('eve-div0', 'broken')},
            f'processes {b.procs} (PROCS)')
    t.check(b.kill_count(2) == 1, f'Eve was killed {b.kill_count(2)} times, not once (RESPAWN)')
    first = next((l for l in b.log_lines if l.startswith('WeensyOS: ')), '')
    t.check(' HZ=100' in first and 'PTSWITCH' not in first, f'first line {first!r} (HZ, PTSWITCH)')
    t.check(not any(row.lstrip().startswith('WeensyOS') for row in b.console),
            'the screen shows the panel (VIEW)')
    t.check(re.search(r'^\s+CXX\s+obj/p-hello\.uo$', out, re.M) and 'g++ ' not in out,
            'make printed full commands, or did not rebuild p-hello (V)')
    t.check(not os.path.exists(os.path.join(tree, 'qemu.log')), 'QEMU wrote qemu.log (D)')
    t.check(not os.path.exists(os.path.join(tree, 'obj', 'before-2')),
            'make built the kernel before exercise 2 (BEFORE)')
