// p-crasher.cc: dies at its first instruction, every life. With RESPAWN
// large, the kernel spends its time reloading it, with interrupts off; a
// kernel that lets the timer interrupt left waiting preempt the next
// process before its first instruction starves that process.
#include "u-lib.hh"

void process_main() {
    asm volatile("ud2");
}
