// p-eve-v86out.cc: Eve escapes into virtual-8086 mode with IOPL 3 (see
// eve_enter_v86 in u-eve.hh) and writes to QEMU's power-off port, hoping to
// switch the machine off. Defense: in virtual-8086 mode the processor
// consults the TSS's I/O permission bitmap whatever IOPL says, and
// WeensyOS's TSS has none (k-hardware.cc), so every port is denied: a
// general protection fault, and she is killed.
#include "u-escape.hh"

void process_main() {
    eve_count(1);
    eve_announce("virtual-8086 mode with IOPL 3, then out to port 0xF4\n");
    static const uint8_t code[] = {0xB0, 0x10,     // mov $0x10, %al
                            0xE6, 0xF4,     // out %al, $0xF4
                            0xEB, 0xFE};    // jmp .
    eve_enter_v86(code, FL_IOPL_MASK | FL_IF);
}
