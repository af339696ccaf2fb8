// u-escape.hh: the virtual-8086 escape that the hostile test programs
// p-eve-v86*.cc build on. Only tests use it: it reproduces a behaviour of
// QEMU's emulator that real processors do not have (see k-quirks.cc).
#ifndef WEENSYOS_U_ESCAPE_HH
#define WEENSYOS_U_ESCAPE_HH
#include "u-eve.hh"

// Eve's escape into virtual-8086 mode, which real processors refuse at
// CPL 3 (and in long mode altogether) but QEMU's emulator (7.2 at least)
// allows through a 32-bit `iretl`: she runs the 16-bit `code` with
// `eflags` (FL_VM is added). Virtual-8086 mode reaches only the first
// 1.1 MB (%cs * 16 + %ip), and no page there is both hers to write and
// executable (W^X), so the code runs in place from her read-only data
// (`static const`), which is reachable only from slot 1: she must be pid
// 1. Her stack is the console page, past the screen. QEMU reads the
// `iretl` frame as the kernel would, so where SMAP is on, SMAP stops her
// at the `iretl` (tests run her on `-cpu qemu64`, without it).
[[noreturn]] inline void eve_enter_v86(const uint8_t* code, uint32_t eflags) {
    const uintptr_t linear = reinterpret_cast<uintptr_t>(code);
    const uint16_t segment = 0xFFFF;    // base 0xFFFF0: reaches 0x100000-0x10FFEF
    if (linear < 0x100000 || linear - 0xFFFF0 > 0xFFF0) {
        sys_panic("escape: code out of virtual-8086 reach (run as pid 1)");
    }
    const uint16_t ip = linear - 0xFFFF0;
    const uint16_t stack_segment = CONSOLE_ADDR >> 4, sp = 0xFE0;
    // The frame `iretl` pops for virtual-8086 mode: EIP, CS, EFLAGS, ESP,
    // SS, ES, DS, FS, GS (4 bytes each).
    static uint32_t frame[9];
    frame[0] = ip;
    frame[1] = segment;
    frame[2] = eflags | FL_VM | 0x2;
    frame[3] = sp;
    for (int i = 4; i != 9; ++i) {
        frame[i] = stack_segment;
    }
    asm volatile("movq %0, %%rsp\n\t"
                 "iretl"
                 : : "r" (frame) : "memory");
    __builtin_unreachable();
}
#endif
