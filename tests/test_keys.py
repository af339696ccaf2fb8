"""Keys typed in the OS screen: m shows the memory map, i checks the kernel's
integrity on demand, q powers the machine off."""
import os
import shutil
import socket
import tempfile
import threading
import time

from weensy import test


def boot_with_keys(t, keys, summary=True):
    """Boots headless with a second QEMU monitor, and once Alice is running
    types `keys` into the machine's keyboard (QEMU's sendkey)."""
    sock_dir = tempfile.mkdtemp(prefix='weensyos-keys-')
    sock_path = os.path.join(sock_dir, 'monitor.sock')

    def typist():
        deadline = time.monotonic() + 20
        while not os.path.exists(sock_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.4)             # past the boot: the kernel polls each tick
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock_path)
            for key in keys:
                s.sendall(f'sendkey {key}\n'.encode())
                time.sleep(0.15)
            s.close()
        except OSError:
            pass

    th = threading.Thread(target=typist)
    th.start()
    b = t.boot('alice eve', ticks=150, status=None, summary=summary,
               qemuextra=f'-monitor unix:{sock_path},server=on,wait=off')
    th.join()
    shutil.rmtree(sock_dir, ignore_errors=True)
    return b


@test("Typing m and i in the OS screen prints the memory map and an integrity check on the console and in the log")
def _(t):
    b = boot_with_keys(t, ['m', 'i'])
    t.check(b.status == 0, f'exit status {b.status}')
    summary = b.lines.index(next(l for l in b.lines if l.startswith('summary:')))
    before = b.lines[:summary]
    maps = [i for i, l in enumerate(before) if l == 'physical memory, one character per page:']
    # One map from 'm', one written at the end of every headless run.
    t.check(len(maps) == 2, f'expected the memory map twice in the log (m, then the end), got {len(maps)}')
    t.check('integrity check: kernel text=ok pagetables=ok' in before,
            "no on-demand integrity check in the log after typing i")


@test("Typing q in the OS screen powers the machine off at once, without a summary")
def _(t):
    b = boot_with_keys(t, ['q'], summary=False)
    t.check(b.status == 0, f'exit status {b.status}, expected 0 (powered off)')
    t.check('quit requested from the keyboard' in b.lines, 'the kernel did not log the quit')
    t.check(b.ticks is None, 'a summary was printed: the run went on to TICKS')
