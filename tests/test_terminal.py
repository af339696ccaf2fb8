"""Interactive runs: `make run-console` draws the screen in a real terminal
and quits on `q`; `make run-gdb`'s setup lets GDB stop in the kernel and in
a process, with symbols for both."""
import os
import re
import shlex
import shutil
import signal
import subprocess

import weensy
from weensy import ROOT, clean_env, make_command, process_running, processes, settings, test


def group_members(pgid):
    """Pids of living processes in process group `pgid`."""
    return [pid for pid, (state, _, group) in processes().items()
            if state != 'Z' and group == pgid]


@test("make run-console draws Alice's lines in an 80x25 terminal and quits on the key q")
def _(t):
    t.check(shutil.which('tmux'), 'tmux is missing: install it (Debian/Ubuntu: sudo apt-get install tmux)')
    tmux = weensy.Tmux(t)
    shell = None
    started = []
    try:
        with weensy.qemu_slots:
            # The pane's shell writes make's exit status to a file when it ends.
            status_file = os.path.join(tmux.dir, 'status')
            make = shlex.join(make_command('run-console', PROCS='alice eve'))
            tmux('new-session', '-d', '-s', 'weensy', '-x', '80', '-y', '25', '-c', ROOT,
                 f'{make}; echo $? > {status_file}')
            shell = int(tmux.pane('#{pane_pid}'))
            started.append(shell)
            screen = ''

            def alice_shown():
                nonlocal screen
                screen = tmux('capture-pane', '-p', '-t', 'weensy')
                started.extend(p for p in weensy.descendants(shell) if p not in started)
                return "Hi, I'm Alice!" in screen
            t.check(weensy.wait_until(alice_shown, 20),
                    "Alice's line did not appear within 20 s; the terminal shows:\n" + screen)
            tmux('send-keys', '-t', 'weensy', 'q')

            def status():
                try:
                    with open(status_file) as f:
                        return f.read().strip()
                except OSError:
                    return ''
            t.check(weensy.wait_until(status, 5), 'make run-console still runs 5 s after the key q')
            t.check(status() == '0', f'make run-console exited with status {status()} after q')

            def alive():
                return [p for p in started if process_running(p)]
            t.check(weensy.wait_until(lambda: not alive(), 5),
                    f'processes of the run are still alive 5 s after q: {alive()}')
    finally:
        # Whatever the pane's command started and is still running goes first.
        for pid in weensy.descendants(shell) if shell else []:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        tmux.close()


@test("run-qemu gdb: GDB stops at the kernel's syscall and at Alice's process_main, and bt names them")
def _(t):
    t.check(shutil.which('gdb'), 'gdb is missing: install it (Debian/Ubuntu: sudo apt-get install gdb)')
    port = 20000 + os.getpid() % 10000
    # Eve is pid 1, so the first system call is hers and Alice (pid 2, in
    # slot 2) has yet to start when the breakpoint on process_main is set.
    # The lecture's kernel: run-qemu loads each process's symbols at its slot.
    env = dict(clean_env(settings(PROCS='eve alice', GDBPORT=port)), IMAGE=weensy.LECTURE_IMAGE)
    commands = ['break syscall', 'continue', 'bt', 'print current->pid',
                'break process_main', 'continue', 'bt', 'info symbol $pc']
    argv = [os.path.join(ROOT, 'run-qemu'), 'gdb', '-batch']
    for c in commands:
        argv += ['-ex', c]
    with weensy.qemu_slots:
        q = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, errors='replace',
                             start_new_session=True)
        try:
            out, _ = q.communicate(timeout=30)
            leftover = group_members(q.pid)
        except subprocess.TimeoutExpired:
            leftover = group_members(q.pid)
            out = 'GDB did not finish within 30 s'
        finally:
            # QEMU runs in the same process group: nothing may outlive the test.
            try:
                os.killpg(q.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if leftover:
            out += '\n' + q.communicate()[0]
    shown = '\n'.join('  | ' + l for l in out.splitlines()[-40:])

    def has(text, why):
        t.check(text in out, f'{why}: no {text!r} in the GDB session:\n{shown}')
    has('Breakpoint 2, syscall (', "the breakpoint on the kernel's syscall was not hit")
    has('#0  syscall (', 'bt does not start in syscall')
    has(' in syscall_entry ()', 'bt does not show syscall_entry calling syscall')
    has('$1 = 1', 'current->pid at the first system call is not 1 (Eve)')
    has('process_main () at p-alice.cc', "the breakpoint on Alice's process_main was not hit")
    has(' in process_start (', 'bt does not show process_start calling process_main')
    t.check(re.search(r'process_main\(\) in section \.text of \S*obj/p-alice\.full', out),
            f"info symbol does not place $pc in Alice's process_main:\n{shown}")
    t.check(not leftover, f'QEMU or GDB were still running after the session ended: {leftover}')
