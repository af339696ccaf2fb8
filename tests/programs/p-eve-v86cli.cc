// p-eve-v86cli.cc: Eve escapes into virtual-8086 mode with IOPL 3 (see
// eve_enter_v86 in u-eve.hh) and turns interrupts off for good: `cli` is
// allowed there, and `cli; jmp .` would keep the CPU forever, since the
// timer is maskable. Defense: the watchdog's NMI (k-hardware.cc), which
// `cli` cannot block, finds her with interrupts off and the kernel kills her.
#include "u-escape.hh"

void process_main() {
    eve_count(1);
    eve_announce("virtual-8086 mode with IOPL 3, then cli; jmp .\n");
    static const uint8_t code[] = {0xFA, 0xEB, 0xFE};     // cli; jmp .
    eve_enter_v86(code, FL_IOPL_MASK | FL_IF);
}
