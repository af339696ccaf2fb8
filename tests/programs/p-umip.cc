// p-umip.cc: asks where the kernel keeps its descriptor tables (`sgdt`,
// then `sidt`, `sldt`, `str`, `smsw`): instructions that need no privilege
// unless the processor has UMIP and the kernel turned it on. Prints what
// it learned if it survives.
#include "u-lib.hh"

void process_main() {
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } gdtr = {}, idtr = {};
    uint16_t ldtr = 0, tr = 0, msw = 0;
    asm volatile(".globl umip_sgdt\numip_sgdt: sgdt %0" : "=m" (gdtr));
    asm volatile("sidt %0; sldt %1; str %2; smsw %3"
                 : "=m" (idtr), "=m" (ldtr), "=m" (tr), "=m" (msw));
    console_printf(CS_WHITE "umip: gdt at 0x%lx, idt at 0x%lx, ldtr %x, tr %x, msw %x\n",
                   gdtr.base, idtr.base, ldtr, tr, msw);
}
