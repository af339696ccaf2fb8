// k-asmdefs.cc: the constants and structure offsets that assembly code and
// scripts need, taken from the C++ headers so that they are written down
// once. Never linked: the GNUmakefile compiles it to assembly and turns
// each DEFINE into a `#define` line of obj/k-asm.h, which k-exception.S
// includes and mkimage.sh and run-qemu read.
#include "kernel.hh"
#include "k-ata.hh"

// What the offsets cannot say: k-exception.S fills a regstate with pushes,
// so the fields must be consecutive quadwords in push order, and the
// frame the processor pushes must end exactly at the end of proc::regs
// (it aligns %rsp down to 16 first).
static_assert(__builtin_offsetof(regstate, reg_rax) == 0);
static_assert(__builtin_offsetof(regstate, reg_r15) == 14 * 8);
static_assert(__builtin_offsetof(regstate, reg_intno) == 15 * 8);
static_assert(__builtin_offsetof(regstate, reg_ss) == 21 * 8);
static_assert(sizeof(regstate) == 22 * 8);
static_assert((__builtin_offsetof(proc, regs) + sizeof(regstate)) % 16 == 0);

// Emits the text "#define NAME value" into the compiler's assembly output.
#define DEFINE(name, value) \
    asm volatile(".ascii \"\\n@@#define " #name " %P0\"" : : "i" ((unsigned long) (value)))
#define DEFINE_STRING(name, value) \
    asm volatile(".ascii \"\\n@@#define " #name " \\\"" value "\\\"\"")
#define OFFSET(name, type, field) DEFINE(name, __builtin_offsetof(type, field))

void asm_definitions() {
    // Memory layout and segments (lib.hh, x86-64.h)
    DEFINE(KERNEL_STACK_TOP, KERNEL_STACK_TOP);
    DEFINE(KERNEL_STACK_SIZE, KERNEL_STACK_SIZE);
    DEFINE(PROC_START_ADDR, PROC_START_ADDR);
    DEFINE(PROC_SLOT_SIZE, PROC_SLOT_SIZE);
    DEFINE(MAX_PROCS, MAX_PROCS);
    DEFINE(SEGSEL_KERN_CODE, SEGSEL_KERN_CODE);
    DEFINE(SEGSEL_APP_CODE, SEGSEL_APP_CODE);
    DEFINE(SEGSEL_APP_DATA, SEGSEL_APP_DATA);
    DEFINE(INT_SYSCALL, INT_SYSCALL);
    DEFINE(INT_DF, INT_DF);
    DEFINE(INT_TS, INT_TS);
    DEFINE(INT_PF, INT_PF);
    DEFINE(INT_AC, INT_AC);
    DEFINE(INT_CP, INT_CP);
    DEFINE(INT_VC, INT_VC);
    DEFINE(INT_SX, INT_SX);
    DEFINE(CANONICAL_LOW_BITS, CANONICAL_LOW_BITS);
    DEFINE(FL_VM, FL_VM);

    // Paging and long mode, for the boot sector (x86-64.h)
    DEFINE(PTE_P, PTE_P);
    DEFINE(PTE_W, PTE_W);
    DEFINE(PTE_PS, PTE_PS);
    DEFINE(CR0_PE, CR0_PE);
    DEFINE(CR0_PG, CR0_PG);
    DEFINE(CR4_PAE, CR4_PAE);
    DEFINE(MSR_IA32_EFER, MSR_IA32_EFER);
    DEFINE(EFER_LME, EFER_LME);

    // struct proc and struct regstate (kernel.hh)
    OFFSET(PROC_PAGETABLE, proc, pagetable);
    OFFSET(PROC_REGS, proc, regs);
    OFFSET(REGS_INTNO, regstate, reg_intno);
    OFFSET(REGS_RIP, regstate, reg_rip);
    OFFSET(REGS_CS, regstate, reg_cs);
    OFFSET(REGS_RFLAGS, regstate, reg_rflags);
    OFFSET(REGS_RSP, regstate, reg_rsp);
    DEFINE(REGS_SIZE, sizeof(regstate));
    // struct x86_64_taskstate: the stack for entries from CPL 3
    OFFSET(TSS_RSP0, x86_64_taskstate, rsp[0]);

    // The disk layout (k-ata.hh), for mkimage.sh
    DEFINE(SECTORSIZE, SECTORSIZE);
    DEFINE(PROGRAM_DIR_SECTOR, PROGRAM_DIR_SECTOR);
    DEFINE(PROGRAM_DIR_SECTORS, PROGRAM_DIR_SECTORS);
    DEFINE(PROGRAM_DIR_ENTRY_SIZE, sizeof(program_dir_entry));
    DEFINE(PROGRAM_NAME_SIZE, sizeof(program_dir_entry::name));
    DEFINE_STRING(PROGRAM_DIR_MAGIC, PROGRAM_DIR_MAGIC);

    // Power-off statuses (kernel.hh), for run-qemu
    DEFINE(POWEROFF_NORMAL, POWEROFF_NORMAL);
    DEFINE(POWEROFF_PANIC, POWEROFF_PANIC);
}
