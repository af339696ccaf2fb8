// u-eve.hh: what every Eve program does before (or instead of) attacking:
// count like Alice, in Eve's colour, yielding after every iteration.
#ifndef WEENSYOS_U_EVE_HH
#define WEENSYOS_U_EVE_HH
#include "u-lib.hh"

// Counts `lines` lines of "Hi, I'm Eve! #N" (1024 iterations each); 0
// means forever.
inline void eve_count(unsigned lines) {
    for (unsigned i = 1; lines == 0 || i <= lines * 1024; ++i) {
        if (i % 1024 == 0) {
            console_printf(CS_YELLOW "Hi, I'm Eve! #%u\n", i / 1024);
        }
        sys_yield();
    }
}

// How long Eve behaves before her attack: long enough for Alice to be
// seen running beside her.
#define EVE_WARMUP_LINES 3

// Prints what Eve is about to try, in red, on its own line.
#define eve_announce(...) console_printf(CS_RED "Eve: " __VA_ARGS__)

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
