// u-fork.hh: sys_fork with a check of the registers a system call must
// keep (%rsp, %rbx, %rbp, %r12-%r15): fork_checked() returns what fork
// returned, in the parent and in the child, and stops a process whose
// registers came back different.
#ifndef WEENSYOS_U_FORK_HH
#define WEENSYOS_U_FORK_HH
#include "u-lib.hh"

inline int fork_checked() {
    uint64_t rax = SYSCALL_FORK;
    uint64_t changed;
    // The pushes go below the red zone, where the compiler may keep locals.
    // Each kept register gets a value of its own (%rbp a copy of %rsp);
    // after the call, `changed` ORs together how each one differs.
    asm volatile("subq $128, %%rsp\n\t"
                 "pushq %%rbx\n\tpushq %%rbp\n\tpushq %%r12\n\t"
                 "pushq %%r13\n\tpushq %%r14\n\tpushq %%r15\n\t"
                 "movq %%rsp, %%rbp\n\t"
                 "movabsq $0x1111111111111111, %%rbx\n\t"
                 "movabsq $0x1212121212121212, %%r12\n\t"
                 "movabsq $0x1313131313131313, %%r13\n\t"
                 "movabsq $0x1414141414141414, %%r14\n\t"
                 "movabsq $0x1515151515151515, %%r15\n\t"
                 "syscall\n\t"
                 "movabsq $0x1111111111111111, %%rcx\n\txorq %%rcx, %%rbx\n\t"
                 "movabsq $0x1212121212121212, %%rcx\n\txorq %%rcx, %%r12\n\torq %%r12, %%rbx\n\t"
                 "movabsq $0x1313131313131313, %%rcx\n\txorq %%rcx, %%r13\n\torq %%r13, %%rbx\n\t"
                 "movabsq $0x1414141414141414, %%rcx\n\txorq %%rcx, %%r14\n\torq %%r14, %%rbx\n\t"
                 "movabsq $0x1515151515151515, %%rcx\n\txorq %%rcx, %%r15\n\torq %%r15, %%rbx\n\t"
                 "movq %%rsp, %%rcx\n\txorq %%rbp, %%rcx\n\torq %%rcx, %%rbx\n\t"
                 "movq %%rbx, %%rdx\n\t"
                 "popq %%r15\n\tpopq %%r14\n\tpopq %%r13\n\t"
                 "popq %%r12\n\tpopq %%rbp\n\tpopq %%rbx\n\t"
                 "addq $128, %%rsp"
                 : "+a" (rax), "=d" (changed)
                 :
                 : "rcx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
    if (changed != 0) {
        sys_panic(rax == 0 ? "fork: the child's registers differ from its parent's"
                  : "fork: the parent's registers changed across the call");
    }
    return rax;
}
#endif
