// p-psfuzz.cc: the problem set's fuzzer, for the finished kernel (the
// lecture's is p-fuzz.cc). Random system calls with random registers
// (%rsp and the direction flag included), fork and exit among them, and
// every answer checked against the contract:
//   getpid returns its pid; yield returns 0;
//   getsysname into its own writable memory (a page shared copy-on-write
//   after a fork included) returns 0 and writes SYSNAME; into memory it
//   may not write (unmapped, read-only, the kernel, outside its address
//   space) -1;
//   page_alloc anywhere but the pages it runs on (code, data, stack): -1
//   for an unaligned address or one outside [PROC_START_ADDR,
//   MEMSIZE_VIRTUAL), else 0 with a fresh zeroed page there, or -1 (no
//   memory) with nothing changed;
//   fork returns a pid (or -1: the family's share of the slots, or no
//   memory); the child gets 0, the parent's every register but %rax (and
//   %rcx, %r11, which `syscall` takes), and the parent's pages, and
//   fuzzes on; some children exit;
//   unknown numbers return -1;
//   across every call, every register but %rax, %rcx and %r11 keeps its
//   value (the kernel keeps them all: README, "System calls").
// Its heap pages hold what it wrote (first and last word) and zeroes,
// checked whenever an answer concerns them. PROCS="psfuzz:N": each
// process stops at N calls (a child counts on from its parent's count) and
// exits, the boot process saying "psfuzz: done: N calls"; at the first
// wrong answer it ends with sys_panic, naming the call, so a kill line
// in the log tells.
#include "u-fuzz.hh"
#include "u-heap.hh"

extern "C" char _DYNAMIC[];     // the first writable page (link/process.ld)

#define VPAGES (MEMSIZE_VIRTUAL / PAGESIZE)
#define MAX_OWNED 24            // heap pages per process: the others need memory too
static uint64_t value[VPAGES];  // a heap page's first and last word (0: not mapped)
static unsigned owned;          // heap pages mapped
static int self;
static bool forked;             // a forked child (not the boot process)
static uint64_t calls;
static char sysname_buf[2 * sizeof(SYSNAME)];   // a data page of its own

[[noreturn]] static void wrong(const char* what, uint64_t detail) {
    char why[120];
    snprintf(why, sizeof(why), "psfuzz: call %lu: %s (rax=0x%lx rdi=0x%lx -> 0x%lx; 0x%lx)",
             calls, what, fuzz_in[RAX], fuzz_in[RDI], fuzz_out[RAX], detail);
    sys_panic(why);
}

static uintptr_t heap_first, heap_end;  // [heap_start, stack page)

static bool heap_page(uintptr_t va) {
    return va % PAGESIZE == 0 && va >= heap_first && va < heap_end;
}

static volatile uint64_t* words(uintptr_t va) {
    return reinterpret_cast<volatile uint64_t*>(va);
}

// The heap page at `va` holds value[va] in its first and last word, and
// zeroes in between (two of them checked, at random).
static void check_page(uintptr_t va, const char* what) {
    uint64_t v = value[va / PAGESIZE];
    auto w = words(va);
    size_t i = rand(1, PAGESIZE / 8 - 2);
    if (w[0] != v || w[PAGESIZE / 8 - 1] != v || w[i] != 0 || w[PAGESIZE / 8 - 2] != 0) {
        wrong(what, va);
    }
}

static void write_page(uintptr_t va) {
    uint64_t v = rand64() | 1;
    value[va / PAGESIZE] = v;
    words(va)[0] = v;
    words(va)[PAGESIZE / 8 - 1] = v;
}

static uintptr_t random_owned_page() {
    int n = rand(0, owned - 1);
    for (uintptr_t va = heap_first; va != heap_end; va += PAGESIZE) {
        if (value[va / PAGESIZE] && n-- == 0) {
            return va;
        }
    }
    return 0;
}

// Whether the process may write the byte at `va`: its data, its stack,
// its heap pages, the console.
static bool writable(uintptr_t va) {
    uintptr_t page = va & ~(PAGESIZE - 1);
    uintptr_t data = reinterpret_cast<uintptr_t>(_DYNAMIC) & ~(PAGESIZE - 1);
    return (page >= data && page < heap_first) || page == heap_end
        || (page == CONSOLE_ADDR) || (heap_page(page) && value[page / PAGESIZE]);
}

// An address for page_alloc that is none of the pages it runs on: a page
// of its heap (kept to MAX_OWNED of them), often unaligned; else anything
// but an aligned address of its memory (code, data, stack among it).
static uintptr_t page_alloc_target() {
    uintptr_t va;
    if (rand(0, 1)) {
        va = heap_first + rand(0, (heap_end - heap_first) / PAGESIZE - 1) * PAGESIZE;
        if (!value[va / PAGESIZE] && owned >= MAX_OWNED) {
            va = random_owned_page();
        }
        return va + (rand(0, 7) == 0 ? rand(1, PAGESIZE - 1) : 0);
    }
    do {
        va = rand(0, 1) ? edge_address() : PROC_START_ADDR + rand64() % MEMSIZE_VIRTUAL;
    } while (va >= PROC_START_ADDR && va < MEMSIZE_VIRTUAL && va % PAGESIZE == 0);
    return va;
}

static void after_page_alloc(uintptr_t va) {
    bool valid = va % PAGESIZE == 0 && va >= PROC_START_ADDR && va < MEMSIZE_VIRTUAL;
    if (fuzz_out[RAX] != 0 && fuzz_out[RAX] != uint64_t(-1)) {
        wrong("page_alloc returned neither 0 nor -1", 0);
    } else if (!valid && fuzz_out[RAX] == 0) {
        wrong("page_alloc at a bad address returned 0", va);
    } else if (fuzz_out[RAX] == 0) {
        for (size_t i = 0; i != PAGESIZE / 8; ++i) {
            if (words(va)[i] != 0) {
                wrong("page_alloc's page is not zeroed", va + 8 * i);
            }
        }
        owned += value[va / PAGESIZE] == 0;
        write_page(va);
    } else if (heap_page(va) && value[va / PAGESIZE]) {
        check_page(va, "page_alloc said -1 but changed the page");
    }
}

// The registers the call must keep, and in a child after fork all of them.
static void check_registers(bool forked_child) {
    for (int r = 0; r != NREGS; ++r) {
        if (r != RAX && r != RCX && r != R11 && fuzz_out[r] != fuzz_in[r]) {
            wrong(forked_child ? "a register of the child differs from its parent's"
                  : "a register changed across the call", r);
        }
    }
}

static void after_fork() {
    if (fuzz_out[RAX] == 0) {
        check_registers(true);
        int parent = self;
        forked = true;
        self = sys_getpid();
        if (self == parent || self < 1 || self > MAX_PROCS) {
            wrong("the child's pid", self);
        }
        rand_seed(rand64() ^ (self * 0x9E3779B97F4A7C15UL));   // a stream of its own
        for (uintptr_t va = heap_first; va != heap_end; va += PAGESIZE) {
            if (value[va / PAGESIZE]) {
                check_page(va, "the child's page differs from its parent's");
            }
        }
    } else if (fuzz_out[RAX] != uint64_t(-1)
               && (fuzz_out[RAX] < 1 || fuzz_out[RAX] > MAX_PROCS || fuzz_out[RAX] == uint64_t(self))) {
        wrong("fork returned no pid and not -1", 0);
    }
}

// Makes one random call and checks its answer.
static void fuzz_one() {
    for (int i = 0; i != NREGS; ++i) {
        fuzz_in[i] = rand(0, 3) ? rand64() : edge_address();
    }
    fuzz_in[NREGS] = rand(0, 7) == 0;
    if (rand(0, 1)) {
        fuzz_in[RSP] = fuzz_saved_rsp - 8 * rand(0, 64);    // its own stack, often
    }
    uint64_t expected = -1;     // what the call must return, if one thing
    int kind = rand(0, 99);
    char* buf = nullptr;
    if (kind < 15) {
        fuzz_in[RAX] = SYSCALL_GETPID;
        expected = self;
    } else if (kind < 17) {
        fuzz_in[RAX] = SYSCALL_YIELD;
        expected = 0;
    } else if (kind < 27) {
        fuzz_in[RAX] = SYSCALL_GETSYSNAME;
        uintptr_t page = owned && rand(0, 1) ? random_owned_page() : 0;
        buf = page ? reinterpret_cast<char*>(page + rand(8, PAGESIZE - 16 - sizeof(SYSNAME)))
            : &sysname_buf[rand(0, sizeof(SYSNAME) - 1)];
        memset(buf, 0, sizeof(SYSNAME));
        fuzz_in[RDI] = reinterpret_cast<uintptr_t>(buf);
        expected = 0;
    } else if (kind < 40) {
        fuzz_in[RAX] = SYSCALL_GETSYSNAME;
        do {
            fuzz_in[RDI] = rand(0, 1) ? edge_address() : PROC_START_ADDR + rand64() % MEMSIZE_VIRTUAL;
        } while (writable(fuzz_in[RDI]) || writable(fuzz_in[RDI] + sizeof(SYSNAME) - 1));
    } else if (kind < 70) {
        fuzz_in[RAX] = SYSCALL_PAGE_ALLOC;
        fuzz_in[RDI] = page_alloc_target();
    } else if (kind < 74) {
        fuzz_in[RAX] = SYSCALL_FORK;
    } else if (kind < 84) {
        // Writes: no call (so the count stays), but copy-on-write faults.
        if (owned) {
            uintptr_t va = random_owned_page();
            check_page(va, "a heap page changed");
            write_page(va);
        }
        return;
    } else {
        fuzz_in[RAX] = unknown_number(SYSCALL_FORK);
    }

    fuzz_call();
    ++calls;

    if (fuzz_in[RAX] == SYSCALL_FORK) {
        after_fork();
        if (fuzz_out[RAX] == 0) {
            return;
        }
    } else if (fuzz_in[RAX] == SYSCALL_PAGE_ALLOC) {
        after_page_alloc(fuzz_in[RDI]);
    } else if (fuzz_out[RAX] != expected) {
        wrong("unexpected answer", expected);
    } else if (buf && memcmp(buf, SYSNAME, sizeof(SYSNAME)) != 0) {
        wrong("getsysname wrote the wrong bytes", 0);
    }
    if (buf) {
        memset(buf, 0, sizeof(SYSNAME));    // a heap page's middle holds zeroes
    }
    check_registers(false);
}

void process_main() {
    self = sys_getpid();
    heap_first = heap_start();
    heap_end = stack_page();
    rand_seed((0x95F0220000UL + process_arg) * 0x9E3779B97F4A7C15UL + self);
    uint64_t limit = process_arg ? process_arg : 100000;
    while (calls < limit) {
        fuzz_one();
        if (forked && rand(0, 2047) == 0) {
            sys_exit();         // some children exit early
        }
    }
    if (!forked) {
        console_printf(CS_YELLOW "psfuzz: done: pid %d, %lu calls\n", self, calls);
    }
}
