"""Attacks: Eve tries each attack from the lectures beside Alice. Every
attack fails the same way: Eve alone pays for it (killed, or a -1 from the
kernel), the kernel keeps running, and Alice keeps counting."""
import re
from typing import Callable, NamedTuple, Optional

from weensy import (CALLS_PER_LINE, EVE_WARMUP, STEADY_CLOCK, SYSNAME, cases, function_range,
                    instruction_address, kernel_symbol, program_source, read, slot_offset, test)

# Attack boots run on the steady clock, so how far Alice gets does not
# depend on the machine running the tests.
ATTACK_TICKS = 40


def boot_attack(t, procs, ticks=ATTACK_TICKS):
    """Boots Alice and one Eve in the slot order `procs` gives; returns the
    boot and the pids of Alice and Eve."""
    b = t.boot_lecture(procs, ticks=ticks, qemuextra=STEADY_CLOCK)
    alice_pid = procs.split().index('alice') + 1
    return b, alice_pid, 3 - alice_pid


def eve_program(procs):
    """The Eve program among `procs` (the one that is not Alice)."""
    return next(name for name in procs.split() if name != 'alice')


def survived(t, b, ticks, alice_pid, eve_pid, program):
    """Alice and the kernel came through: no panic, a run of all `ticks`,
    and Alice still runnable and counting well past the attack."""
    t.no_panic(b)
    t.check(b.ticks == ticks, f'the run stopped at tick {b.ticks} of {ticks}')
    alice = t.alice_counts(b, alice_pid, at_least=1)
    eve = t.proc(b, eve_pid, program)
    # Until the attack the two alternate, one system call each; afterwards
    # Alice must go on at least another line's worth.
    t.check(alice.syscalls >= EVE_WARMUP + CALLS_PER_LINE,
            f'Alice made only {alice.syscalls} system calls; Eve attacked after {EVE_WARMUP}')
    return alice, eve


# ---- Eve spins ----

class Spin(NamedTuple):
    sentence: str
    procs: str


@cases([
    Spin("Eve spins without yielding: the timer still takes the CPU back and Alice runs once "
         "per tick", 'alice eve-spin'),
    Spin("Eve spins without yielding as pid 1: Alice in slot 2 still runs once per tick",
         'eve-spin alice'),
])
def _(t, case):
    b, alice_pid, eve_pid = boot_attack(t, case.procs, ticks=60)
    t.no_panic(b)
    alice = t.proc(b, alice_pid, 'alice', 'runnable')
    eve = t.proc(b, eve_pid, 'eve-spin', 'runnable')
    t.check(eve.syscalls == EVE_WARMUP,
            f'Eve made {eve.syscalls} system calls; she stops calling after {EVE_WARMUP}')
    t.check(eve.ticks >= 0.8 * b.ticks, f'Eve got only {eve.ticks} of {b.ticks} ticks')
    # Each tick takes the CPU from Eve; Alice runs one iteration (one yield)
    # before giving it back.
    t.check(alice.syscalls - eve.syscalls >= eve.ticks // 2,
            f'Alice made only {alice.syscalls - eve.syscalls} system calls while Eve spun '
            f'for {eve.ticks} ticks')


# ---- Eve is killed at her attack ----

def at_instruction(pattern):
    """Where Eve is killed: her one instruction matching `pattern`, in her slot."""
    return lambda t, program, pid, reason: instruction_address(program, pattern) + slot_offset(pid)


def in_process_main(t, program, pid, reason):
    """Where Eve is killed: the rip her reason names, which must lie in her
    own process_main, in her slot."""
    start, end = function_range(program, 'process_main')
    m = re.search(r'rip=0x([0-9a-f]+)', reason or '')
    rip = int(m.group(1), 16) if m else 0
    t.check(start + slot_offset(pid) <= rip < end + slot_offset(pid),
            f"rip=0x{rip:x} is not in Eve's process_main in slot {pid}")
    return rip


def at_kernel(name):
    """Where Eve is killed: kernel symbol `name`, where she jumped."""
    return lambda t, program, pid, reason: kernel_symbol(name)


class Kill(NamedTuple):
    sentence: str
    procs: str                      # Alice and Eve, in slot order
    fault: str                      # how Eve's kill reason starts
    rip: Callable                   # (t, program, pid, reason) -> the rip it names
    access: Optional[str] = None    # the access the reason names ...
    target: Optional[str] = None    # ... at this kernel symbol's address


@cases([
    Kill("Eve executes cli, is killed by a general protection fault at that instruction, and "
         "Alice keeps counting",
         'alice eve-cli', 'general protection fault', at_instruction(r'^cli\b')),
    Kill("Eve as pid 1 executes cli, is killed at that instruction in slot 1, and Alice in "
         "slot 2 keeps counting",
         'eve-cli alice', 'general protection fault', at_instruction(r'^cli\b')),
    Kill("Eve divides by zero, is killed by a divide error at her idiv, and Alice keeps counting",
         'alice eve-div0', 'divide error', at_instruction(r'^idiv')),
    Kill("Eve as pid 1 divides by zero, is killed at her idiv in slot 1, and Alice in slot 2 "
         "keeps counting",
         'eve-div0 alice', 'divide error', at_instruction(r'^idiv')),
    Kill("Eve writes kernel code, is killed by a page fault writing syscall_entry's address, "
         "and Alice keeps counting",
         'alice eve-kwrite', 'page fault', in_process_main, 'write to', 'syscall_entry'),
    Kill("Eve as pid 1 writes kernel code, is killed by a page fault at syscall_entry, and "
         "Alice in slot 2 keeps counting",
         'eve-kwrite alice', 'page fault', in_process_main, 'write to', 'syscall_entry'),
    Kill("Eve jumps into kernel code, is killed by a page fault fetching kernel_entry, and "
         "Alice keeps counting",
         'alice eve-kjump', 'page fault', at_kernel('kernel_entry'),
         'instruction fetch from', 'kernel_entry'),
])
def _(t, case):
    """Eve was killed at her attack, for `fault` at `rip`, and the CPU was
    Alice's from then on."""
    program = eve_program(case.procs)
    b, alice_pid, eve_pid = boot_attack(t, case.procs)
    survived(t, b, ATTACK_TICKS, alice_pid, eve_pid, program)
    eve = t.proc(b, eve_pid, program, 'broken')
    alice = t.proc(b, alice_pid)
    t.check(alice.ticks >= 0.8 * b.ticks, f'Alice got only {alice.ticks} of {b.ticks} ticks')
    t.check(eve.syscalls == EVE_WARMUP,
            f'Eve made {eve.syscalls} system calls; she attacks after exactly {EVE_WARMUP}')
    t.check(eve.reason.startswith(case.fault),
            f'reason {eve.reason!r} does not start with {case.fault!r}')
    rip = case.rip(t, program, eve_pid, eve.reason)
    t.check(f'rip=0x{rip:x}' in eve.reason, f'reason {eve.reason!r} does not name rip=0x{rip:x}')
    if case.target:
        detail = f'{case.access} 0x{kernel_symbol(case.target):x}'
        t.check(detail in eve.reason, f'reason {eve.reason!r} does not say {detail!r}')
    t.check(b.killed(eve_pid) == [eve.reason],
            f'the log says proc {eve_pid} killed: {b.killed(eve_pid)}, expected [{eve.reason!r}]')


# ---- Eve's call is refused ----

# sys_getsysname and sys_page_alloc return -1 and Eve prints that on the
# screen, counts one more line (eve-pagealloc) and keeps quiet, yielding,
# while Alice's lines scroll the report up. With icount the screen at
# power-off is the same on any host: after REPORT_TICKS the report is still
# on it.
REPORT_TICKS = 12
SYSNAME_REPORT = ['Eve: sys_getsysname returned -1', f'Eve: my own buffer: 0 "{SYSNAME}"']


class Refused(NamedTuple):
    sentence: str
    procs: str
    lines: list                     # what Eve's report on the screen says


@cases([
    Refused("Eve asks sys_getsysname to write over syscall_entry: it returns -1, her own buffer "
            "gets the name, both keep running", 'alice eve-sysname', SYSNAME_REPORT),
    Refused("Eve as pid 1 asks sys_getsysname to write over syscall_entry: it returns -1 and "
            "both keep running", 'eve-sysname alice', SYSNAME_REPORT),
    Refused("Eve asks sys_page_alloc for the page of syscall_entry: it returns -1 and both keep "
            "running", 'alice eve-pagealloc', ['Eve: sys_page_alloc returned -1']),
])
def _(t, case):
    """Eve's call was refused and she went on: both processes keep making
    system calls and her report is on the screen."""
    b, alice_pid, eve_pid = boot_attack(t, case.procs, ticks=REPORT_TICKS)
    alice, eve = survived(t, b, REPORT_TICKS, alice_pid, eve_pid, eve_program(case.procs))
    t.check(eve.state == 'runnable', f'Eve is {eve.state} ({eve.reason})')
    t.check(eve.syscalls > EVE_WARMUP + CALLS_PER_LINE,
            f'Eve made {eve.syscalls} system calls: she did not go on counting after her attack')
    t.check(abs(alice.syscalls - eve.syscalls) <= b.ticks + 4,
            f'Alice ({alice.syscalls}) and Eve ({eve.syscalls}) no longer take turns')
    for line in case.lines:
        t.check(line in b.console, f'the screen does not show {line!r}')


# ---- sys_panic ----

@test("Eve calls sys_panic: only she is killed, with her message as the reason, and the machine runs on")
def _(t):
    message = re.search(r'panic_message\[\] = "([^"]*)"',
                        read(program_source('eve-panic'))).group(1)
    b, alice_pid, eve_pid = boot_attack(t, 'alice eve-panic')
    survived(t, b, ATTACK_TICKS, alice_pid, eve_pid, 'eve-panic')
    eve = t.proc(b, eve_pid, 'eve-panic', 'broken')
    t.check(eve.reason == f'sys_panic: {message}',
            f'reason is {eve.reason!r}, expected "sys_panic: {message}"')
    t.check(eve.syscalls == EVE_WARMUP + 1,
            f'Eve made {eve.syscalls} system calls, expected {EVE_WARMUP} yields and sys_panic')


@test("Eves passing sys_panic a kernel, an unmapped and a non-canonical pointer are each just killed")
def _(t):
    pointers = [kernel_symbol('syscall_entry'), 0xffff800000000000, 0x8000000000000000]
    b = t.boot_lecture('alice ' + ' '.join(f'eve-panic:0x{p:x}' for p in pointers), ticks=ATTACK_TICKS,
               qemuextra=STEADY_CLOCK)
    survived(t, b, ATTACK_TICKS, 1, 2, 'eve-panic')
    for pid, pointer in enumerate(pointers, start=2):
        eve = t.proc(b, pid, 'eve-panic', 'broken')
        t.check(eve.reason.startswith('sys_panic') and f'0x{pointer:x}' in eve.reason,
                f'proc {pid} reason {eve.reason!r} does not name sys_panic and 0x{pointer:x}')
        t.check(eve.syscalls == EVE_WARMUP + 1,
                f'proc {pid} made {eve.syscalls} system calls, expected {EVE_WARMUP} yields and sys_panic')
