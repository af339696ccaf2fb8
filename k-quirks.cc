// k-quirks.cc: defenses against behaviour of QEMU's emulator (TCG, QEMU 7.2)
// that real x86-64 processors do not have. On real hardware the kernel
// would not need them; WeensyOS runs on QEMU, so a hostile process would
// find each of these holes (tests/programs/ has one program per hole).
//
// 1. Virtual-8086 mode from 64-bit code. A 32-bit `iretl` at CPL 3 with
//    FL_VM in the popped flags enters virtual-8086 mode (real processors
//    refuse: there is no virtual-8086 mode in long mode). The escapee runs
//    16-bit code with a %cs of its choosing, even one whose low bits say
//    CPL 0, and, if it also asked for IOPL 3, may execute `cli`.
//    Answers: entered_from_vm86() (the kernel never runs in that mode, so
//    it was a process), the compatibility-mode `syscall` entry below, and
//    quirk_stop_vm86_escapee(), which the watchdog's NMI calls.
// 2. `int $N` error codes. At a closed IDT gate the processor reports the
//    vector in the error code's bits 3-15; QEMU before 8.0 reports 2N in
//    64-bit mode (QEMU issue 1382). quirk_int_vector() reads N from the
//    process's instruction instead.
//
// Every place outside this file that answers one of them carries the
// comment "QUIRK: vm86" (1) or "QUIRK: int-vector" (2) on the line above
// (tests/test_source.py holds this list to those tags):
//   k-exception.S   `FL_VM`: the entry's own test, for the stack (vm86)
//   k-hardware.cc   `X86SEG_DB`: data segments as sysretq's %ss (vm86)
//   k-hardware.cc   `user_selector` drops an escapee's real-mode selectors (vm86)
//   k-hardware.cc   `syscall_entry_compat` is the CSTAR entry (vm86)
//   k-hardware.cc   `FL_VM` cleared by `syscall` (vm86)
//   k-hardware.cc   `quirk_int_vector` names the vector of `int $N` (int-vector)
//   k-watchdog.cc   `quirk_stop_vm86_escapee` on every watchdog tick (vm86)
#include "kernel.hh"

bool entered_from_vm86(const regstate* regs) {
    return regs->reg_rflags & FL_VM;
}

// Whether the kernel was entered from a process. The low two bits of the
// saved %cs are the privilege level the processor was running at, 0 for
// the kernel and 3 for a process; but a process in virtual-8086 mode may
// hold any %cs, even one whose low bits are 0. The kernel never runs in
// that mode, so FL_VM set means a process too.
bool entered_from_process(const regstate* regs) {
    return (regs->reg_cs & 3) == 3 || entered_from_vm86(regs);
}

// `syscall` from virtual-8086 mode enters through MSR_IA32_CSTAR (the
// compatibility-mode target), with the escapee's flags in %r11: IOPL 3
// among them, which `sysretq` would hand back to it in 64-bit mode. This
// entry drops IOPL and VM from %r11, then takes the normal path (also with
// PTSWITCH=1: staying on the process's table is correct in both modes). It
// touches no memory: %rsp is still the process's.
asm(".pushsection .text\n"
    ".globl syscall_entry_compat\n"
    ".type syscall_entry_compat, @function\n"
    "syscall_entry_compat:\n"
    "    andq $~0x23000, %r11\n"        // ~(FL_VM | FL_IOPL_MASK)
    "    jmp syscall_entry\n"
    ".popsection");
static_assert((FL_VM | FL_IOPL_MASK) == 0x23000);

// Called on every watchdog tick that interrupted a process: one found in
// virtual-8086 mode is killed (on a real processor it could not be there).
void quirk_stop_vm86_escapee(regstate* regs) {
    if (!entered_from_vm86(regs)) {
        return;
    }
    // Her flags as she set them: QEMU 10 also sets the resume flag (RF) in
    // the frame of an NMI that struck her, QEMU 7.2 does not.
    char why[PROC_REASON_SIZE];
    snprintf(why, sizeof(why), "watchdog: interrupts off (rflags 0x%lx, cs 0x%lx), rip=0x%lx",
             regs->reg_rflags & ~FL_RF, regs->reg_cs, regs->reg_rip);
    // Restarted (RESPAWN), she escapes again at once; the timer interrupt
    // that came due while she held interrupts off then strikes the next
    // process at its first instruction, which keeps the CPU all the same
    // (slice_over in kernel.cc): Alice runs once between two lives
    // (p-eve-v86respawn.cc).
    process_kill(current, why);
    schedule();
}

// The vector N of the `int $N` that raised general protection fault `regs`
// at a closed IDT gate. When the process can read its own instruction, N
// comes from it (0xCD N, after any prefixes; `into`, 0xCE, is vector 4);
// otherwise from the error code. In virtual-8086 mode the instruction is at
// linear address %cs * 16 + %ip.
uint64_t quirk_int_vector(const regstate* regs) {
    if ((regs->reg_cs & 3) == 0 && !entered_from_vm86(regs)) {
        return regs->reg_errcode >> 3;      // the kernel's own fault
    }
    uintptr_t rip = regs->reg_rip;
    if (entered_from_vm86(regs)) {
        rip = ((regs->reg_cs & 0xFFFF) << 4) + (rip & 0xFFFF);
    }
    for (int n = 0; n != 15 && user_range_ok(current->pagetable, rip, 2, false); ++n, ++rip) {
        uint8_t b[2];
        user_copy(b, reinterpret_cast<const void*>(rip), 2);
        if (b[0] == 0xCD) {
            return b[1];
        } else if (b[0] == 0xCE) {
            return INT_OF;
        }
        bool prefix = (b[0] >= 0x40 && b[0] <= 0x4F) || b[0] == 0x66 || b[0] == 0x67
            || b[0] == 0xF0 || b[0] == 0xF2 || b[0] == 0xF3 || b[0] == 0x26 || b[0] == 0x2E
            || b[0] == 0x36 || b[0] == 0x3E || b[0] == 0x64 || b[0] == 0x65;
        if (!prefix) {
            break;
        }
    }
    return regs->reg_errcode >> 3;
}
