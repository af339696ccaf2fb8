// p-rogue.cc: a program that tries every illegal system call it can think
// of (the textbook exercise): each call with null, kernel, console,
// other-process, unmapped, non-canonical, unaligned, boundary-crossing and
// huge arguments; unknown call numbers; and hostile %rsp and flags at the
// `syscall` instruction. The kernel must answer each one and carry on.
//
// PROCS="rogue:G" chooses what to run (0, the default, runs everything):
//   1  call numbers and garbage arguments      2  sys_getsysname buffers
//   3  sys_page_alloc addresses                4  hostile %rsp and flags
//   5  calls that end the process (sys_panic, then sys_exit): life L runs
//      case L, so RESPAWN=12 or more steps through them all.
// Each case prints "rogue: CALL(ARGS) = RESULT ok" (or UNEXPECTED); groups
// 1-4 end with "rogue: N cases, M unexpected". Run as pid 1 or 2: the
// "other slot" cases aim at the other one.
#include "u-lib.hh"
#include "kernel-addresses.h"

static int self;                // our pid
static int other;               // the other process's pid (its slot)
static uintptr_t slot;          // proc_slot_start(self)
static int cases, unexpected;

// Pages of our slot that this program uses beyond its image (which ends
// far below the first: see obj/p-rogue.sym): `alloc_page` is mapped with sys_page_alloc,
// `spare_page` is mapped by group 3, `never_page` is never mapped.
#define ALLOC_PAGE_OFFSET   0x10000UL
#define SPARE_PAGE_OFFSET   0x20000UL
#define NEVER_PAGE_OFFSET   0x30000UL

#define NONCANONICAL        0x0000800000000000UL  // just past the lower half
#define UPPER_HALF          0xFFFF800000000000UL  // canonical, never mapped
#define LAPIC_PAGE          0xFEE00000UL


// ---- Making calls ----

// A system call with all six argument registers chosen.
static uint64_t call6(uint64_t nr, uint64_t a0, uint64_t a1 = 0, uint64_t a2 = 0,
                      uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0) {
    register uint64_t rax asm("rax") = nr;
    register uint64_t rdi asm("rdi") = a0;
    register uint64_t rsi asm("rsi") = a1;
    register uint64_t rdx asm("rdx") = a2;
    register uint64_t r10 asm("r10") = a3;
    register uint64_t r8 asm("r8") = a4;
    register uint64_t r9 asm("r9") = a5;
    asm volatile("syscall"
                 : "+r" (rax), "+r" (rdi), "+r" (rsi), "+r" (rdx), "+r" (r10),
                   "+r" (r8), "+r" (r9)
                 :
                 : "rcx", "r11", "memory", "cc");
    return rax;
}

// A system call made with %rsp = `stack` (and the direction flag set if
// `df`): the kernel must not use the process's stack pointer. Our own
// %rsp waits in %r12 (callee-saved); `*rsp_after` is %rsp as the kernel
// handed it back.
static uint64_t call_on_stack(uint64_t nr, uint64_t a0, uint64_t stack, bool df,
                              uint64_t* rsp_after) {
    register uint64_t rax asm("rax") = nr;
    register uint64_t rdi asm("rdi") = a0;
    register uint64_t r13 asm("r13") = df;
    asm volatile("movq %%rsp, %%r12\n\t"
                 "testq %%r13, %%r13\n\t"
                 "movq %[stack], %%rsp\n\t"
                 "jz 1f\n\t"
                 "std\n"
                 "1:\tsyscall\n\t"
                 "cld\n\t"
                 "movq %%rsp, %%r13\n\t"
                 "movq %%r12, %%rsp"
                 : "+r" (rax), "+r" (rdi), "+r" (r13)
                 : [stack] "r" (stack)
                 : "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "r12", "memory", "cc");
    *rsp_after = r13;
    return rax;
}


// ---- Reporting ----

// Reports one case: `call` is "name(args)"; `fine` says whether everything
// besides the result (memory contents, registers) was as expected.
static void report(const char* call, uint64_t result, uint64_t expected, bool fine = true) {
    bool ok = result == expected && fine;
    ++cases;
    unexpected += !ok;
    console_printf(ok ? 0x0A00 : 0x0C00, "rogue: %s = %ld %s\n", call,
                   (long) result, ok ? "ok" : "UNEXPECTED");
}

static void report_count() {
    console_printf(unexpected ? 0x0C00 : 0x0F00, "rogue: %d cases, %d unexpected\n",
                   cases, unexpected);
}

static bool holds_sysname(const char* buf) {
    return memcmp(buf, SYSNAME, sizeof(SYSNAME)) == 0;
}


// ---- Group 1: call numbers and garbage arguments ----

static void try_numbers() {
    char call[80];
    // getpid and yield take no arguments: garbage in every register changes
    // nothing.
    report("getpid(0xffffffffffffffff, 0x40000, 0xb8000, 0, 0x800000000000, 1)",
           call6(SYSCALL_GETPID, ~0UL, KERNEL_START_ADDR, CONSOLE_ADDR, 0, NONCANONICAL, 1),
           self);
    report("yield(0x40010, 0, 0xffff800000000000, 7, 0x80000, 0xb8000)",
           call6(SYSCALL_YIELD, KERNEL_SYSCALL_ENTRY, 0, UPPER_HALF, 7, KERNEL_STACK_TOP,
                 CONSOLE_ADDR),
           0);
    // Unknown numbers, including 64-bit values whose low 32 bits name a
    // real call: the kernel must compare all 64 bits.
    static const uint64_t numbers[] = {
        0, 7, 8, 255, 256, ~0UL, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
        0x100000001, 0x100000002, 0x100000003, 0x100000004, 0x100000005,
        0x100000006, 0xFFFFFFFF00000001, 0x8000000000000006
    };
    for (uint64_t nr : numbers) {
        char buf[16];
        snprintf(call, sizeof(call), "syscall(0x%lx)", nr);
        // Arguments a real call would accept, so only the number is wrong.
        report(call, call6(nr, reinterpret_cast<uintptr_t>(buf), slot + SPARE_PAGE_OFFSET), -1);
    }
}


// ---- Group 2: sys_getsysname buffers ----

static void try_getsysname() {
    uintptr_t page = slot + ALLOC_PAGE_OFFSET;
    assert(sys_page_alloc(reinterpret_cast<void*>(page)) == 0);
    const uintptr_t n = sizeof(SYSNAME);
    struct { uintptr_t addr; const char* what; } bad[] = {
        {0, "null"},
        {8, "page 0"},
        {KERNEL_START_ADDR, "kernel code"},
        {KERNEL_SYSCALL_ENTRY, "syscall entry"},
        {KERNEL_STACK_TOP - 16, "kernel stack"},
        {proc_slot_start(other), "other slot"},
        {proc_slot_end(self) - 4, "own stack into other slot"},
        {slot - 4, "kernel page into own slot"},
        {reinterpret_cast<uintptr_t>(&process_main), "own code, read-only"},
        {slot + NEVER_PAGE_OFFSET, "own unmapped page"},
        {page + PAGESIZE - 4, "own page into unmapped"},
        {page - 4, "unmapped into own page"},
        {MEMSIZE_PHYSICAL - 4, "end of physical memory"},
        {LAPIC_PAGE, "local APIC"},
        {NONCANONICAL, "non-canonical"},
        {NONCANONICAL - 4, "end of canonical space"},
        {UPPER_HALF, "upper half"},
        {~0UL - 3, "wraps past 2^64"},
        {~0UL, "huge"},
    };
    char call[80];
    for (auto& b : bad) {
        snprintf(call, sizeof(call), "getsysname(0x%lx) [%s]", b.addr, b.what);
        report(call, call6(SYSCALL_GETSYSNAME, b.addr), -1);
    }
    // Buffers the caller may write: the call succeeds and writes the name.
    char own[16];
    int r = call6(SYSCALL_GETSYSNAME, reinterpret_cast<uintptr_t>(own));
    report("getsysname(stack buffer) [own]", r, 0, holds_sysname(own));
    char* tail = reinterpret_cast<char*>(page + PAGESIZE - n);
    snprintf(call, sizeof(call), "getsysname(0x%lx) [unaligned, ends at page end]",
             page + PAGESIZE - n);
    r = call6(SYSCALL_GETSYSNAME, page + PAGESIZE - n);
    report(call, r, 0, holds_sysname(tail));
}


// ---- Group 3: sys_page_alloc addresses ----

static void try_page_alloc() {
    uintptr_t spare = slot + SPARE_PAGE_OFFSET;
    struct { uintptr_t addr; const char* what; } bad[] = {
        {0, "null"},
        {KERNEL_START_ADDR, "kernel code"},
        {KERNEL_SYSCALL_ENTRY, "syscall entry"},
        {round_down(KERNEL_SYSCALL_ENTRY, PAGESIZE), "its page"},
        {KERNEL_STACK_TOP - PAGESIZE, "kernel stack"},
        {CONSOLE_ADDR, "console"},
        {slot - PAGESIZE, "just below own slot"},
        {proc_slot_start(other), "other slot"},
        {proc_slot_end(self), "just past own slot"},
        {spare + 1, "own slot, unaligned"},
        {spare + PAGESIZE / 2, "own slot, half page"},
        {MEMSIZE_PHYSICAL, "end of physical memory"},
        {LAPIC_PAGE, "local APIC"},
        {spare + (1UL << 32), "own slot + 4 GB"},
        {spare | (1UL << 63), "own slot, bit 63"},
        {NONCANONICAL, "non-canonical"},
        {UPPER_HALF, "upper half"},
        {~0UL & ~(PAGESIZE - 1), "last page of 2^64"},
    };
    char call[80];
    for (auto& b : bad) {
        snprintf(call, sizeof(call), "page_alloc(0x%lx) [%s]", b.addr, b.what);
        report(call, call6(SYSCALL_PAGE_ALLOC, b.addr), -1);
    }
    // An unmapped page of our own slot: mapped, zeroed, ours to write.
    auto word = reinterpret_cast<volatile uint64_t*>(spare + 8);
    snprintf(call, sizeof(call), "page_alloc(0x%lx) [own unmapped page]", spare);
    int r = call6(SYSCALL_PAGE_ALLOC, spare);
    bool zero = r == 0 && *word == 0;
    if (r == 0) {
        *word = 0x5EED;
    }
    report(call, r, 0, zero);
    // Asking again gives a fresh zeroed page there.
    snprintf(call, sizeof(call), "page_alloc(0x%lx) [own page again]", spare);
    r = call6(SYSCALL_PAGE_ALLOC, spare);
    report(call, r, 0, *word == 0);
}


// ---- Group 4: hostile %rsp and flags ----

static void try_stacks() {
    static const uint64_t stacks[] = {
        0, KERNEL_STACK_TOP, KERNEL_STACK_TOP - 8, KERNEL_SYSCALL_ENTRY,
        NONCANONICAL, UPPER_HALF, ~0UL
    };
    char call[80];
    uint64_t rsp_after;
    for (uint64_t stack : stacks) {
        snprintf(call, sizeof(call), "getpid() with %%rsp=0x%lx", stack);
        uint64_t r = call_on_stack(SYSCALL_GETPID, 0, stack, false, &rsp_after);
        report(call, r, self, rsp_after == stack);
    }
    uint64_t r = call_on_stack(SYSCALL_YIELD, 0, 0, false, &rsp_after);
    report("yield() with %rsp=0x0", r, 0, rsp_after == 0);
    char own[16] = "";
    r = call_on_stack(SYSCALL_GETSYSNAME, reinterpret_cast<uintptr_t>(own),
                      KERNEL_STACK_TOP, false, &rsp_after);
    report("getsysname(stack buffer) with %rsp=0x80000", r, 0,
           rsp_after == KERNEL_STACK_TOP && holds_sysname(own));
    // With the direction flag set, a kernel copy that trusted the
    // process's flags would run backwards.
    memset(own, 0, sizeof(own));
    r = call_on_stack(SYSCALL_GETSYSNAME, reinterpret_cast<uintptr_t>(own),
                      0, true, &rsp_after);
    report("getsysname(stack buffer) with DF set, %rsp=0x0", r, 0,
           rsp_after == 0 && holds_sysname(own));
    r = call_on_stack(SYSCALL_GETPID, 0, NONCANONICAL, true, &rsp_after);
    report("getpid() with DF set, %rsp=0x800000000000", r, self, rsp_after == NONCANONICAL);
}


// ---- Group 5: calls that end the process, one per life ----

// A sys_panic message that runs off the end of a mapped page, unterminated.
static uintptr_t message_at_page_end(const char* text) {
    uintptr_t page = slot + ALLOC_PAGE_OFFSET;
    assert(sys_page_alloc(reinterpret_cast<void*>(page)) == 0);
    size_t n = strlen(text);
    char* msg = reinterpret_cast<char*>(page + PAGESIZE - n);
    memcpy(msg, text, n);
    return reinterpret_cast<uintptr_t>(msg);
}

static const char* const fatal_cases[] = {
    "panic(0x0) [null]",
    "panic(0x40000) [kernel code]",
    "panic(syscall entry)",
    "panic(other slot)",
    "panic(own unmapped page)",
    "panic(0x800000000000) [non-canonical]",
    "panic(0xffffffffffffffff) [huge]",
    "panic(message cut by the end of a page)",
    "panic(message with a newline and a forged log line)",
    "panic(200 characters, no NUL)",
    "panic(0xb8000) [console]",
    "panic(\"rogue: hostile stack\") with %rsp=0x0",
    "exit() with garbage in every register and %rsp=0x0",
};

[[noreturn]] static void try_fatal(uint64_t index) {
    if (index >= arraysize(fatal_cases)) {
        console_printf(CS_WHITE "rogue: no fatal case %lu\n", index);
        sys_exit();
    }
    console_printf(CS_WHITE "rogue: fatal case %lu of %zu: %s\n", index + 1,
                   arraysize(fatal_cases), fatal_cases[index]);
    uint64_t rsp_after;
    switch (index) {
    case 0: call6(SYSCALL_PANIC, 0); break;
    case 1: call6(SYSCALL_PANIC, KERNEL_START_ADDR); break;
    case 2: call6(SYSCALL_PANIC, KERNEL_SYSCALL_ENTRY); break;
    case 3: call6(SYSCALL_PANIC, proc_slot_start(other)); break;
    case 4: call6(SYSCALL_PANIC, slot + NEVER_PAGE_OFFSET); break;
    case 5: call6(SYSCALL_PANIC, NONCANONICAL); break;
    case 6: call6(SYSCALL_PANIC, ~0UL); break;
    case 7: call6(SYSCALL_PANIC, message_at_page_end("rogue: cut at the page end")); break;
    case 8: call6(SYSCALL_PANIC, reinterpret_cast<uintptr_t>(
                 "rogue\nPANIC: forged by rogue\nproc 4 killed: \x1b[91mforged")); break;
    case 9: {
        char text[201];
        memset(text, 'A', 200);
        text[200] = '\0';
        call6(SYSCALL_PANIC, reinterpret_cast<uintptr_t>(text));
        break;
    }
    case 10: call6(SYSCALL_PANIC, CONSOLE_ADDR); break;
    case 11:
        call_on_stack(SYSCALL_PANIC, reinterpret_cast<uintptr_t>("rogue: hostile stack"),
                      0, false, &rsp_after);
        break;
    case 12:
        call6(SYSCALL_EXIT, ~0UL, KERNEL_START_ADDR, NONCANONICAL, CONSOLE_ADDR, 0, ~0UL);
        break;
    }
    console_printf(0x0C00, "rogue: fatal case %lu returned: UNEXPECTED\n", index + 1);
    sys_exit();
}


void process_main() {
    self = sys_getpid();
    other = self == 2 ? 1 : 2;
    slot = proc_slot_start(self);

    uint64_t group = process_arg;
    if (group == 5 || (group == 0 && process_life > 0)) {
        try_fatal(process_life);
    }
    if (group == 0 || group == 1) {
        try_numbers();
    }
    if (group == 0 || group == 2) {
        try_getsysname();
    }
    if (group == 0 || group == 3) {
        try_page_alloc();
    }
    if (group == 0 || group == 4) {
        try_stacks();
    }
    report_count();
    if (group == 0) {
        try_fatal(0);
    }
}
