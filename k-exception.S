// k-exception.S: every way into the kernel and back out.
//
// The kernel has exactly these entry points: `syscall_entry` (the target of
// the `syscall` instruction, set in MSR_IA32_LSTAR) and one stub per IDT
// vector. Each trusts no process register: it saves all of them in a
// `struct regstate` (kernel.hh) and calls C++ (exception_entry, syscall).
//
// Where registers are saved: while process P runs, the TSS's rsp0 points
// just past P->regs. An interrupt or exception from CPL 3 makes the processor
// push its frame there, so the stub's pushes fill P->regs directly: no second
// copy. `syscall` does not switch stacks, so syscall_entry loads rsp0 itself.

// Constants and offsets into struct proc and struct regstate, generated
// from the C++ headers by k-asmdefs.cc.
#include "k-asm.h"

// Pushes the 15 general-purpose registers so that %rax lands lowest, in
// struct regstate order.
.macro SAVE_GPRS
    pushq %r15
    pushq %r14
    pushq %r13
    pushq %r12
    pushq %r11
    pushq %r10
    pushq %r9
    pushq %r8
    pushq %rdi
    pushq %rsi
    pushq %rbp
    pushq %rbx
    pushq %rdx
    pushq %rcx
    pushq %rax
.endm

// Pops them back. The `sysretq` path skips %rax (it holds the result) and
// %rcx (sysretq takes %rip from it), so it starts at %rdx.
.macro RESTORE_GPRS_FROM_RDX
    popq %rdx
    popq %rbx
    popq %rbp
    popq %rsi
    popq %rdi
    popq %r8
    popq %r9
    popq %r10
    popq %r11
    popq %r12
    popq %r13
    popq %r14
    popq %r15
.endm
.macro RESTORE_GPRS
    popq %rax
    popq %rcx
    RESTORE_GPRS_FROM_RDX
.endm

// Clears every flag the kernel must not inherit: DF (C++ expects string
// instructions to run forward) and AC (SMAP's permission to touch user
// pages, which a process can set with `popf`). Interrupts stay off. Needs
// a usable stack. (`syscall` clears both through MSR_IA32_FMASK.)
.macro CLEAR_FLAGS
    pushq $0
    popfq
.endm

// Why the kernel can stay on the page table of the process that entered:
// every process table maps the kernel exactly as kernel_pagetable does,
// one to one and without PTE_U (k-memory.cc), so the kernel's code, data,
// stack and the APICs are all there, and the process can touch none of
// them. Where the processor has them, SMEP and SMAP also forbid the kernel
// to run the process's pages, or touch them outside user_copy/user_zero.
// So entries and exits leave %cr3 alone; run() loads another table only
// when another process gets the processor, and the kernel moves to its own
// table only to free the one it runs on.
//
// PTSWITCH=1, a boot option, brings back the switch the lectures describe
// on every entry from a process (to kernel_pagetable) and every exit to
// one (to its own table), to measure what it costs. This is its whole
// mechanism: the two macros below, used by every entry and every exit,
// and the flag `ptswitch` (kernel.hh), which read_boot_options() sets.

// From a process into the kernel: kernel_pagetable, if PTSWITCH=1.
// Clobbers %rax.
.macro PTSWITCH_TO_KERNEL
    cmpb $0, ptswitch(%rip)
    je .Lptswitch_skip\@
    movq kernel_pagetable(%rip), %rax
    movq %rax, %cr3
.Lptswitch_skip\@:
.endm

// Back to the process whose regstate is at %rsp (inside its struct proc):
// its own page table, if PTSWITCH=1. Clobbers %rcx.
.macro PTSWITCH_TO_PROCESS
    cmpb $0, ptswitch(%rip)
    je .Lptswitch_skip\@
    movq PROC_PAGETABLE - PROC_REGS(%rsp), %rcx
    movq %rcx, %cr3
.Lptswitch_skip\@:
.endm

    .text

// ---- Kernel entry from the boot loader ----
    .globl kernel_entry
    .type kernel_entry, @function
kernel_entry:
    movq $KERNEL_STACK_TOP, %rsp
    xorl %ebp, %ebp             // ends backtraces
    pushq $0                    // a zero return address, for the same reason
    jmp kernel_start


// ---- System calls ----
// On entry (SDM vol. 2B, SYSCALL): %rcx = the process's next %rip,
// %r11 = its %rflags, CPL 0, and IF, TF, DF, AC, IOPL cleared
// (MSR_IA32_FMASK). %rsp is still the process's and may be anything, so no
// memory access may use it. MSR_IA32_LSTAR names this entry.
    .globl syscall_entry
    .type syscall_entry, @function
    .balign 16
syscall_entry:
    movq %rsp, syscall_user_rsp(%rip)
    movq kernel_tss + TSS_RSP0(%rip), %rsp  // just past current->regs
    // The same frame an interrupt from CPL 3 would push, built by hand:
    //   current->regs + 0xB0 -> (end)    <- %rsp after the load above
    //                    0xA8    reg_ss
    //                    0xA0    reg_rsp
    //                    0x98    reg_rflags
    //                    0x90    reg_cs
    //                    0x88    reg_rip   <- %rsp after these 7 pushes
    //                    0x80    reg_errcode  (0)
    //                    0x78    reg_intno    (INT_SYSCALL)
    pushq $(SEGSEL_APP_DATA + 3)            // reg_ss
    pushq syscall_user_rsp(%rip)            // reg_rsp
    pushq %r11                              // reg_rflags
    pushq $(SEGSEL_APP_CODE + 3)            // reg_cs
    pushq %rcx                              // reg_rip
    pushq $0                                // reg_errcode
    pushq $INT_SYSCALL                      // reg_intno
    SAVE_GPRS                               // 0x70 (r15) down to 0x00 (rax)
    // %rsp = &current->regs: the whole regstate is filled.
    movq %rsp, %rdi                         // regstate* = &current->regs
    movq %rsp, %rbx                         // kept across the call (callee-saved)
    movq $KERNEL_STACK_TOP, %rsp
    PTSWITCH_TO_KERNEL
    call syscall
    // syscall() returned: resume the same process with %rax = its result.
    // (A system call that switches processes never returns here.)
    movq %rbx, %rsp                         // &current->regs
    // fall through to sysret_from_regs

// Resumes the process whose regstate is at %rsp, which entered through
// `syscall`, with %rax = the result. `sysretq` is shorter than `iretq` but
// loads %rip from %rcx without a privilege check: a non-canonical %rcx
// would fault in ring 0 on the process's stack. So only a lower-half %rip
// goes this way. The flags are as run() (or the process itself, at
// `syscall`) left them: sysretq keeps neither VM nor RF.
sysret_from_regs:
    PTSWITCH_TO_PROCESS
    movq REGS_RIP(%rsp), %rcx
    shrq $CANONICAL_LOW_BITS, %rcx
    jnz 1f
    addq $16, %rsp                          // %rax is the result; %rcx comes next
    RESTORE_GPRS_FROM_RDX                   // %rsp = &p->regs.reg_intno
    movq REGS_RIP - REGS_INTNO(%rsp), %rcx
    movq REGS_RFLAGS - REGS_INTNO(%rsp), %r11
    movq REGS_RSP - REGS_INTNO(%rsp), %rsp  // last use of kernel memory
    sysretq
1:  movq %rax, (%rsp)                       // reg_rax: the result
    jmp iret_from_regs

// return_to_process_sysret(proc* p): resumes p, which entered the kernel
// through `syscall`, with the registers in p->regs.
    .globl return_to_process_sysret
    .type return_to_process_sysret, @function
return_to_process_sysret:
    leaq PROC_REGS(%rdi), %rsp              // %rsp = &p->regs
    movq (%rsp), %rax                       // reg_rax
    jmp sysret_from_regs

// return_to_process_iret(proc* p): resumes p exactly as saved (any entry).
// run() has already set p->regs' %cs, %ss and %rflags.
    .globl return_to_process_iret
    .type return_to_process_iret, @function
return_to_process_iret:
    leaq PROC_REGS(%rdi), %rsp              // %rsp = &p->regs
iret_from_regs:
    PTSWITCH_TO_PROCESS
    RESTORE_GPRS                            // %rsp = &p->regs.reg_intno
    addq $16, %rsp                          // skip reg_intno, reg_errcode
    iretq                                   // pops rip, cs, rflags, rsp, ss


// ---- Exceptions and interrupts ----
// One stub per vector, each 16-byte aligned, and exception_entry_table
// (k-hardware.cc fills the IDT from it) with the address of each. The
// processor pushes an error code for some exceptions only; the others push
// 0 so every frame has the same layout. The stubs are made by .rept with a
// counter rather than by a macro per vector, which needs GNU as's .altmacro
// (Clang's assembler has none); each records its own address in the table
// through the local label 1.
//
// The vectors whose exceptions push an error code (SDM vol. 3, 6.15):
#define INT_HAS_ERRCODE(v) ((v) == INT_DF || ((v) >= INT_TS && (v) <= INT_PF) \
    || (v) == INT_AC || (v) == INT_CP || (v) == INT_VC || (v) == INT_SX)
    .section .rodata
    .balign 8
    .globl exception_entry_table
exception_entry_table:
    .text
    .globl exception_stubs
    .type exception_stubs, @function
    .balign 16
exception_stubs:
    vector = 0
    .rept 256
    .balign 16
1:  .if INT_HAS_ERRCODE(vector)
    .else
    pushq $0                                // reg_errcode
    .endif
    pushq $vector                           // reg_intno
    jmp exception_common
    .pushsection .rodata
    .quad 1b
    .popsection
    vector = vector + 1
    .endr

// On arrival from CPL 3 the processor has switched to the TSS's rsp0 (the
// end of current->regs), and with the stub's two pushes the stack is:
//   current->regs + 0xB0 -> (end)
//                    0xA8    reg_ss       -+
//                    0xA0    reg_rsp       |
//                    0x98    reg_rflags    | pushed by the processor
//                    0x90    reg_cs        |
//                    0x88    reg_rip      -+
//                    0x80    reg_errcode  (the processor's, or the stub's 0)
//                    0x78    reg_intno    <- %rsp (pushed by the stub)
// From CPL 0 (the kernel interrupted while idle, or faulting) the same
// frame is on the kernel stack, or on an IST stack for a double fault or
// the watchdog's NMI.
exception_common:
    SAVE_GPRS                               // 0x70 (r15) down to 0x00 (rax)
    movq %rsp, %rdi                         // regstate*
    // Whose registers are these? The low two bits of the saved %cs are the
    // privilege level the processor was at. Virtual-8086 mode (possible
    // only under QEMU: k-quirks.cc) is a process too, whatever its %cs.
    testb $3, REGS_CS(%rsp)
    jnz 1f
    // QUIRK: vm86
    testl $FL_VM, REGS_RFLAGS(%rsp)
    jnz 1f
    // The kernel itself was interrupted (it waits with interrupts on only
    // while idle) or faulted (exception() panics). Stay on this stack.
    CLEAR_FLAGS
    call exception_entry
    RESTORE_GPRS
    addq $16, %rsp
    iretq
1:  movq $KERNEL_STACK_TOP, %rsp            // a fresh kernel stack
    CLEAR_FLAGS
    PTSWITCH_TO_KERNEL
    call exception_entry
    // exception() for a process always ends in run() or schedule(), which
    // do not return. One that returns (a fault handled with process_kill
    // and no schedule() after it) is a kernel bug: say so, and what to do.
    leaq exception_returned(%rip), %rdi
    xorl %eax, %eax                         // variadic: no vector registers
    call _Z5panicPKcz                       // panic(const char*, ...): does not return
    .pushsection .rodata
exception_returned:
    .asciz "exception() returned for a process: it must end in schedule() or run(), which do not return (after process_kill, call schedule())"
    .popsection

    .bss
    .balign 8
// The process's %rsp at `syscall`, kept here only until it is pushed
// (one CPU, interrupts off: no one else uses it meanwhile).
syscall_user_rsp:
    .quad 0
// PTSWITCH=1: the kernel's own page table on every entry (see above).
    .globl ptswitch
ptswitch:
    .byte 0
