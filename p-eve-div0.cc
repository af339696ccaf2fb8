// p-eve-div0.cc: Eve divides by zero. Defense: a fault at CPL 3 kills the
// faulting process, not the machine.
#include "u-eve.hh"

void process_main() {
    eve_count(eve_warmup_lines());
    eve_announce("dividing by zero\n");
    int zero = 0, quotient;
    // In assembly, so the compiler cannot fold or drop the division.
    asm volatile("cltd; idivl %2" : "=a" (quotient) : "a" (61), "r" (zero) : "rdx");
    console_printf(CS_RED "Eve: 61 / 0 = %d ?!\n", quotient);
    eve_count(0);
}
