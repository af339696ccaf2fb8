// u-escape.hh: the virtual-8086 escape that the hostile test programs
// p-eve-v86*.cc build on. Only tests use it: it reproduces a behaviour of
// QEMU's emulator that real processors do not have (see k-quirks.cc).
#ifndef WEENSYOS_U_ESCAPE_HH
#define WEENSYOS_U_ESCAPE_HH
#include "u-eve.hh"

// Eve's escape into virtual-8086 mode, which real processors refuse at
// CPL 3 (and in long mode altogether) but QEMU's emulator (7.2 at least)
// allows through a 32-bit `iretl`: she runs the 16-bit `code` with
// `eflags` (FL_VM is added). The code sits where she may write and run it
// below 1.1 MB: the console page, past the screen and the cursor.
[[noreturn]] inline void eve_enter_v86(const uint8_t* code, size_t n, uint32_t eflags) {
    const uint16_t segment = CONSOLE_ADDR >> 4;
    const uint16_t ip = 0xFF0, sp = 0xFE0;
    auto dst = reinterpret_cast<volatile uint8_t*>(CONSOLE_ADDR + ip);
    for (size_t i = 0; i != n && i != 0x10; ++i) {
        dst[i] = code[i];
    }
    // The frame `iretl` pops for virtual-8086 mode: EIP, CS, EFLAGS, ESP,
    // SS, ES, DS, FS, GS (4 bytes each).
    static uint32_t frame[9];
    frame[0] = ip;
    frame[1] = segment;
    frame[2] = eflags | FL_VM | 0x2;
    frame[3] = sp;
    for (int i = 4; i != 9; ++i) {
        frame[i] = segment;
    }
    asm volatile("movq %0, %%rsp\n\t"
                 "iretl"
                 : : "r" (frame) : "memory");
    __builtin_unreachable();
}
#endif
