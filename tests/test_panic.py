"""Panics and hangs that say where: a kernel panic names the current
process and, for every backtrace frame, the function, file and line, on the
screen and in the log, without skipping the caller of a function that has
no frame; a kernel that hangs past TIMEOUT is reported with the function,
file and line it was running. The faults and hangs are caused through
QEMU's GDB stub, in the checked-out tree's image."""
import os
import re
import subprocess

import weensy
from weensy import ROOT, test

FRAME = re.compile(r'^  #(\d+) 0x([0-9a-f]+) (\S+)\+(\d+) (\S+):(\d+)( \(inlined: \S+\))?$')


def boot_with_gdb(t, port, procs, gdb_commands, **chosen):
    """Boots headless, stopped for GDB, which runs `gdb_commands` and
    detaches. Returns (Boot, GDB's output)."""
    b, out = weensy.boot_with_gdb(procs, port, gdb_commands, **chosen)
    t.boots.append(b)
    return b, out


def addr2line(addresses):
    """The host's answer, 'file:line' of the function itself (the last of
    addr2line's inlining chain), for each kernel address."""
    tool = os.environ.get('ADDR2LINE', 'addr2line')
    answers = []
    for a in addresses:
        r = subprocess.run([tool, '-i', '-e', os.path.join(ROOT, 'obj/kernel.full'), hex(a)],
                           stdout=subprocess.PIPE, errors='replace', check=True)
        last = r.stdout.strip().splitlines()[-1]
        answers.append(os.path.relpath(last.split(' ')[0].rsplit(':', 1)[0], ROOT)
                       + ':' + last.split(' ')[0].rsplit(':', 1)[1])
    return answers


@test("A kernel fault in a function without a frame panics naming the process, and the backtrace names its caller and each frame's file:line")
def _(t):
    port = 20000 + (os.getpid() + 11) % 10000
    # user_range_ok (k-memory.cc) checks Eve's buffer for sys_getsysname;
    # with a null page table it faults in vmiter::find, a function GCC
    # gives no frame (it calls nothing and needs no stack).
    # (The loader checks pages with it too: stop in Eve's system call first.)
    b, gdb = boot_with_gdb(t, port, 'eve-sysname',
                           ['hbreak syscall_getsysname', 'continue', 'delete',
                            'hbreak user_range_ok', 'continue', 'bt', 'set $rdi = 0'])
    t.check('Breakpoint 2, user_range_ok' in gdb, f'GDB did not stop at user_range_ok:\n{gdb}')
    t.check(b.status == 1, f'exit status {b.status}, expected 1 (kernel panic)')
    log = b.log_lines
    panics = [i for i, l in enumerate(log) if l.startswith('PANIC: ')]
    t.check(panics, 'no PANIC line in the log')
    t.check(log[panics[0] + 1] == 'current process: proc 1 (eve-sysname)',
            f'the line after PANIC does not name proc 1 (eve-sysname): {log[panics[0] + 1]!r}')
    start = log.index('backtrace:', panics[0])
    frames = []
    for l in log[start + 1:]:
        m = FRAME.match(l)
        if not m:
            break
        frames.append(m)
    shown = '\n'.join(log[start:start + 1 + len(frames) + 1])
    names = [m.group(3) for m in frames]
    # GDB's own backtrace at the breakpoint: user_range_ok called by
    # syscall_getsysname (inlined into syscall: GDB still names it), called
    # by syscall.
    t.check(re.search(r'#0  user_range_ok .*\n#1 .* syscall_getsysname .*\n#2 .* syscall \(', gdb),
            f"GDB's backtrace at the breakpoint is not user_range_ok <- syscall_getsysname:\n{gdb}")
    t.check('user_range_ok' in names and names[names.index('user_range_ok'):][:3]
            == ['user_range_ok', 'syscall', 'syscall_entry'],
            f'the backtrace does not go user_range_ok <- syscall <- syscall_entry:\n{shown}')
    # The kernel's own backtrace names syscall's frame and, inlined in it,
    # the line of syscall_getsysname that made the call.
    kernel_cc = weensy.read('kernel.cc').split('\n')
    first = next(i for i, l in enumerate(kernel_cc) if 'syscall_getsysname(proc* p' in l) + 1
    last = next(i for i in range(first, len(kernel_cc)) if kernel_cc[i] == '}') + 1
    inlined = frames[names.index('syscall')].group(7) or ''
    m = re.match(r' \(inlined: kernel\.cc:(\d+)\)', inlined)
    t.check(m and first <= int(m.group(1)) <= last,
            f'syscall\'s frame does not say it is inlined from syscall_getsysname '
            f'(kernel.cc:{first}-{last}):\n{shown}')
    t.check(names[0] != 'user_range_ok' and len(names) >= 4 and names[1] != 'user_range_ok',
            f'the fault is not in a function called by user_range_ok, or its caller is '
            f'missing:\n{shown}')
    # Every frame's file:line is what the host's addr2line says about the
    # same address (for a return address, the call before it).
    addrs = [int(m.group(2), 16) - (i != 0) for i, m in enumerate(frames)]
    expected = addr2line(addrs)
    got = [f'{m.group(5)}:{m.group(6)}' for m in frames]
    t.check(got == expected, f'file:line per frame {got}, addr2line says {expected}:\n{shown}')
    t.check(frames[names.index('user_range_ok')].group(5) == 'k-memory.cc',
            f'user_range_ok is not placed in k-memory.cc:\n{shown}')
    # The student sees it on the screen too.
    screen = '\n'.join(b.console)
    t.check('current process: proc 1 (eve-sysname)' in screen
            and re.search(r'#\d+ 0x[0-9a-f]+ user_range_ok\+\d+ k-memory\.cc:\d+', screen),
            'the screen does not show the process and user_range_ok with its file:line:\n' + screen)


@test("A kernel that loops with interrupts on past TIMEOUT: run-qemu names the function, file and line it was in")
def _(t):
    port = 20000 + (os.getpid() + 12) % 10000
    # At syscall's first instruction, GDB writes `jmp .` (EB FE) there and
    # turns interrupts on: timer ticks go on, so the watchdog is content,
    # but the kernel never gets anywhere.
    b, gdb = boot_with_gdb(t, port, 'alice',
                           ['hbreak syscall', 'continue', 'set {unsigned short} $pc = 0xfeeb',
                            'set $eflags = $eflags | 0x200'], ticks=100000, timeout=3)
    t.check('Breakpoint 1, syscall' in gdb, f'GDB did not stop at syscall:\n{gdb}')
    t.check(b.status == 2, f'exit status {b.status}, expected 2 (TIMEOUT)')
    err = b.stderr
    t.check('no power-off within TIMEOUT=3' in err, f'stderr does not name TIMEOUT=3:\n{err}')
    samples = re.findall(r'^  rip=0x[0-9a-f]+ in the kernel: (\S+) at (\S+):(\d+)$', err, re.M)
    t.check(samples and all(s[0] == 'syscall' and s[1] == 'kernel.cc' for s in samples),
            f'the samples do not place the kernel in syscall, kernel.cc:\n{err}')
    t.check(re.search(r"^The kernel's backtrace at the last of them:\n  #0 0x[0-9a-f]+ syscall at kernel\.cc:\d+$",
                      err, re.M), f'no backtrace starting in syscall:\n{err}')
    t.check('The screen at that moment:' in err, f'the screen is not shown:\n{err}')
