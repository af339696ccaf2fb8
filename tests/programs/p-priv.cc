// p-priv.cc: Eve executes one privileged instruction, named by PRIV_INSN
// when the GNUmakefile compiles this template as program priv-NAME. Each
// would hand her the machine (interrupts off, her own descriptor tables or
// page table, the syscall MSR, I/O ports, a return to CPL 0). Defense: she
// runs at CPL 3 with IOPL 0 and no I/O bitmap, so the processor raises a
// general protection fault instead, and the kernel kills her.
//
// The instruction sits at the global label priv_NAME ('-' spelled '_'),
// so a test can check that the fault's %rip is exactly there.
#include "u-eve.hh"

#ifndef PRIV_INSN
#error "compile with -DPRIV_INSN='\"NAME\"' (the GNUmakefile does)"
#endif

// Each attempt is a separate function, never inlined, so that each label
// is defined exactly once.
#define ATTEMPT(name) [[gnu::noinline]] static void attempt_##name()

ATTEMPT(hlt) {
    asm volatile(".globl priv_hlt\npriv_hlt: hlt");
}
ATTEMPT(cli) {
    asm volatile(".globl priv_cli\npriv_cli: cli");
}
ATTEMPT(sti) {
    asm volatile(".globl priv_sti\npriv_sti: sti");
}
// A descriptor table of Eve's own making, for lgdt and lidt.
static x86_64_pseudodescriptor eve_table = {0xFFF, PROC_START_ADDR};
ATTEMPT(lgdt) {
    asm volatile(".globl priv_lgdt\npriv_lgdt: lgdt %0" : : "m" (eve_table));
}
ATTEMPT(lidt) {
    asm volatile(".globl priv_lidt\npriv_lidt: lidt %0" : : "m" (eve_table));
}
ATTEMPT(ltr) {
    asm volatile(".globl priv_ltr\npriv_ltr: ltr %w0" : : "r" (SEGSEL_TASKSTATE));
}
// Paging and protection off (CR0 = 0), Eve's own page table (CR3), no
// more page-table features (CR4).
ATTEMPT(mov_cr0) {
    asm volatile(".globl priv_mov_cr0\npriv_mov_cr0: movq %0, %%cr0" : : "r" (0UL));
}
ATTEMPT(mov_cr3) {
    asm volatile(".globl priv_mov_cr3\npriv_mov_cr3: movq %0, %%cr3" : : "r" (PROC_START_ADDR));
}
ATTEMPT(mov_cr4) {
    asm volatile(".globl priv_mov_cr4\npriv_mov_cr4: movq %0, %%cr4" : : "r" (0UL));
}
// The `syscall` target: every later system call would jump to Eve.
ATTEMPT(wrmsr) {
    asm volatile(".globl priv_wrmsr\npriv_wrmsr: wrmsr"
                 : : "c" (MSR_IA32_LSTAR), "a" (PROC_START_ADDR), "d" (0));
}
ATTEMPT(rdmsr) {
    uint32_t lo, hi;
    asm volatile(".globl priv_rdmsr\npriv_rdmsr: rdmsr"
                 : "=a" (lo), "=d" (hi) : "c" (MSR_IA32_LSTAR));
}
// The keyboard controller's status port.
ATTEMPT(in) {
    uint8_t status;
    asm volatile(".globl priv_in\npriv_in: inb $0x64, %0" : "=a" (status));
}
// QEMU's isa-debug-exit port: this byte would power the machine off.
ATTEMPT(out) {
    asm volatile(".globl priv_out\npriv_out: outb %0, $0xf4" : : "a" ((uint8_t) 0x10));
}
ATTEMPT(invlpg) {
    asm volatile(".globl priv_invlpg\npriv_invlpg: invlpg %0"
                 : : "m" (*reinterpret_cast<char*>(KERNEL_START_ADDR)));
}
ATTEMPT(wbinvd) {
    asm volatile(".globl priv_wbinvd\npriv_wbinvd: wbinvd");
}
ATTEMPT(swapgs) {
    asm volatile(".globl priv_swapgs\npriv_swapgs: swapgs");
}
// "Return" from a system call that was never made, to the next
// instruction.
ATTEMPT(sysretq) {
    asm volatile("leaq 1f(%%rip), %%rcx\n\t"
                 "pushfq\n\t"
                 "popq %%r11\n\t"
                 ".globl priv_sysretq\npriv_sysretq: sysretq\n"
                 "1:" : : : "rcx", "r11", "memory");
}
// An interrupt return frame asking for the kernel's code segment (CPL 0)
// at the next instruction, with the kernel's data segment as %ss.
ATTEMPT(iretq_cpl0) {
    asm volatile("movq %%rsp, %%rax\n\t"
                 "pushq %[ss]\n\t"
                 "pushq %%rax\n\t"
                 "pushfq\n\t"
                 "pushq %[cs]\n\t"
                 "leaq 1f(%%rip), %%rax\n\t"
                 "pushq %%rax\n\t"
                 ".globl priv_iretq_cpl0\npriv_iretq_cpl0: iretq\n"
                 "1:"
                 : : [ss] "i" (SEGSEL_KERN_DATA), [cs] "i" (SEGSEL_KERN_CODE)
                 : "rax", "memory");
}

static const struct {
    const char* name;
    void (*attempt)();
} attempts[] = {
    {"hlt", attempt_hlt}, {"cli", attempt_cli}, {"sti", attempt_sti},
    {"lgdt", attempt_lgdt}, {"lidt", attempt_lidt}, {"ltr", attempt_ltr},
    {"mov-cr0", attempt_mov_cr0}, {"mov-cr3", attempt_mov_cr3},
    {"mov-cr4", attempt_mov_cr4}, {"wrmsr", attempt_wrmsr}, {"rdmsr", attempt_rdmsr},
    {"in", attempt_in}, {"out", attempt_out}, {"invlpg", attempt_invlpg},
    {"wbinvd", attempt_wbinvd}, {"swapgs", attempt_swapgs},
    {"sysretq", attempt_sysretq}, {"iretq-cpl0", attempt_iretq_cpl0},
};

void process_main() {
    for (auto& a : attempts) {
        if (strcmp(a.name, PRIV_INSN) == 0) {
            eve_announce("executing %s at CPL 3\n", a.name);
            a.attempt();
            console_printf(CS_RED "Eve: %s worked: the machine is mine\n", a.name);
            eve_count(0);
        }
    }
    sys_panic("priv: no such instruction: " PRIV_INSN);
}
