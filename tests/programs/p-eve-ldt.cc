// p-eve-ldt.cc: Eve uses selectors with bit 2 (TI) set, which name entries
// of the local descriptor table. The kernel never loaded one, and the
// processor comes out of reset with LDTR = base 0, limit 0xFFFF: every such
// selector then names 8 bytes of the kernel-only memory at 0-0xFFFF, which
// the processor reads with its own privilege. `lar` and `lsl` (allowed at
// CPL 3, and faultless) hand her bytes of it; loading a segment register
// from a "descriptor" there makes the processor write its accessed bit;
// and a far jump or call goes through whatever happens to look like a
// code segment or gate. Defense: the kernel loads LDTR with the null
// selector at boot (segments_init in k-hardware.cc), so `lar`, `lsl`,
// `verr` and `verw` find nothing, and loading any LDT selector raises a
// general protection fault naming it.
#include "u-eve.hh"

void process_main() {
    eve_count(1);
    eve_announce("reading kernel memory 0x1000-0xFFFF as an LDT\n");
    // Index 512 is address 0x1000: page 0 is not mapped at all.
    unsigned answered = 0;
    for (uint32_t index = 512; index != 8192; ++index) {
        uint32_t selector = index << 3 | 4 | 3, value;
        uint8_t lar_ok, lsl_ok, verr_ok, verw_ok;
        asm volatile("larl %4, %0; setz %1; lsll %4, %0; setz %2; verr %w4; setz %3"
                     : "=&r" (value), "=&q" (lar_ok), "=&q" (lsl_ok), "=&q" (verr_ok)
                     : "r" (selector) : "cc");
        asm volatile("verw %w1; setz %0" : "=q" (verw_ok) : "r" (selector) : "cc");
        answered += lar_ok || lsl_ok || verr_ok || verw_ok;
    }
    if (answered != 0) {
        // Her report goes into the kill reason, where the test reads it.
        char report[80];
        snprintf(report, sizeof(report), "Eve read %u descriptors of kernel memory", answered);
        sys_panic(report);
    }
    // LDT entry 1 (address 8): a segment register load must fault.
    eve_announce("loading %%fs with LDT selector 0xc\n");
    asm volatile(".globl eve_ldt_load\n"
                 "eve_ldt_load: movw %w0, %%fs" : : "r" (0xC));
    console_printf(CS_RED "Eve: %%fs holds an LDT selector\n");
    eve_count(0);
}
