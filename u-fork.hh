// u-fork.hh: sys_fork, checked the way the contract states it:
// fork_checked() returns what fork returned, in the parent and in the
// child, and stops a process (sys_panic, naming what differs) when
//   - any register but %rax (and %rcx and %r11, which the syscall
//     instruction itself uses) came back different, in the parent or in
//     the child;
//   - the child got anything but 0, or the parent 0, its own pid or
//     anything that is no pid.
#ifndef WEENSYOS_U_FORK_HH
#define WEENSYOS_U_FORK_HH
#include "u-lib.hh"

inline int fork_checked() {
    int before = sys_getpid();
    uint64_t rax = SYSCALL_FORK;
    uint64_t changed;
    // The pushes go below the red zone, where the compiler may keep locals.
    // Each register gets a value of its own (%rbp a copy of %rsp); after
    // the call, `changed` ORs together how each one differs.
    asm volatile("subq $128, %%rsp\n\t"
                 "pushq %%rbx\n\tpushq %%rbp\n\tpushq %%r12\n\t"
                 "pushq %%r13\n\tpushq %%r14\n\tpushq %%r15\n\t"
                 "movq %%rsp, %%rbp\n\t"
                 "movabsq $0x1111111111111111, %%rbx\n\t"
                 "movabsq $0x1212121212121212, %%r12\n\t"
                 "movabsq $0x1313131313131313, %%r13\n\t"
                 "movabsq $0x1414141414141414, %%r14\n\t"
                 "movabsq $0x1515151515151515, %%r15\n\t"
                 "movabsq $0x1616161616161616, %%rdi\n\t"
                 "movabsq $0x1717171717171717, %%rsi\n\t"
                 "movabsq $0x1818181818181818, %%rdx\n\t"
                 "movabsq $0x1919191919191919, %%r8\n\t"
                 "movabsq $0x1a1a1a1a1a1a1a1a, %%r9\n\t"
                 "movabsq $0x1b1b1b1b1b1b1b1b, %%r10\n\t"
                 "syscall\n\t"
                 "movabsq $0x1111111111111111, %%rcx\n\txorq %%rcx, %%rbx\n\t"
                 "movabsq $0x1212121212121212, %%rcx\n\txorq %%rcx, %%r12\n\torq %%r12, %%rbx\n\t"
                 "movabsq $0x1313131313131313, %%rcx\n\txorq %%rcx, %%r13\n\torq %%r13, %%rbx\n\t"
                 "movabsq $0x1414141414141414, %%rcx\n\txorq %%rcx, %%r14\n\torq %%r14, %%rbx\n\t"
                 "movabsq $0x1515151515151515, %%rcx\n\txorq %%rcx, %%r15\n\torq %%r15, %%rbx\n\t"
                 "movabsq $0x1616161616161616, %%rcx\n\txorq %%rcx, %%rdi\n\torq %%rdi, %%rbx\n\t"
                 "movabsq $0x1717171717171717, %%rcx\n\txorq %%rcx, %%rsi\n\torq %%rsi, %%rbx\n\t"
                 "movabsq $0x1818181818181818, %%rcx\n\txorq %%rcx, %%rdx\n\torq %%rdx, %%rbx\n\t"
                 "movabsq $0x1919191919191919, %%rcx\n\txorq %%rcx, %%r8\n\torq %%r8, %%rbx\n\t"
                 "movabsq $0x1a1a1a1a1a1a1a1a, %%rcx\n\txorq %%rcx, %%r9\n\torq %%r9, %%rbx\n\t"
                 "movabsq $0x1b1b1b1b1b1b1b1b, %%rcx\n\txorq %%rcx, %%r10\n\torq %%r10, %%rbx\n\t"
                 "movq %%rsp, %%rcx\n\txorq %%rbp, %%rcx\n\torq %%rcx, %%rbx\n\t"
                 "movq %%rbx, %%rdx\n\t"
                 "popq %%r15\n\tpopq %%r14\n\tpopq %%r13\n\t"
                 "popq %%r12\n\tpopq %%rbp\n\tpopq %%rbx\n\t"
                 "addq $128, %%rsp"
                 : "+a" (rax), "=d" (changed)
                 :
                 : "rcx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
    int after = sys_getpid();
    char buf[100];
    if (after != before && rax != 0) {
        snprintf(buf, sizeof(buf), "fork: the child (pid %d) got %ld from sys_fork, not 0",
                 after, (long) rax);
        sys_panic(buf);
    }
    if (after == before && (rax == 0 || (long) rax == before
                            || (long) rax > MAX_PROCS)) {
        snprintf(buf, sizeof(buf), "fork: the parent (pid %d) got %ld from sys_fork, not the "
                 "child's pid", before, (long) rax);
        sys_panic(buf);
    }
    if (changed != 0) {
        sys_panic(after != before ? "fork: the child's registers differ from its parent's"
                  : "fork: the parent's registers changed across the call");
    }
    return rax;
}
#endif
