// p-eve-v86respawn.cc: Eve, restarted again and again (RESPAWN), escapes
// into virtual-8086 mode with IOPL 3 at the start of every life (see
// eve_enter_v86 in u-eve.hh) and runs `cli; jmp .`. The watchdog's NMI
// kills each life, but meanwhile the timer's interrupt is left waiting:
// it struck Alice at her first instruction after each kill, charged her
// the tick and gave the CPU to Eve's next life, so Alice never ran at all.
// Defense: watchdog (kernel.cc) takes that waiting interrupt in the kernel
// and restarts the timer before scheduling, so Alice runs once between two
// of Eve's lives, as she does beside a spinning Eve.
#include "u-escape.hh"

void process_main() {
    static const uint8_t code[] = {0xFA, 0xEB, 0xFE};     // cli; jmp .
    eve_enter_v86(code, FL_IOPL_MASK | FL_IF);
}
