// p-eve-kwrite.cc: Eve writes a jump-to-self (0xEB 0xFE) over the kernel's
// system call entry, so the next system call would hang the kernel with
// interrupts off. Defense: kernel pages are not PTE_U; her write page-faults
// and she is killed.
#include "u-eve.hh"
#include "kernel-addresses.h"

void process_main() {
    eve_count(EVE_WARMUP_LINES);
    eve_announce("writing EB FE over syscall_entry at 0x%lx\n", KERNEL_SYSCALL_ENTRY);
    auto code = reinterpret_cast<volatile uint8_t*>(KERNEL_SYSCALL_ENTRY);
    code[0] = 0xEB;
    code[1] = 0xFE;
    console_printf(CS_RED "Eve: the kernel's syscall entry is mine\n");
    eve_count(0);
}
