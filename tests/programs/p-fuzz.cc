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
#include "u-fuzz.hh"

static int self;
static uintptr_t slot;
// A page of her own for sys_getsysname; a region of her slot that holds
// nothing of hers, for sys_page_alloc, which maps a fresh zeroed page
// wherever she asks (over her code or her stack, she would lose them).
#define SYSNAME_PAGE_OFFSET 0x10000UL
#define SPARE_OFFSET        0x20000UL
#define SPARE_SIZE          0x10000UL

// Addresses at the edges of everything, or near the edge of some slot
// (hers included: the callers sort out which answers they can predict).
static uint64_t interesting_address() {
    if (rand(0, 3) == 0) {
        int pid = rand(1, SLOT_PROCS + 1);
        return proc_slot_start(pid) + rand(-16, 16);
    }
    return edge_address();
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
        fuzz_in[RAX] = unknown_number(SYSCALL_EXIT);
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
