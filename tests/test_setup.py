"""./setup, the README's first command, on a Debian machine that lacks
everything: as root it runs apt-get itself, as a user it goes through sudo,
and as a user without sudo it says to run it as root. apt-get, sudo and id
are stand-ins on a PATH of their own that record how they were called."""
import os
import shutil
import subprocess
import tempfile

from weensy import ROOT, test

# What the stand-ins do: apt-get and sudo append their arguments (and
# whether they ran through sudo) to a record file.
APT_GET = '#!/bin/bash\necho "apt-get${VIA_SUDO:+ (via sudo)} $*" >> "$RECORD"\n'
SUDO = '#!/bin/bash\necho "sudo $*" >> "$RECORD"\nVIA_SUDO=1 exec "$@"\n'

EVERY_PACKAGE = ['make', 'g++', 'binutils', 'qemu-system-x86', 'python3', 'gdb', 'tmux',
                 'clang', 'lld', 'llvm', 'clangd']


def run_setup(uid, sudo, present=()):
    """Runs ./setup with only `present` commands (and the stand-ins) on
    PATH, as user `uid`. Returns (status, output, the recorded calls)."""
    bindir = tempfile.mkdtemp(prefix='weensy-setup-')
    try:
        record = os.path.join(bindir, 'record')

        def script(name, text):
            with open(os.path.join(bindir, name), 'w') as f:
                f.write(text)
            os.chmod(os.path.join(bindir, name), 0o755)
        script('apt-get', APT_GET)
        script('id', f'#!/bin/bash\necho {uid}\n')
        script('uname', '#!/bin/bash\necho Linux\n')
        if sudo:
            script('sudo', SUDO)
        # setup runs apt-get through env, under bash.
        for name in ('env', 'bash'):
            os.symlink(shutil.which(name), os.path.join(bindir, name))
        for name in present:
            script(name, '#!/bin/bash\nexit 0\n')
        r = subprocess.run([shutil.which('bash'), os.path.join(ROOT, 'setup')], cwd=ROOT,
                           env={'PATH': bindir, 'RECORD': record, 'HOME': bindir},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, errors='replace',
                           timeout=30)
        calls = open(record).read().splitlines() if os.path.exists(record) else []
        return r.returncode, r.stdout, calls
    finally:
        shutil.rmtree(bindir, ignore_errors=True)


def check_installs(t, status, out, calls, prefix):
    t.check(status == 0, f'./setup failed (status {status}):\n{out}')
    t.check(len(calls) >= 2 and calls[-2] == f'{prefix}update -q',
            f'apt-get update was not run first, as expected ({prefix!r}): {calls}')
    install = calls[-1].split()
    t.check(calls[-1].startswith(prefix) and 'install' in install and '-y' in install,
            f'no {prefix!r}... apt-get install -y: {calls}')
    t.check(sorted(p for p in install if p in EVERY_PACKAGE) == sorted(EVERY_PACKAGE),
            f'the install does not name every missing package {EVERY_PACKAGE}: {calls[-1]}')


@test("./setup as root on a bare Debian installs every missing package with apt-get, without sudo")
def _(t):
    status, out, calls = run_setup(0, sudo=False)
    check_installs(t, status, out, calls, 'apt-get ')
    t.check(not any(c.startswith('sudo') for c in calls), f'sudo was used as root: {calls}')


@test("./setup as a user installs through sudo; without sudo it fails saying to run it as root")
def _(t):
    status, out, calls = run_setup(1000, sudo=True)
    t.check(calls and calls[0] == 'sudo apt-get update -q', f'first call not through sudo: {calls}')
    check_installs(t, status, out, [c for c in calls if not c.startswith('sudo')],
                   'apt-get (via sudo) ')
    status, out, calls = run_setup(1000, sudo=False)
    t.check(status != 0 and 'as root' in out and not calls,
            f'without sudo: status {status}, calls {calls}, output:\n{out}')


@test("./setup on a machine that has everything installs nothing")
def _(t):
    present = ['make', 'g++', 'ld', 'addr2line', 'qemu-system-x86_64', 'python3', 'gdb', 'tmux',
               'clang++', 'ld.lld', 'llvm-objcopy', 'clangd']
    status, out, calls = run_setup(1000, sudo=True, present=present)
    t.check(status == 0 and not calls and 'everything is installed' in out,
            f'status {status}, calls {calls}, output:\n{out}')
