// p-eve-v86syscall.cc: Eve escapes into virtual-8086 mode (see
// eve_enter_v86 in u-eve.hh) and executes `syscall` there. The processor
// then believes it left compatibility mode, so it enters the kernel at the
// address in MSR_IA32_CSTAR rather than MSR_IA32_LSTAR: were CSTAR left 0,
// the kernel would jump to address 0 at CPL 0 and panic. Defense: CSTAR
// points at syscall_entry too (k-hardware.cc), which trusts nothing it is
// handed; the call is answered, and Eve is back in 64-bit mode.
#include "u-escape.hh"

void process_main() {
    eve_count(1);
    eve_announce("virtual-8086 mode, then syscall\n");
    static const uint8_t code[] = {0x0F, 0x05, 0xEB, 0xFE};   // syscall; jmp .
    eve_enter_v86(code, FL_IF);
}
