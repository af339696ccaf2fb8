// p-fuzz.cc: Eve makes system calls with random numbers, random and
// "interesting" arguments (boundaries, kernel addresses, other slots, the
// console, non-canonical values), random values in every other register
// (%rsp and the direction flag included), and checks each answer she can
// predict:
//   getpid returns her pid; yield returns 0;
//   getsysname into her own buffer returns 0 and writes SYSNAME, and into
//   any buffer not wholly inside her slot returns -1;
//   page_alloc returns 0 for an aligned page of her slot, -1 otherwise;
//   every unknown number (0, 7, ..., 0x1'00000001, ...) returns -1;
//   %rbx, %rbp, %r12-%r15 and %rsp keep their values.
// She never calls sys_panic or sys_exit at random. PROCS="fuzz:N" stops
// after N calls (0: never) with "fuzz: done: N calls, M mismatches", then
// exits if M is 0 and ends with sys_panic (the reason says why) otherwise,
// so the summary alone tells. Every 65536 calls she prints the count.
#include "u-lib.hh"
#include "kernel-addresses.h"

// Registers in and out of one call, in this order; fuzz_call reads and
// writes them rip-relative, so the stack pointer can be anything.
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

static int self;
static uintptr_t slot;
// A page of her own for sys_getsysname; a region of her slot that holds
// nothing of hers, for sys_page_alloc, which maps a fresh zeroed page
// wherever she asks (over her code or her stack, she would lose them).
#define SYSNAME_PAGE_OFFSET 0x10000UL
#define SPARE_OFFSET        0x20000UL
#define SPARE_SIZE          0x10000UL

// Addresses at the edges of everything.
static uint64_t interesting_address() {
    static const uint64_t fixed[] = {
        0, 1, 8, PAGESIZE, KERNEL_START_ADDR, KERNEL_SYSCALL_ENTRY, KERNEL_STACK_TOP - 8,
        KERNEL_STACK_TOP, CONSOLE_ADDR, CONSOLE_ADDR + PAGESIZE - 4, PROC_START_ADDR - 4,
        MEMSIZE_PHYSICAL - 4, MEMSIZE_PHYSICAL, 0xFEE00000, 0x7FFFFFFFFFF8,
        0x7FFFFFFFFFFF, 0x800000000000, 0xFFFF800000000000, 0xFFFFFFFFFFFFF000,
        ~0UL - 8, ~0UL, 1UL << 63, 0xFFFFFFFF, 0x100000000
    };
    switch (rand(0, 3)) {
    case 0:
        return fixed[rand(0, arraysize(fixed) - 1)];
    case 1: {
        // Near the edge of some slot (hers included: the callers sort out
        // which answers they can predict).
        int pid = rand(1, SLOT_PROCS + 1);
        return proc_slot_start(pid) + rand(-16, 16);
    }
    case 2:
        return rand64() & ((1UL << rand(1, 63)) - 1);     // small to huge
    default:
        return rand64();
    }
}

// A 64-bit value that is no system call number.
static uint64_t unknown_number() {
    while (true) {
        uint64_t nr;
        switch (rand(0, 3)) {
        case 0: nr = rand(0, 1) ? 0 : rand(7, 300); break;
        case 1: nr = (rand64() << 32) | rand(1, 6); break;        // low half valid
        case 2: nr = -(uint64_t) rand(1, 10); break;
        default: nr = rand64(); break;
        }
        if (nr < 1 || nr > 6) {
            return nr;
        }
    }
}

static bool inside_own_slot(uint64_t addr, uint64_t len) {
    return addr >= slot && addr < proc_slot_end(self) && len <= proc_slot_end(self) - addr;
}

static uint64_t calls, mismatches;
static char first_mismatch[100];

static void mismatch(const char* what, uint64_t expected) {
    ++mismatches;
    if (mismatches <= 5) {
        console_printf(0x0C00, "fuzz: MISMATCH at call %lu: %s: rax=0x%lx rdi=0x%lx -> 0x%lx,"
                       " expected 0x%lx\n", calls, what, fuzz_in[RAX], fuzz_in[RDI],
                       fuzz_out[RAX], expected);
    }
    if (mismatches == 1) {
        snprintf(first_mismatch, sizeof(first_mismatch), "%s: rax=0x%lx rdi=0x%lx -> 0x%lx",
                 what, fuzz_in[RAX], fuzz_in[RDI], fuzz_out[RAX]);
    }
}

// Makes one random call and checks what it can.
static void fuzz_one() {
    for (int i = 0; i != NREGS; ++i) {
        fuzz_in[i] = rand(0, 3) ? rand64() : interesting_address();
    }
    fuzz_in[NREGS] = rand(0, 7) == 0;
    // A stack pointer of her own most of the time (the kernel must not
    // care either way).
    if (rand(0, 1)) {
        fuzz_in[RSP] = fuzz_saved_rsp - 8 * rand(0, 64);
    }

    char* sysname_buf = nullptr;
    uint64_t expected;
    const char* what;
    int kind = rand(0, 99);
    if (kind < 25) {
        what = "getpid";
        fuzz_in[RAX] = SYSCALL_GETPID;
        expected = self;
    } else if (kind < 27) {
        what = "yield";
        fuzz_in[RAX] = SYSCALL_YIELD;
        expected = 0;
    } else if (kind < 40) {
        what = "getsysname(own buffer)";
        fuzz_in[RAX] = SYSCALL_GETSYSNAME;
        uintptr_t page = slot + SYSNAME_PAGE_OFFSET;
        sysname_buf = reinterpret_cast<char*>(page + rand(0, PAGESIZE - sizeof(SYSNAME)));
        memset(sysname_buf, 0, sizeof(SYSNAME));
        fuzz_in[RDI] = reinterpret_cast<uintptr_t>(sysname_buf);
        expected = 0;
    } else if (kind < 60) {
        what = "getsysname(not own memory)";
        fuzz_in[RAX] = SYSCALL_GETSYSNAME;
        do {
            fuzz_in[RDI] = interesting_address();
        } while (inside_own_slot(fuzz_in[RDI], 1)
                 || inside_own_slot(fuzz_in[RDI] + sizeof(SYSNAME) - 1, 1)
                 || (fuzz_in[RDI] >= CONSOLE_ADDR - sizeof(SYSNAME)
                     && fuzz_in[RDI] < CONSOLE_ADDR + PAGESIZE));
        expected = -1;
    } else if (kind < 80) {
        what = "page_alloc";
        fuzz_in[RAX] = SYSCALL_PAGE_ALLOC;
        if (rand(0, 1)) {
            fuzz_in[RDI] = slot + rand(0, PROC_SLOT_SIZE - 1);
            if (rand(0, 1)) {
                fuzz_in[RDI] = round_down(fuzz_in[RDI], PAGESIZE);
            }
        } else {
            fuzz_in[RDI] = interesting_address();
        }
        if (fuzz_in[RDI] >= slot && fuzz_in[RDI] < proc_slot_end(self)) {
            fuzz_in[RDI] = slot + SPARE_OFFSET + (fuzz_in[RDI] - slot) % SPARE_SIZE;
        }
        bool ok = inside_own_slot(fuzz_in[RDI], 1) && fuzz_in[RDI] % PAGESIZE == 0;
        expected = ok ? 0 : -1;
    } else {
        what = "unknown number";
        fuzz_in[RAX] = unknown_number();
        expected = -1;
    }

    fuzz_call();
    ++calls;

    if (fuzz_out[RAX] != expected) {
        mismatch(what, expected);
    } else if (sysname_buf && memcmp(sysname_buf, SYSNAME, sizeof(SYSNAME)) != 0) {
        mismatch("getsysname wrote the wrong bytes", 0);
    }
    static const int kept[] = {RBX, RBP, RSP, R12, R13, R14, R15};
    for (int r : kept) {
        if (fuzz_out[r] != fuzz_in[r]) {
            mismatch("a callee-saved register changed", fuzz_in[r]);
            break;
        }
    }
}

void process_main() {
    self = sys_getpid();
    slot = proc_slot_start(self);
    // Different pids, lives and call counts make different streams.
    rand_seed((0xF0220000UL + process_arg) * 0x9E3779B97F4A7C15UL + self * 1000 + process_life);
    assert(sys_page_alloc(reinterpret_cast<void*>(slot + SYSNAME_PAGE_OFFSET)) == 0);
    uint64_t limit = process_arg;
    console_printf(CS_YELLOW "fuzz: pid %d, %lu calls (0: forever)\n", self, limit);
    while (limit == 0 || calls < limit) {
        fuzz_one();
        if (calls % 65536 == 0) {
            console_printf(CS_YELLOW "fuzz: %lu calls, %lu mismatches\n", calls, mismatches);
        }
    }
    console_printf(mismatches ? 0x0C00 : 0x0A00, "fuzz: done: %lu calls, %lu mismatches\n",
                   calls, mismatches);
    if (mismatches) {
        char why[160];
        snprintf(why, sizeof(why), "fuzz: %lu mismatches in %lu calls; first: %s",
                 mismatches, calls, first_mismatch);
        sys_panic(why);
    }
}
