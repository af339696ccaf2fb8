// p-eve-kwrite.cc: Eve writes a jump-to-self (0xEB 0xFE) over the kernel's
// system call entry, so the next system call would hang the kernel with
// interrupts off. Defense: kernel pages are not PTE_U; her write page-faults
// and she is killed. PROCS="eve-kwrite:ADDR" (u-eve.hh) writes over ADDR
// instead, kernel code that the next system call runs.
#include "u-eve.hh"
#include "kernel-addresses.h"

void process_main() {
    eve_count(eve_warmup_lines());
    uintptr_t target = eve_target(KERNEL_SYSCALL_ENTRY);
    eve_announce("writing EB FE over kernel code at 0x%lx\n", target);
    auto code = reinterpret_cast<volatile uint8_t*>(target);
    code[0] = 0xEB;
    code[1] = 0xFE;
    console_printf(CS_RED "Eve: the kernel's syscall entry is mine\n");
    eve_count(0);
}
