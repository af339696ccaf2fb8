// p-eve-vm86.cc: Eve executes a 32-bit `iretl` at CPL 3 whose frame sets
// EFLAGS.VM, asking for virtual-8086 mode with a code segment of her
// choosing (PROCS="eve-vm86:CS", default 0x3258: its low two bits, which
// otherwise hold the privilege level, say 0). A real processor ignores VM
// here (only CPL 0 may enter virtual-8086 mode, and long mode has none),
// but QEMU's emulator (7.2 at least) obeys: Eve then runs 16-bit code with
// %cs = CS, so the kernel's next entry from her carries a %cs whose low
// bits do not say 3. Defense: the kernel runs only with %cs = 0x08, so
// anything else is a process; and it resumes a process only with the
// process code and stack segments.
#include "u-eve.hh"

void process_main() {
    uint32_t cs = process_arg ? process_arg : 0x3258;
    eve_count(1);
    eve_announce("iretl into virtual-8086 mode with %%cs=0x%x\n", cs);
    // The frame `iretl` pops to enter virtual-8086 mode: EIP, CS, EFLAGS,
    // ESP, SS, ES, DS, FS, GS, 4 bytes each. EIP 0xed87 with CS 0x3258
    // aims at the kernel (0x3258 * 16 + 0xed87 = 0x41307).
    static uint32_t frame[9];
    frame[0] = 0xED87;
    frame[1] = cs;
    frame[2] = 0x20000 | FL_IF | 0x2;     // EFLAGS.VM is bit 17
    frame[3] = 0xFF00;
    frame[4] = cs;
    asm volatile("movq %0, %%rsp\n\t"
                 "iretl"
                 : : "r" (frame) : "memory");
    __builtin_unreachable();
}
