// p-eve-v86cli.cc: Eve escapes into virtual-8086 mode with IOPL 3 and turns
// interrupts off for good. A real processor refuses (only CPL 0 may enter
// virtual-8086 mode, and long mode has none), but QEMU's emulator (7.2 at
// least) lets a 32-bit `iretl` at CPL 3 do it. There `cli` is allowed, and
// `cli; jmp .` would keep the CPU forever: the timer is maskable. Defense:
// the watchdog's NMI (k-hardware.cc), which `cli` cannot block, finds her
// with interrupts off and the kernel kills her.
#include "u-eve.hh"

void process_main() {
    eve_count(1);
    eve_announce("virtual-8086 mode with IOPL 3, then cli; jmp .\n");
    // Her 16-bit code must sit below 1.1 MB at a page she may use: the
    // console page, past the visible screen and the cursor.
    const uint16_t segment = CONSOLE_ADDR >> 4;
    const uint16_t code = 0xFF0, stack = 0xFE0;
    auto bytes = reinterpret_cast<volatile uint8_t*>(CONSOLE_ADDR + code);
    bytes[0] = 0xFA;            // cli
    bytes[1] = 0xEB;            // jmp .
    bytes[2] = 0xFE;
    // The frame `iretl` pops for virtual-8086 mode: EIP, CS, EFLAGS, ESP,
    // SS, ES, DS, FS, GS (4 bytes each).
    static uint32_t frame[9];
    frame[0] = code;
    frame[1] = segment;
    frame[2] = FL_VM | FL_IOPL_MASK | FL_IF | 0x2;
    frame[3] = stack;
    for (int i = 4; i != 9; ++i) {
        frame[i] = segment;
    }
    asm volatile("movq %0, %%rsp\n\t"
                 "iretl"
                 : : "r" (frame) : "memory");
    __builtin_unreachable();
}
