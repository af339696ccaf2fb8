// p-crashme.cc: Eve runs random bytes as code (after the old Unix
// `crashme`). Each life fills a fresh page of her own slot with bytes from
// a seed (her PROCS argument and life count), loads random values into
// every register, and jumps in. Most such code faults at once, some runs a
// while, some spins; whatever it does (privileged instructions, `int $N`,
// wild writes, system calls with junk arguments), the kernel must kill
// only her, or let the timer take the CPU back, and never fall over.
// Run with RESPAWN to crash again and again.
#include "u-lib.hh"

// Where the random code goes: a page well past the program's image and
// below its stack.
#define CODE_PAGE_OFFSET 0x20000UL

// Every register for the jump: %rax..%r15 (%rsp in its place), then the
// target. crashme_jump loads them all, reading memory only rip-relative,
// so any %rsp and %rdi will do.
extern "C" {
struct {
    uint64_t gpr[16];           // rax rcx rdx rbx rsp rbp rsi rdi r8-r15
    uint64_t rip;
} crashme_regs;
[[noreturn]] void crashme_jump();
}
#define RSP 4

asm(".pushsection .text\n"
    ".globl crashme_jump\n"
    "crashme_jump:\n"
    "    movq crashme_regs+0(%rip), %rax\n"
    "    movq crashme_regs+8(%rip), %rcx\n"
    "    movq crashme_regs+16(%rip), %rdx\n"
    "    movq crashme_regs+24(%rip), %rbx\n"
    "    movq crashme_regs+32(%rip), %rsp\n"
    "    movq crashme_regs+40(%rip), %rbp\n"
    "    movq crashme_regs+48(%rip), %rsi\n"
    "    movq crashme_regs+56(%rip), %rdi\n"
    "    movq crashme_regs+64(%rip), %r8\n"
    "    movq crashme_regs+72(%rip), %r9\n"
    "    movq crashme_regs+80(%rip), %r10\n"
    "    movq crashme_regs+88(%rip), %r11\n"
    "    movq crashme_regs+96(%rip), %r12\n"
    "    movq crashme_regs+104(%rip), %r13\n"
    "    movq crashme_regs+112(%rip), %r14\n"
    "    movq crashme_regs+120(%rip), %r15\n"
    "    jmp *crashme_regs+128(%rip)\n"
    ".popsection");

void process_main() {
    rand_seed(process_arg * 0x9E3779B97F4A7C15UL + process_life + 1);
    uintptr_t page = proc_slot_start(sys_getpid()) + CODE_PAGE_OFFSET;
    assert(sys_page_alloc(reinterpret_cast<void*>(page)) == 0);
    auto code = reinterpret_cast<uint64_t*>(page);
    for (size_t i = 0; i != PAGESIZE / 8; ++i) {
        code[i] = rand64();
    }
    for (auto& r : crashme_regs.gpr) {
        r = rand64();
    }
    // Half the time a usable stack (the middle of our stack page), so the
    // random code gets further; otherwise whatever the dice say.
    if (rand(0, 1)) {
        crashme_regs.gpr[RSP] = proc_slot_end(sys_getpid()) - PAGESIZE / 2;
    }
    crashme_regs.rip = page + rand(0, PAGESIZE / 2);
    console_printf(CS_DARKGRAY "crashme %lu.%lu: jumping to 0x%lx\n", process_arg,
                   process_life, crashme_regs.rip);
    crashme_jump();
}
