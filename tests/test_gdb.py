"""make run-gdb in a real terminal (tmux), used the way people use GDB:
Control-C while the guest runs stops it and returns to the (gdb) prompt,
and the machine lives on until GDB quits."""
import os
import re
import shlex
import shutil
import signal
import time

import weensy
from weensy import ROOT, test


def command_name(pid):
    try:
        with open(f'/proc/{pid}/comm') as f:
            return f.read().strip()
    except OSError:
        return ''


class Terminal:
    """One tmux pane running `command`, on a tmux server of our own (its
    own socket), so that a user's tmux is never touched."""

    def __init__(self, t, command, width=100, height=40):
        self.t = t
        self.tmux = weensy.Tmux(t)
        self.status_file = os.path.join(self.tmux.dir, 'status')
        self.tmux('new-session', '-d', '-s', 'w', '-x', str(width), '-y', str(height),
                  '-c', ROOT, f'{command}; echo $? > {self.status_file}')
        self.shell = int(self.tmux.pane('#{pane_pid}', 'w'))

    def screen(self):
        """Everything the pane has shown, scrollback included."""
        return self.tmux('capture-pane', '-p', '-J', '-S', '-1000', '-t', 'w')

    def keys(self, *keys):
        self.tmux('send-keys', '-t', 'w', *keys)

    def wait_for(self, pattern, seconds, after=0):
        """Waits until `pattern` (a regular expression) shows in the pane's
        text past offset `after`; returns the text's length then."""
        deadline = time.monotonic() + seconds
        while True:
            text = self.screen()
            if re.search(pattern, text[after:]):
                return len(text.rstrip())
            if time.monotonic() > deadline:
                self.t.fail(f'{pattern!r} did not show within {seconds} s; the terminal shows:\n'
                            + '\n'.join('  | ' + l for l in text.rstrip().splitlines()[-30:]))
            time.sleep(0.2)

    def command(self, line, expect, seconds=10):
        """Types `line` at the (gdb) prompt and waits for `expect`."""
        mark = len(self.screen().rstrip())
        self.keys('-l', line)           # literally: 'delete' also names a key
        self.keys('Enter')
        return self.wait_for(expect, seconds, mark)

    def status(self):
        try:
            with open(self.status_file) as f:
                return f.read().strip()
        except OSError:
            return ''

    def close(self):
        for pid in weensy.descendants(self.shell):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.tmux.close()


@test("make run-gdb in a terminal: break, continue, Control-C stops the guest at the (gdb) prompt, bt, continue goes on, quit stops QEMU")
def _(t):
    t.check(shutil.which('tmux'), 'tmux is missing: install it (./setup)')
    t.check(shutil.which('gdb'), 'gdb is missing: install it (./setup)')
    port = 20000 + (os.getpid() + 7) % 10000
    with weensy.qemu_slots:
        term = Terminal(t, shlex.join(weensy.make_command('run-gdb', PROCS='alice', GDBPORT=port)))
        try:
            term.wait_for(r'kernel_entry \(\) at k-exception\.S.*\n.*\n\(gdb\)\s*$', 30)
            qemus = [p for p in weensy.descendants(term.shell) if command_name(p).startswith('qemu')]
            t.check(len(qemus) == 1, f'expected one QEMU below make run-gdb, found {qemus}')
            term.command('break syscall', r'Breakpoint 2 at')
            term.command('continue', r'Breakpoint 2, syscall \(')
            term.command('delete', r'\(gdb\)\s*$')
            mark = term.command('continue', r'Continuing\.')
            time.sleep(1)               # Alice and the kernel run
            term.keys('C-c')
            mark = term.wait_for(r'Program received signal SIGINT[^\n]*\n(.*\n)*\(gdb\)\s*$', 10, mark)
            text = term.screen()
            t.check('terminating on signal' not in text and 'Remote communication error' not in text,
                    'Control-C reached QEMU:\n' + text[-1500:])
            t.check(all(running(q) for q in qemus), 'QEMU ended on Control-C')
            term.command('bt', r'#0  .*\n(.*\n)*\(gdb\)\s*$')
            term.command('continue', r'Continuing\.')
            time.sleep(1)
            t.check(all(running(q) for q in qemus), 'QEMU ended after continue')
            t.check(re.search(r'Continuing\.\s*$', term.screen()),
                    'GDB is not running the guest after continue:\n' + term.screen()[-800:])
            term.keys('C-c')
            term.wait_for(r'Program received signal SIGINT', 10, mark)
            term.command('quit', r'.')
            deadline = time.monotonic() + 10
            while not term.status() and time.monotonic() < deadline:
                time.sleep(0.2)
            t.check(term.status() == '0', f'make run-gdb exited with status {term.status()!r} '
                    'after quit:\n' + term.screen()[-800:])
            left = [q for q in qemus if running(q)]
            t.check(not left, f'QEMU still runs after GDB quit: {left}')
        finally:
            term.close()


def running(pid):
    """Whether process `pid` exists and has not ended (a zombie has)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False
