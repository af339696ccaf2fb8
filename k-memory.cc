// k-memory.cc: page tables. The kernel's page table and every process's map
// the same addresses one to one (virtual = physical); they differ only in
// permissions. A process's table grants PTE_U on the console page and on
// the pages of its own slot, and nowhere else.
#include "kernel.hh"
#include "k-vmiter.hh"

x86_64_pagetable* kernel_pagetable;

// ---- Page-table pages ----
// Page tables live in this pool inside the kernel's own memory, which no
// process page table marks user-accessible. Each table of the identity map
// takes four pages (one per level); the kernel's takes four more for the
// kernel-only pages near 4 GB, which every table shares (high_gigabyte).
#define PAGETABLE_POOL_PAGES (4 * MAX_PROCS + 10)
static x86_64_pagetable pagetable_pool[PAGETABLE_POOL_PAGES];
static bool pagetable_used[PAGETABLE_POOL_PAGES];

x86_64_pagetable* pagetable_alloc() {
    for (int i = 0; i != PAGETABLE_POOL_PAGES; ++i) {
        if (!pagetable_used[i]) {
            pagetable_used[i] = true;
            memset(&pagetable_pool[i], 0, sizeof(x86_64_pagetable));
            return &pagetable_pool[i];
        }
    }
    return nullptr;
}

void pagetable_free(x86_64_pagetable* pt) {
    int i = pt - pagetable_pool;
    assert(i >= 0 && i < PAGETABLE_POOL_PAGES && pagetable_used[i]);
    pagetable_used[i] = false;
}


// ---- The kernel's page table ----
// Every page of physical memory, one to one, with the permissions
// kernel_page_perm() (kernel.cc) gives it; and, in the gigabyte below 4 GB,
// the APICs' registers and the kernel's own view of the screen.

// The kernel-only pages near 4 GB all sit in this gigabyte (the fourth:
// its index in the top page-table page's first table, the PDPT). Every
// process table shares kernel_pagetable's page-table pages for it, so the
// kernel reaches the APICs and the screen on any table (it runs on the
// process's: k-exception.S), no process table needs pages of its own for
// them, and none frees them.
#define HIGH_GIGABYTE 3
static x86_64_pageentry_t& high_gigabyte(x86_64_pagetable* pt) {
    auto pdpt = reinterpret_cast<x86_64_pagetable*>(pt->entry[0] & PTE_PAMASK);
    return pdpt->entry[HIGH_GIGABYTE];
}

// The screen, for the kernel (lib.hh): the console page, kernel-only, so
// that SMAP lets the kernel print. Plus the APICs' registers (uncached).
static const uintptr_t console_view = CONSOLE_VIEW;
static_assert(CONSOLE_VIEW >> 30 == HIGH_GIGABYTE);

void kernel_pagetable_init() {
    kernel_pagetable = pagetable_alloc();
    for (uintptr_t pa = 0; pa != MEMSIZE_PHYSICAL; pa += PAGESIZE) {
        if (vmiter(kernel_pagetable, pa).map(pa, kernel_page_perm(pa)) < 0) {
            panic("out of page-table pages building the kernel page table");
        }
    }
    const uintptr_t apics[] = {lapic_page(), ioapic_page()};
    for (uintptr_t pa : apics) {
        assert(pa >> 30 == HIGH_GIGABYTE);
        if (vmiter(kernel_pagetable, pa).map(pa, PTE_P | PTE_W | PTE_PCD | PTE_NX) < 0) {
            panic("out of page-table pages mapping the APICs");
        }
    }
    if (vmiter(kernel_pagetable, console_view).map(CONSOLE_ADDR, PTE_P | PTE_W | PTE_NX) < 0) {
        panic("out of page-table pages mapping the kernel's view of the screen");
    }
    wrcr3(reinterpret_cast<uintptr_t>(kernel_pagetable));
}


// ---- Process page tables ----

// Calls visit(page, arg) for every page-table page of the tree under `pt`,
// `pt` itself last (so `visit` may free each), but not for the high
// gigabyte's pages, which every process table shares with kernel_pagetable
// (they are visited with it).
void pagetable_pages(x86_64_pagetable* pt, void (*visit)(x86_64_pagetable*, void*), void* arg) {
    struct walker {
        x86_64_pagetable* root;
        void (*visit)(x86_64_pagetable*, void*);
        void* arg;
        void walk(x86_64_pagetable* t, int level) {
            for (auto pte : t->entry) {
                bool shared = pte == high_gigabyte(kernel_pagetable) && root != kernel_pagetable;
                if (level > 0 && (pte & PTE_P) && !(pte & PTE_PS) && !shared) {
                    walk(reinterpret_cast<x86_64_pagetable*>(pte & PTE_PAMASK), level - 1);
                }
            }
            visit(t, arg);
        }
    };
    walker{pt, visit, arg}.walk(pt, PAGETABLE_TOP_LEVEL);
}

static void pagetable_free_tree(x86_64_pagetable* pt) {
    pagetable_pages(pt, [](x86_64_pagetable* page, void*) { pagetable_free(page); }, nullptr);
}

x86_64_pagetable* proc_pagetable_create() {
    x86_64_pagetable* pt = pagetable_alloc();
    if (!pt) {
        return nullptr;
    }
    // The same identity map as the kernel's, below MEMSIZE_PHYSICAL, with
    // the same permissions (NX included): the kernel runs on this table
    // whenever it works for this process. No page is user-accessible yet,
    // but for the console.
    for (vmiter kit(kernel_pagetable, PAGESIZE); kit.va() != MEMSIZE_PHYSICAL; kit.next_page()) {
        if (vmiter(pt, kit.va()).map(kit.pa(), kit.perm()) < 0) {
            pagetable_free_tree(pt);
            return nullptr;
        }
    }
    high_gigabyte(pt) = high_gigabyte(kernel_pagetable);
    return pt;
}

void proc_pagetable_free(x86_64_pagetable* pt) {
    if (pt == kernel_pagetable) {
        return;     // the before-8 kernels' processes share it (exercise 8): never freed
    }
    // The kernel may be running on this very table (it stays on the
    // process's): move to its own before the pages can be reused.
    if (rdcr3() == reinterpret_cast<uintptr_t>(pt)) {
        wrcr3(reinterpret_cast<uintptr_t>(kernel_pagetable));
    }
    pagetable_free_tree(pt);
}


// ---- Checking process memory ----

// Returns true if every byte of [addr, addr + len) is present and
// user-accessible in `pt`, and writable if `write`. Every system call that
// reads or writes process memory asks this first: the kernel may touch any
// memory, so it must check on the process's behalf (a confused deputy
// otherwise).
bool user_range_ok(x86_64_pagetable* pt, uintptr_t addr, size_t len, bool write) {
    if (len == 0) {
        return true;
    }
    uintptr_t last = addr + len - 1;
    if (last < addr) {
        return false;                   // wraps around the address space
    }
    uint64_t need = PTE_P | PTE_U | (write ? PTE_W : 0);
    for (uintptr_t page = round_down(addr, PAGESIZE); ; page += PAGESIZE) {
        if ((vmiter(pt, page).perm() & need) != need) {
            return false;
        }
        if (page == round_down(last, PAGESIZE)) {
            return true;
        }
    }
}


// The one place the kernel touches process memory. With SMAP on, any
// other access to a user-accessible page faults in the kernel (a panic,
// not a quiet write on a process's behalf); these two set AC (`stac`) for
// just the copy. The kernel checked the range with user_range_ok first.
void user_copy(void* dst, const void* src, size_t n) {
    if (smap_on) {
        stac();
    }
    memcpy(dst, src, n);
    if (smap_on) {
        clac();
    }
}

void user_zero(void* dst, size_t n) {
    if (smap_on) {
        stac();
    }
    memset(dst, 0, n);
    if (smap_on) {
        clac();
    }
}


// ---- Integrity ----
// At boot the kernel fingerprints its own code and constants; at the end of
// a headless run it checks that they are unchanged and that no page table
// grants a process anything beyond its slot and the console.

static uint64_t text_checksum_at_boot;

static uint64_t text_checksum() {
    // FNV-1a over kernel text and read-only data.
    uint64_t h = 0xCBF29CE484222325UL;
    for (const char* p = kernel_text_start; p != kernel_rodata_end; ++p) {
        h = (h ^ (uint8_t) *p) * 0x100000001B3UL;
    }
    return h;
}

void integrity_record() {
    text_checksum_at_boot = text_checksum();
}

// Returns the first user-accessible page `pt` maps outside [lo, hi) and
// the console, or 0 if none.
static uintptr_t foreign_user_page(x86_64_pagetable* pt, uintptr_t lo, uintptr_t hi) {
    for (vmiter it(pt, 0); it.va() != MEMSIZE_PHYSICAL; it.next_page()) {
        if (it.user() && it.va() != CONSOLE_ADDR && (it.va() < lo || it.va() >= hi)) {
            return it.va();
        }
    }
    const uintptr_t kernel_only[] = {lapic_page(), ioapic_page(), console_view};
    for (uintptr_t va : kernel_only) {
        if (vmiter(pt, va).user()) {
            return va;
        }
    }
    return 0;
}

void integrity_report(char* buf, size_t size) {
    const char* text = text_checksum() == text_checksum_at_boot ? "ok" : "CHANGED";
    char pt[80] = "ok";
    if (uintptr_t va = foreign_user_page(kernel_pagetable, 0, 0)) {
        snprintf(pt, sizeof(pt), "BAD(kernel table: user page 0x%lx)", va);
    }
    for (int pid = 1; pid != NPROC; ++pid) {
        proc& p = ptable[pid];
        if (p.pagetable && strcmp(pt, "ok") == 0) {
            if (uintptr_t va = foreign_user_page(p.pagetable, proc_slot_start(pid), proc_slot_end(pid))) {
                snprintf(pt, sizeof(pt), "BAD(proc %d: user page 0x%lx)", pid, va);
            }
        }
    }
    snprintf(buf, size, "text=%s pagetables=%s", text, pt);
}
