"""Attacks: Eve tries each attack from the lectures beside Alice. Every
attack fails the same way: Eve alone pays for it (killed, or a -1 from the
kernel), the kernel keeps running, and Alice keeps counting."""
import os
import re

from weensy import ROOT, STEADY_CLOCK, test


# ---- What the tests compare against: read from the source and the build ----

def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def define(path, name):
    """The value of `#define NAME VALUE` in a source file (a number or a
    string literal)."""
    m = re.search(r'^#define\s+' + name + r'\s+(\S+)', read(path), re.M)
    value = m.group(1)
    return value.strip('"') if value.startswith('"') else int(value.rstrip('UL'), 0)


WARMUP = define('u-eve.hh', 'EVE_WARMUP_LINES') * 1024  # Eve's yields before she attacks
SYSNAME = define('lib.hh', 'SYSNAME')


def kernel_symbol(name):
    """The address of kernel symbol `name`, from obj/kernel.sym."""
    for line in read('obj/kernel.sym').splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[2] == name:
            return int(fields[0], 16)
    raise KeyError(f'{name} is not in obj/kernel.sym')


def slot_offset(pid):
    """How far process `pid` is moved from the slot-1 addresses its program
    is linked at."""
    return (pid - 1) * define('lib.hh', 'PROC_SLOT_SIZE')


def instruction_address(program, pattern):
    """The link-time address of the one instruction in obj/p-PROGRAM.asm
    matching `pattern` (a regular expression)."""
    found = [int(m.group(1), 16)
             for m in re.finditer(r'^\s*([0-9a-f]+):\t(.*)$', read(f'obj/p-{program}.asm'), re.M)
             if re.search(pattern, m.group(2))]
    assert len(found) == 1, f'{len(found)} instructions match {pattern!r} in obj/p-{program}.asm'
    return found[0]


def function_range(program, name):
    """[start, end) of function `name` in obj/p-PROGRAM.sym, at link time."""
    symbols = [(int(l.split()[0], 16), l.split(None, 2)[2])
               for l in read(f'obj/p-{program}.sym').splitlines() if len(l.split()) >= 3]
    for i, (address, symbol) in enumerate(symbols):
        if symbol.startswith(name + '('):
            return address, symbols[i + 1][0]
    raise KeyError(f'{name} is not in obj/p-{program}.sym')


# ---- Checks every attack shares ----

def survived(t, b, ticks, alice_pid, eve_pid, eve_program):
    """Alice and the kernel came through: no panic, a run of all `ticks`,
    and Alice still runnable and counting well past the attack."""
    t.check(not any(l.startswith('PANIC: ') for l in b.lines), 'the kernel panicked')
    t.check(b.ticks == ticks, f'the run stopped at tick {b.ticks} of {ticks}')
    alice = t.proc(b, alice_pid, 'alice', 'runnable')
    eve = t.proc(b, eve_pid, eve_program)
    # Until the attack the two alternate, one system call each; afterwards
    # Alice must go on at least another line's worth.
    t.check(alice.syscalls >= WARMUP + 1024,
            f'Alice made only {alice.syscalls} system calls; Eve attacked after {WARMUP}')
    numbers = b.console_numbers('Alice')
    t.check(numbers and abs(max(numbers) - alice.syscalls // 1024) <= 1,
            f"Alice's last line on screen is #{max(numbers or [0])}, but her "
            f'{alice.syscalls} system calls mean about #{alice.syscalls // 1024}')
    return alice, eve


def killed(t, b, alice_pid, eve_pid, eve_program, fault, rip, detail=None):
    """Eve was killed at her attack, for `fault` at `rip`, and the CPU was
    Alice's from then on."""
    eve = t.proc(b, eve_pid, eve_program, 'broken')
    alice = t.proc(b, alice_pid)
    t.check(alice.ticks >= 0.8 * b.ticks, f'Alice got only {alice.ticks} of {b.ticks} ticks')
    t.check(eve.syscalls == WARMUP,
            f'Eve made {eve.syscalls} system calls; she attacks after exactly {WARMUP}')
    t.check(eve.reason.startswith(fault), f'reason {eve.reason!r} does not start with {fault!r}')
    t.check(f'rip=0x{rip:x}' in eve.reason, f'reason {eve.reason!r} does not name rip=0x{rip:x}')
    if detail:
        t.check(detail in eve.reason, f'reason {eve.reason!r} does not say {detail!r}')
    t.check(b.killed(eve_pid) == [eve.reason],
            f'the log says proc {eve_pid} killed: {b.killed(eve_pid)}, expected [{eve.reason!r}]')


# Attack boots run on the steady clock (weensy.STEADY_CLOCK), so how far
# Alice gets does not depend on the machine running the tests.
ICOUNT = STEADY_CLOCK
ATTACK_TICKS = 40


def boot_attack(t, eve_program, eve_first=False, ticks=ATTACK_TICKS):
    """Boots Alice and `eve_program` (Eve first if asked); returns the boot
    and the two pids."""
    procs = f'{eve_program} alice' if eve_first else f'alice {eve_program}'
    b = t.boot(procs, ticks=ticks, qemuextra=ICOUNT)
    return (b, 2, 1) if eve_first else (b, 1, 2)


# ---- The attacks ----

def spin(t, eve_first):
    b, alice_pid, eve_pid = boot_attack(t, 'eve-spin', eve_first, ticks=60)
    t.check(not any(l.startswith('PANIC: ') for l in b.lines), 'the kernel panicked')
    alice = t.proc(b, alice_pid, 'alice', 'runnable')
    eve = t.proc(b, eve_pid, 'eve-spin', 'runnable')
    t.check(eve.syscalls == WARMUP,
            f'Eve made {eve.syscalls} system calls; she stops calling after {WARMUP}')
    t.check(eve.ticks >= 0.8 * b.ticks, f'Eve got only {eve.ticks} of {b.ticks} ticks')
    # Each tick takes the CPU from Eve; Alice runs one iteration (one yield)
    # before giving it back.
    t.check(alice.syscalls - eve.syscalls >= eve.ticks // 2,
            f'Alice made only {alice.syscalls - eve.syscalls} system calls while Eve spun '
            f'for {eve.ticks} ticks')


@test("Eve spins without yielding: the timer still takes the CPU back and Alice runs once per tick")
def _(t):
    spin(t, eve_first=False)


@test("Eve spins without yielding as pid 1: Alice in slot 2 still runs once per tick")
def _(t):
    spin(t, eve_first=True)


def cli(t, eve_first):
    b, alice_pid, eve_pid = boot_attack(t, 'eve-cli', eve_first)
    survived(t, b, ATTACK_TICKS, alice_pid, eve_pid, 'eve-cli')
    rip = instruction_address('eve-cli', r'^cli\b') + slot_offset(eve_pid)
    killed(t, b, alice_pid, eve_pid, 'eve-cli', 'general protection fault', rip)


@test("Eve executes cli, is killed by a general protection fault at that instruction, and Alice keeps counting")
def _(t):
    cli(t, eve_first=False)


@test("Eve as pid 1 executes cli, is killed at that instruction in slot 1, and Alice in slot 2 keeps counting")
def _(t):
    cli(t, eve_first=True)


def div0(t, eve_first):
    b, alice_pid, eve_pid = boot_attack(t, 'eve-div0', eve_first)
    survived(t, b, ATTACK_TICKS, alice_pid, eve_pid, 'eve-div0')
    rip = instruction_address('eve-div0', r'^idiv') + slot_offset(eve_pid)
    killed(t, b, alice_pid, eve_pid, 'eve-div0', 'divide error', rip)


@test("Eve divides by zero, is killed by a divide error at her idiv, and Alice keeps counting")
def _(t):
    div0(t, eve_first=False)


@test("Eve as pid 1 divides by zero, is killed at her idiv in slot 1, and Alice in slot 2 keeps counting")
def _(t):
    div0(t, eve_first=True)


def kwrite(t, eve_first):
    b, alice_pid, eve_pid = boot_attack(t, 'eve-kwrite', eve_first)
    survived(t, b, ATTACK_TICKS, alice_pid, eve_pid, 'eve-kwrite')
    target = kernel_symbol('syscall_entry')
    eve = t.proc(b, eve_pid)
    # The faulting store is in Eve's process_main, in her own slot.
    start, end = function_range('eve-kwrite', 'process_main')
    m = re.search(r'rip=0x([0-9a-f]+)', eve.reason or '')
    rip = int(m.group(1), 16) if m else 0
    t.check(start + slot_offset(eve_pid) <= rip < end + slot_offset(eve_pid),
            f"rip=0x{rip:x} is not in Eve's process_main in slot {eve_pid}")
    killed(t, b, alice_pid, eve_pid, 'eve-kwrite', 'page fault', rip, f'write to 0x{target:x}')


@test("Eve writes kernel code, is killed by a page fault writing syscall_entry's address, and Alice keeps counting")
def _(t):
    kwrite(t, eve_first=False)


@test("Eve as pid 1 writes kernel code, is killed by a page fault at syscall_entry, and Alice in slot 2 keeps counting")
def _(t):
    kwrite(t, eve_first=True)


@test("Eve jumps into kernel code, is killed by a page fault fetching kernel_entry, and Alice keeps counting")
def _(t):
    b, alice_pid, eve_pid = boot_attack(t, 'eve-kjump')
    survived(t, b, ATTACK_TICKS, alice_pid, eve_pid, 'eve-kjump')
    target = kernel_symbol('kernel_entry')
    killed(t, b, alice_pid, eve_pid, 'eve-kjump', 'page fault', target,
           f'instruction fetch from 0x{target:x}')


# sys_getsysname and sys_page_alloc return -1 and Eve prints that on the
# screen, then counts on beside Alice; their lines soon scroll her report
# away. With icount the screen at power-off is the same on any host: after
# REPORT_TICKS, Eve is about halfway between her report and the line that
# pushes it off the screen.
REPORT_TICKS = 12


def refused(t, eve_program, eve_first, lines):
    """Eve's call was refused and she went on: both processes keep making
    system calls and `lines` are on the screen."""
    b, alice_pid, eve_pid = boot_attack(t, eve_program, eve_first, ticks=REPORT_TICKS)
    alice, eve = survived(t, b, REPORT_TICKS, alice_pid, eve_pid, eve_program)
    t.check(eve.state == 'runnable', f'Eve is {eve.state} ({eve.reason})')
    t.check(eve.syscalls > WARMUP + 1024,
            f'Eve made {eve.syscalls} system calls: she did not go on counting after her attack')
    t.check(abs(alice.syscalls - eve.syscalls) <= b.ticks + 4,
            f'Alice ({alice.syscalls}) and Eve ({eve.syscalls}) no longer take turns')
    for line in lines:
        t.check(line in b.console, f'the screen does not show {line!r}')


@test("Eve asks sys_getsysname to write over syscall_entry: it returns -1, her own buffer gets the name, both keep running")
def _(t):
    refused(t, 'eve-sysname', False,
            ['Eve: sys_getsysname returned -1', f'Eve: my own buffer: 0 "{SYSNAME}"'])


@test("Eve as pid 1 asks sys_getsysname to write over syscall_entry: it returns -1 and both keep running")
def _(t):
    refused(t, 'eve-sysname', True,
            ['Eve: sys_getsysname returned -1', f'Eve: my own buffer: 0 "{SYSNAME}"'])


@test("Eve asks sys_page_alloc for the page of syscall_entry: it returns -1 and both keep running")
def _(t):
    refused(t, 'eve-pagealloc', False, ['Eve: sys_page_alloc returned -1'])


# ---- sys_panic ----

PANIC_MESSAGE = re.search(r'panic_message\[\] = "([^"]*)"', read('p-eve-panic.cc')).group(1)


@test("Eve calls sys_panic: only she is killed, with her message as the reason, and the machine runs on")
def _(t):
    b, alice_pid, eve_pid = boot_attack(t, 'eve-panic')
    survived(t, b, ATTACK_TICKS, alice_pid, eve_pid, 'eve-panic')
    eve = t.proc(b, eve_pid, 'eve-panic', 'broken')
    t.check(eve.reason == f'sys_panic: {PANIC_MESSAGE}',
            f'reason is {eve.reason!r}, expected "sys_panic: {PANIC_MESSAGE}"')
    t.check(eve.syscalls == WARMUP + 1,
            f'Eve made {eve.syscalls} system calls, expected {WARMUP} yields and sys_panic')


@test("Eves passing sys_panic a kernel, an unmapped and a non-canonical pointer are each just killed")
def _(t):
    pointers = [kernel_symbol('syscall_entry'), 0xffff800000000000, 0x8000000000000000]
    b = t.boot('alice ' + ' '.join(f'eve-panic:0x{p:x}' for p in pointers), ticks=ATTACK_TICKS,
               qemuextra=ICOUNT)
    survived(t, b, ATTACK_TICKS, 1, 2, 'eve-panic')
    for pid, pointer in enumerate(pointers, start=2):
        eve = t.proc(b, pid, 'eve-panic', 'broken')
        t.check(eve.reason.startswith('sys_panic') and f'0x{pointer:x}' in eve.reason,
                f'proc {pid} reason {eve.reason!r} does not name sys_panic and 0x{pointer:x}')
        t.check(eve.syscalls == WARMUP + 1,
                f'proc {pid} made {eve.syscalls} system calls, expected {WARMUP} yields and sys_panic')
