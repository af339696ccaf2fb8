// x86-64.h: the x86-64 hardware facts WeensyOS uses, with the manual's names:
// page-table bits, control registers, flags, MSRs, descriptors, exception
// vectors, and one-line wrappers for the instructions C++ cannot express.
#ifndef WEENSYOS_X86_64_H
#define WEENSYOS_X86_64_H
#include "types.h"

// ---- Paging (Intel SDM vol. 3, 4.5: 4-level paging) ----
// A page table page holds 512 eight-byte entries; each level consumes 9
// bits of the virtual address, and the low 12 bits are the page offset.
#define PAGESIZE        4096UL
#define PAGEOFFBITS     12
#define PAGEINDEXBITS   9
#define PTE_P   0x001UL         // present
#define PTE_W   0x002UL         // writable
#define PTE_U   0x004UL         // user-accessible (CPL 3 may use it)
#define PTE_PWT 0x008UL         // write-through
#define PTE_PCD 0x010UL         // cache disable
#define PTE_A   0x020UL         // accessed (set by the processor)
#define PTE_D   0x040UL         // dirty (set by the processor)
#define PTE_PS  0x080UL         // page size: this entry maps a large page
#define PTE_NX  0x8000000000000000UL  // no execute (needs EFER.NXE)
#define PTE_PAMASK 0x000FFFFFFFFFF000UL  // physical address bits of an entry
#define PTE_PWU (PTE_P | PTE_W | PTE_U)
// Page-table levels, counted as vmiter does: 0 holds the entries that map
// pages, PAGETABLE_TOP_LEVEL (the PML4) is the page %cr3 names.
#define PAGETABLE_TOP_LEVEL 3
// A canonical lower-half address has bits 47-63 all zero.
#define CANONICAL_LOW_BITS  47

typedef uint64_t x86_64_pageentry_t;
struct __attribute__((aligned(4096))) x86_64_pagetable {
    x86_64_pageentry_t entry[1 << PAGEINDEXBITS];
};

// Virtual addresses are canonical when bits 48-63 copy bit 47.
inline bool is_canonical(uint64_t va) {
    return va < 0x0000800000000000UL || va >= 0xFFFF800000000000UL;
}

// ---- Control registers (SDM vol. 3, 2.5) ----
#define CR0_PE  0x00000001UL    // protected mode
#define CR0_MP  0x00000002UL    // monitor coprocessor
#define CR0_EM  0x00000004UL    // emulate x87: x87/MMX instructions fault
#define CR0_TS  0x00000008UL    // task switched
#define CR0_NE  0x00000020UL    // native FPU error reporting
#define CR0_WP  0x00010000UL    // the kernel too obeys read-only pages
#define CR0_AM  0x00040000UL    // alignment mask
#define CR0_PG  0x80000000UL    // paging
#define CR4_PAE 0x00000020UL    // physical address extension (64-bit paging)
#define CR4_PGE 0x00000080UL    // global pages
#define CR4_UMIP 0x00000800UL   // sgdt, sidt, sldt, smsw, str fault at CPL 3
#define CR4_SMEP 0x00100000UL   // the kernel cannot execute user pages
#define CR4_SMAP 0x00200000UL   // the kernel cannot touch user pages unless AC is set

// ---- RFLAGS (SDM vol. 1, 3.4.3) ----
#define FL_CF   0x00000001UL    // carry
#define FL_PF   0x00000004UL    // parity
#define FL_AF   0x00000010UL    // adjust
#define FL_ZF   0x00000040UL    // zero
#define FL_SF   0x00000080UL    // sign
#define FL_TF   0x00000100UL    // trap (single step)
#define FL_IF   0x00000200UL    // interrupts enabled
#define FL_DF   0x00000400UL    // direction
#define FL_OF   0x00000800UL    // overflow
#define FL_IOPL_MASK 0x00003000UL  // I/O privilege level
#define FL_IOPL_3 0x00003000UL  // IOPL 3: cli, sti, in and out allowed at CPL 3
#define FL_NT   0x00004000UL    // nested task
#define FL_RF   0x00010000UL    // resume
#define FL_VM   0x00020000UL    // virtual-8086 mode
#define FL_AC   0x00040000UL    // alignment check
#define FL_ID   0x00200000UL    // CPUID available
// Flags a process may keep across kernel entry and exit: the arithmetic
// flags, direction, single-step, and the two it can change with `popf` that
// bind only itself (AC: alignment checks, off while CR0.AM is clear; ID).
// Everything else (IOPL, NT, VM, ...) is reset by the kernel before
// returning to the process.
#define FL_USER_MASK (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_TF | FL_DF | FL_OF \
                      | FL_AC | FL_ID)

// ---- Model-specific registers (SDM vol. 4) ----
#define MSR_IA32_EFER       0xC0000080U  // extended features
#define MSR_IA32_STAR       0xC0000081U  // syscall/sysret segment selectors
#define MSR_IA32_LSTAR      0xC0000082U  // syscall target %rip in 64-bit mode
#define MSR_IA32_CSTAR      0xC0000083U  // syscall target %rip in compatibility mode
#define MSR_IA32_FMASK      0xC0000084U  // %rflags bits cleared by syscall
#define MSR_IA32_APIC_BASE  0x0000001BU  // local APIC physical base
#define MSR_IA32_FS_BASE    0xC0000100U  // %fs base address
#define MSR_IA32_GS_BASE    0xC0000101U  // %gs base address
#define EFER_SCE    0x001UL             // syscall/sysret enabled
#define EFER_LME    0x100UL             // long mode enabled
#define EFER_NXE    0x800UL             // PTE_NX honored

// ---- CPUID (SDM vol. 2A, CPUID): which protections the processor has ----
#define CPUID_7_EBX_SMEP    (1U << 7)   // leaf 7, subleaf 0
#define CPUID_7_EBX_SMAP    (1U << 20)
#define CPUID_7_ECX_UMIP    (1U << 2)
#define CPUID_80000001_EDX_NX (1U << 20)

struct cpuid_result {
    uint32_t eax, ebx, ecx, edx;
};
inline cpuid_result cpuid(uint32_t leaf, uint32_t subleaf = 0) {
    cpuid_result r;
    asm volatile("cpuid" : "=a" (r.eax), "=b" (r.ebx), "=c" (r.ecx), "=d" (r.edx)
                 : "a" (leaf), "c" (subleaf));
    return r;
}

// ---- Segments (SDM vol. 3, 3.4 and 7.2) ----
// WeensyOS's GDT. `syscall` loads %cs from STAR[47:32] and %ss 8 above it;
// `sysretq` loads %cs from STAR[63:48] + 16 and %ss from STAR[63:48] + 8.
// So user data must sit just below user code.
#define SEGSEL_KERN_CODE    0x08
#define SEGSEL_KERN_DATA    0x10
#define SEGSEL_APP_DATA     0x18    // used with RPL 3: 0x1B
#define SEGSEL_APP_CODE     0x20    // used with RPL 3: 0x23
#define SEGSEL_TASKSTATE    0x28    // 16-byte system descriptor

#define X86SEG_TSS          0x0000090000000000UL  // 64-bit available TSS
#define X86SEG_S            0x0000100000000000UL  // code/data (not system)
#define X86SEG_DPL(dpl)     ((uint64_t) (dpl) << 45)
#define X86SEG_P            0x0000800000000000UL  // present
#define X86SEG_L            0x0020000000000000UL  // 64-bit code
#define X86SEG_WRITABLE     0x0000020000000000UL  // data: writable
#define X86SEG_READABLE     0x0000020000000000UL  // code: readable
#define X86SEG_EXECUTE      0x0000080000000000UL  // code segment
#define X86SEG_DB           0x0040000000000000UL  // data: 32-bit ("big") stack segment
#define X86SEG_G            0x0080000000000000UL  // limit in pages
#define X86SEG_LIMIT_MAX    0x000F00000000FFFFUL

// Task state segment: where the processor finds the kernel stack when an
// interrupt arrives while a process runs (rsp0), and extra stacks (ist).
struct __attribute__((packed)) x86_64_taskstate {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;    // past the limit: no I/O permission bitmap
};

// Interrupt gate: 16 bytes in 64-bit mode.
struct x86_64_gatedescriptor {
    uint64_t gd_low;
    uint64_t gd_high;
};
#define X86GATE_INTERRUPT   0x0E00UL    // clears IF on entry

struct __attribute__((packed)) x86_64_pseudodescriptor {
    uint16_t limit;
    uint64_t base;
};

// ---- Exception vectors (SDM vol. 3, 6.3.1) ----
#define INT_DE      0   // divide error
#define INT_DB      1   // debug
#define INT_NMI     2
#define INT_BP      3   // breakpoint (int3)
#define INT_OF      4   // overflow
#define INT_BR      5   // bound range
#define INT_UD      6   // invalid opcode
#define INT_NM      7   // device not available (FPU)
#define INT_DF      8   // double fault
#define INT_TS      10  // invalid TSS
#define INT_NP      11  // segment not present
#define INT_SS      12  // stack segment fault
#define INT_GP      13  // general protection
#define INT_PF      14  // page fault
#define INT_MF      16  // x87 floating point
#define INT_AC      17  // alignment check
#define INT_MC      18  // machine check
#define INT_XM      19  // SIMD floating point
#define INT_VE      20  // virtualization
#define INT_CP      21  // control protection
#define INT_VC      29  // VMM communication (AMD)
#define INT_SX      30  // security exception (AMD)
// Vectors WeensyOS assigns.
#define INT_IRQ     32  // hardware interrupts start here
#define INT_TIMER   (INT_IRQ + 0)
#define INT_SPURIOUS 255
// Not a real vector: the regstate of a process that entered through `syscall`.
#define INT_SYSCALL 256

// Selector error code bits (SDM vol. 3, 6.13): a fault about a segment
// selector or an IDT gate reports which, with flags in its low bits.
#define SELERR_EXT      0x1UL    // the event was external to the program
#define SELERR_IDT      0x2UL    // bits 3-15 index the IDT (else the GDT or LDT)
#define SELERR_FLAGS    0x3UL    // bit 2 (LDT) belongs to the selector itself

// Page fault error code bits (SDM vol. 3, 4.7).
#define PFERR_PRESENT   0x1     // protection violation (else: page missing)
#define PFERR_WRITE     0x2     // write (else: read)
#define PFERR_USER      0x4     // CPL 3
#define PFERR_FETCH     0x10    // instruction fetch

// ---- The 8254 programmable interval timer ----
#define PIT_HZ      1193182     // its input clock: 1.193182 MHz on every PC
#define PIT_CHANNEL0    0x40    // counter 0: IRQ 0 (the watchdog, k-watchdog.cc)
#define PIT_CHANNEL2    0x42    // counter 2: gated by port B, polled
#define PIT_COMMAND     0x43    // mode/command register
#define PIT_SELECT(ch)  ((ch) << 6)
#define PIT_LOHI        0x30    // access: low byte, then high byte
#define PIT_MODE0       0x00    // interrupt on terminal count (one shot)
#define PIT_MODE2       0x04    // rate generator (periodic)
// Port B of the PC's system control: bit 0 gates counter 2, bit 1 the
// speaker; bit 5 reads counter 2's output (high at terminal count).
#define PORT_B          0x61
#define PORT_B_GATE2    0x01
#define PORT_B_SPEAKER  0x02
#define PORT_B_OUT2     0x20

// ---- Instructions ----
inline uint8_t inb(uint16_t port) {
    uint8_t v;
    asm volatile("inb %w1, %0" : "=a" (v) : "Nd" (port));
    return v;
}
inline void outb(uint16_t port, uint8_t v) {
    asm volatile("outb %0, %w1" : : "a" (v), "Nd" (port));
}
inline void outw(uint16_t port, uint16_t v) {
    asm volatile("outw %0, %w1" : : "a" (v), "Nd" (port));
}
inline void insl(uint16_t port, void* buf, size_t count) {
    asm volatile("cld; rep insl" : "+D" (buf), "+c" (count) : "d" (port) : "memory");
}
inline uint64_t rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a" (lo), "=d" (hi) : "c" (msr));
    return lo | ((uint64_t) hi << 32);
}
inline void wrmsr(uint32_t msr, uint64_t v) {
    asm volatile("wrmsr" : : "c" (msr), "a" ((uint32_t) v), "d" ((uint32_t) (v >> 32)));
}
// Control registers: %cr0 (modes), %cr2 (the page-fault address), %cr3
// (the page table), %cr4 (extensions: SMEP, SMAP, UMIP).
inline uint64_t rdcr0() { uint64_t v; asm volatile("movq %%cr0, %0" : "=r" (v)); return v; }
inline void wrcr0(uint64_t v) { asm volatile("movq %0, %%cr0" : : "r" (v) : "memory"); }
inline uint64_t rdcr2() { uint64_t v; asm volatile("movq %%cr2, %0" : "=r" (v)); return v; }
inline uint64_t rdcr3() { uint64_t v; asm volatile("movq %%cr3, %0" : "=r" (v)); return v; }
inline void wrcr3(uint64_t v) { asm volatile("movq %0, %%cr3" : : "r" (v) : "memory"); }
inline uint64_t rdcr4() { uint64_t v; asm volatile("movq %%cr4, %0" : "=r" (v)); return v; }
inline void wrcr4(uint64_t v) { asm volatile("movq %0, %%cr4" : : "r" (v) : "memory"); }
inline uint64_t rdtsc() {
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a" (lo), "=d" (hi));
    return lo | ((uint64_t) hi << 32);
}
inline uint64_t read_rbp() {
    uint64_t v;
    asm volatile("movq %%rbp, %0" : "=r" (v));
    return v;
}
inline void invlpg(uintptr_t va) {
    asm volatile("invlpg (%0)" : : "r" (va) : "memory");
}
// SMAP's permission to touch user pages (EFLAGS.AC), given and taken back.
// Both are invalid instructions on a processor without SMAP.
inline void stac() {
    asm volatile("stac" : : : "memory", "cc");
}
inline void clac() {
    asm volatile("clac" : : : "memory", "cc");
}
inline void cli() {
    asm volatile("cli" : : : "memory");
}
inline void pause() {
    asm volatile("pause" : : : "memory");
}
#endif
