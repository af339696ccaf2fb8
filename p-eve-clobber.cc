// p-eve-clobber.cc: Eve writes into the other process's memory: a
// jump-to-self over the first bytes of its slot (its code), and, in her
// second life (RESPAWN=1 or more), a garbage return address over the top
// word of its stack. Defense: her page table grants PTE_U only on her own
// slot and the console, so each write page-faults and she is killed.
// PROCS="eve-clobber:ADDR" (u-eve.hh): her first life writes at ADDR.
#include "u-eve.hh"

void process_main() {
    int self = sys_getpid();
    int other = self == 1 ? 2 : 1;
    eve_count(process_life == 0 ? eve_warmup_lines() : 1);
    if (process_life == 0) {
        uintptr_t code = eve_target(proc_slot_start(other));
        eve_announce("writing EB FE over pid %d's memory at 0x%lx\n", other, code);
        auto p = reinterpret_cast<volatile uint8_t*>(code);
        p[0] = 0xEB;
        p[1] = 0xFE;
    } else {
        uintptr_t stack = proc_slot_end(other) - 8;
        eve_announce("writing over pid %d's stack at 0x%lx\n", other, stack);
        *reinterpret_cast<volatile uint64_t*>(stack) = 0xBADBADBADBADUL;
    }
    console_printf(CS_RED "Eve: pid %d's memory is mine\n", other);
    eve_count(0);
}
