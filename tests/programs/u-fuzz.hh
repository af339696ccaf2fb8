// u-fuzz.hh: one system call with every register chosen, for the fuzzers
// (p-fuzz.cc, the lecture's; p-psfuzz.cc, the problem set's). fuzz_call()
// loads every register from fuzz_in (the direction flag set if
// fuzz_in[NREGS] is nonzero), runs `syscall`, and stores every register
// into fuzz_out; it reads and writes them rip-relative, so the stack
// pointer can be anything, and returns on its own saved stack.
#ifndef WEENSYOS_U_FUZZ_HH
#define WEENSYOS_U_FUZZ_HH
#include "u-lib.hh"
#include "kernel-addresses.h"

// Registers in and out of one call, in this order.
enum { RAX, RBX, RCX, RDX, RSI, RDI, RBP, RSP, R8, R9, R10, R11, R12, R13, R14, R15, NREGS };
extern "C" {
uint64_t fuzz_in[NREGS + 1];    // + 1: nonzero sets the direction flag
uint64_t fuzz_out[NREGS];
uint64_t fuzz_saved_rsp;
void fuzz_call();
}

#define LOAD(i, reg) "    movq fuzz_in+" #i "*8(%rip), %" #reg "\n"
#define STORE(i, reg) "    movq %" #reg ", fuzz_out+" #i "*8(%rip)\n"
asm(".pushsection .text\n"
    ".globl fuzz_call\n"
    "fuzz_call:\n"
    "    pushq %rbx\n"
    "    pushq %rbp\n"
    "    pushq %r12\n"
    "    pushq %r13\n"
    "    pushq %r14\n"
    "    pushq %r15\n"
    "    movq %rsp, fuzz_saved_rsp(%rip)\n"
    "    cmpq $0, fuzz_in+16*8(%rip)\n"
    "    je 1f\n"
    "    std\n"
    "1:\n"
    LOAD(0, rax) LOAD(1, rbx) LOAD(2, rcx) LOAD(3, rdx) LOAD(4, rsi) LOAD(5, rdi)
    LOAD(6, rbp) LOAD(7, rsp) LOAD(8, r8) LOAD(9, r9) LOAD(10, r10) LOAD(11, r11)
    LOAD(12, r12) LOAD(13, r13) LOAD(14, r14) LOAD(15, r15)
    "    syscall\n"
    STORE(0, rax) STORE(1, rbx) STORE(2, rcx) STORE(3, rdx) STORE(4, rsi) STORE(5, rdi)
    STORE(6, rbp) STORE(7, rsp) STORE(8, r8) STORE(9, r9) STORE(10, r10) STORE(11, r11)
    STORE(12, r12) STORE(13, r13) STORE(14, r14) STORE(15, r15)
    "    cld\n"
    "    movq fuzz_saved_rsp(%rip), %rsp\n"
    "    popq %r15\n"
    "    popq %r14\n"
    "    popq %r13\n"
    "    popq %r12\n"
    "    popq %rbp\n"
    "    popq %rbx\n"
    "    ret\n"
    ".popsection");

// An address at the edge of something (the kernel, the console, the ends
// of process memory, the canonical halves) or a random one, small to huge.
inline uint64_t edge_address() {
    static const uint64_t fixed[] = {
        0, 1, 8, PAGESIZE, KERNEL_START_ADDR, KERNEL_SYSCALL_ENTRY, KERNEL_STACK_TOP - 8,
        KERNEL_STACK_TOP, CONSOLE_ADDR, CONSOLE_ADDR + PAGESIZE - 4, PROC_START_ADDR - 4,
        MEMSIZE_PHYSICAL - 4, MEMSIZE_PHYSICAL, MEMSIZE_VIRTUAL - 4, MEMSIZE_VIRTUAL,
        0xFEE00000, 0x7FFFFFFFFFF8, 0x7FFFFFFFFFFF, 0x800000000000, 0xFFFF800000000000,
        0xFFFFFFFFFFFFF000, ~0UL - 8, ~0UL, 1UL << 63, 0xFFFFFFFF, 0x100000000
    };
    switch (rand(0, 2)) {
    case 0:
        return fixed[rand(0, arraysize(fixed) - 1)];
    case 1:
        return rand64() & ((1UL << rand(1, 63)) - 1);     // small to huge
    default:
        return rand64();
    }
}
// A 64-bit value that is no system call number of a kernel whose last is
// `last`: 0, small and large ones, the low half valid but not the high,
// negative ones.
inline uint64_t unknown_number(uint64_t last) {
    while (true) {
        uint64_t nr;
        switch (rand(0, 3)) {
        case 0: nr = rand(0, 1) ? 0 : rand(last + 1, 300); break;
        case 1: nr = (rand64() << 32) | rand(1, last); break;
        case 2: nr = -(uint64_t) rand(1, 10); break;
        default: nr = rand64(); break;
        }
        if (nr < 1 || nr > last) {
            return nr;
        }
    }
}
#endif
