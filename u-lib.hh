// u-lib.hh: the process library: system call wrappers and what a program
// needs besides lib.hh. A program defines `void process_main()`.
#ifndef WEENSYOS_U_LIB_HH
#define WEENSYOS_U_LIB_HH
#include "lib.hh"
#include "x86-64.h"

// The program's own code, called when the process starts. Returning from
// it exits the process.
void process_main();

// PROCS="name:ARG" hands the process ARG (0 if none); `process_life`
// counts its restarts under RESPAWN (0 the first time).
extern uint64_t process_arg;
extern uint64_t process_life;

// Alice and every Eve print one line every ITERATIONS_PER_LINE iterations
// of their loop, one sys_yield each (the grader and the tests count on it).
#define ITERATIONS_PER_LINE 1024

// The shortest gap between two readings of the time-stamp counter, over
// `samples` readings in a row: the cost of reading it, with nothing in
// between. A far longer gap is an interrupt the process did not see.
inline uint64_t rdtsc_shortest_gap(int samples) {
    uint64_t shortest = ~0UL;
    uint64_t prev = rdtsc();
    for (int i = 0; i != samples; ++i) {
        uint64_t now = rdtsc();
        shortest = min(shortest, now - prev);
        prev = now;
    }
    return shortest;
}

// ---- System calls ----
// The ABI: number in %rax, arguments in %rdi, %rsi, %rdx, %r10, %r8, %r9,
// result in %rax. The `syscall` instruction itself overwrites %rcx (return
// address) and %r11 (flags). The contract promises that %rsp, %rbx, %rbp
// and %r12-%r15 keep their values; today's kernel keeps every register but
// %rax, %rcx and %r11 (README, "System calls"), but a program relies only on
// the promise, so the clobber list below names the other argument
// registers too.

inline uint64_t make_syscall(uint64_t number, uint64_t a0 = 0, uint64_t a1 = 0,
                             uint64_t a2 = 0) {
    register uint64_t rax asm("rax") = number;
    register uint64_t rdi asm("rdi") = a0;
    register uint64_t rsi asm("rsi") = a1;
    register uint64_t rdx asm("rdx") = a2;
    asm volatile("syscall"
                 : "+r" (rax), "+r" (rdi), "+r" (rsi), "+r" (rdx)
                 :
                 : "rcx", "r8", "r9", "r10", "r11", "memory", "cc");
    return rax;
}

// Returns the caller's process ID (1..MAX_PROCS).
inline int sys_getpid() {
    return make_syscall(SYSCALL_GETPID);
}

// Gives the CPU to the next runnable process.
inline void sys_yield() {
    make_syscall(SYSCALL_YIELD);
}

// Ends the calling process with message `msg` (the machine goes on).
[[noreturn]] inline void sys_panic(const char* msg) {
    make_syscall(SYSCALL_PANIC, reinterpret_cast<uintptr_t>(msg));
    __builtin_unreachable();
}

// Writes the system's name (SYSNAME, NUL included) to `buf`. Returns 0, or
// -1 if the caller may not write all of it.
inline int sys_getsysname(char* buf) {
    return make_syscall(SYSCALL_GETSYSNAME, reinterpret_cast<uintptr_t>(buf));
}

// Maps a fresh zeroed page at `addr`, which must be page-aligned and in the
// caller's own memory (its slot on the lecture's kernels; PROC_START_ADDR up
// to MEMSIZE_VIRTUAL on the problem set's). Returns 0, or -1 (a bad
// address, or no memory left).
inline int sys_page_alloc(void* addr) {
    return make_syscall(SYSCALL_PAGE_ALLOC, reinterpret_cast<uintptr_t>(addr));
}

// Ends the calling process.
[[noreturn]] inline void sys_exit() {
    make_syscall(SYSCALL_EXIT);
    __builtin_unreachable();
}

// Makes a copy of the calling process. Returns the child's pid to the
// parent and 0 to the child; -1 if no slot or not enough memory is left.
inline int sys_fork() {
    return make_syscall(SYSCALL_FORK);
}
#endif
