// p-eve-v86int.cc: Eve escapes into virtual-8086 mode with IOPL 3 (see
// eve_enter_v86 in u-eve.hh), where `int $N` goes to the IDT, and executes
// `int $0x80`. The gate's DPL 0 turns it into a general protection fault,
// but QEMU's emulator (before 8.0) puts 2N in its error code, and the
// kernel, looking for her instruction at %rip (a 16-bit offset, unmapped),
// fell back to that code: it reported "int $256", a vector that does not
// exist. Defense: int_vector (kernel.cc) reads the instruction at
// %cs * 16 + %ip in virtual-8086 mode, so the reason names vector 128.
#include "u-escape.hh"

void process_main() {
    eve_count(1);
    eve_announce("virtual-8086 mode with IOPL 3, then int $0x80\n");
    static const uint8_t code[] = {0xCD, 0x80,     // int $0x80
                            0xEB, 0xFE};    // jmp .
    eve_enter_v86(code, FL_IOPL_MASK | FL_IF);
}
