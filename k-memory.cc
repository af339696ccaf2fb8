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
// APICs' pages near 4 GB.
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
// kernel_page_perm() (kernel.cc) gives it; and the APICs' registers.

void kernel_pagetable_init() {
    kernel_pagetable = pagetable_alloc();
    for (uintptr_t pa = 0; pa != MEMSIZE_PHYSICAL; pa += PAGESIZE) {
        if (vmiter(kernel_pagetable, pa).map(pa, kernel_page_perm(pa)) < 0) {
            panic("out of page-table pages building the kernel page table");
        }
    }
    // The local and I/O APICs' registers: kernel only, uncached.
    const uintptr_t apics[] = {lapic_page(), ioapic_page()};
    for (uintptr_t pa : apics) {
        if (vmiter(kernel_pagetable, pa).map(pa, PTE_P | PTE_W | PTE_PCD) < 0) {
            panic("out of page-table pages mapping the APICs");
        }
    }
    wrcr3(reinterpret_cast<uintptr_t>(kernel_pagetable));
}


// ---- Process page tables ----

// Frees every page of a page table tree, from `level` down.
static void pagetable_free_tree(x86_64_pagetable* pt, int level) {
    if (level > 0) {
        for (auto pte : pt->entry) {
            if ((pte & PTE_P) && !(pte & PTE_PS)) {
                pagetable_free_tree(reinterpret_cast<x86_64_pagetable*>(pte & PTE_PAMASK),
                                    level - 1);
            }
        }
    }
    pagetable_free(pt);
}

x86_64_pagetable* proc_pagetable_create() {
    x86_64_pagetable* pt = pagetable_alloc();
    if (!pt) {
        return nullptr;
    }
    // The same identity map as the kernel's, below MEMSIZE_PHYSICAL: the
    // entry and exit code run on this table until they switch %cr3. No
    // page is user-accessible yet, but for the console.
    for (vmiter kit(kernel_pagetable, PAGESIZE); kit.va() != MEMSIZE_PHYSICAL; kit.next_page()) {
        if (vmiter(pt, kit.va()).map(kit.pa(), kit.perm()) < 0) {
            pagetable_free_tree(pt, 3);
            return nullptr;
        }
    }
    return pt;
}

void proc_pagetable_free(x86_64_pagetable* pt) {
    if (pt == kernel_pagetable) {
        return;     // processes sharing the kernel's table (the handout) never free it
    }
    pagetable_free_tree(pt, 3);
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
    const uintptr_t apics[] = {lapic_page(), ioapic_page()};
    for (uintptr_t pa : apics) {
        if (vmiter(pt, pa).user()) {
            return pa;
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
