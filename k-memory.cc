// k-memory.cc: physical memory and page tables. Every free page of the
// machine belongs to the page allocator (kalloc, kfree), which counts each
// page's users; page-table pages come from it too. The kernel reaches any
// page through a kernel-only direct map, since a process's table maps its
// pages at its own addresses. k-audit.cc checks it all at the end of a run.
#include "kernel.hh"
#include "k-vmiter.hh"

x86_64_pagetable* kernel_pagetable;
uintptr_t direct_map_base;

// ---- Physical pages ----
#define NPAGES          (MEMSIZE_PHYSICAL / PAGESIZE)
#define BOOT_TABLES     0x1000UL        // bootentry.S's three pages, until
#define BOOT_TABLES_END 0x4000UL        // the kernel's table replaces them
#define EBDA_PAGE       0x9F000UL       // the BIOS's extended data area

static uint16_t users[NPAGES];          // page tables naming it (0: free)
static uint8_t owner[NPAGES];           // the pid it was allocated for
static size_t lowest_free = 1;          // no page below this one is free
static unsigned free_pages;             // pages with no user

// The reserve (commit accounting). Copy-on-write promises copies that it
// has not made: each user of a shared page but the last may write it and
// need a page of its own. Fork sets a free page aside for every such copy
// when it shares the page, or fails (address_space_copy), so that the copy
// a write needs is always there and nobody is killed for lack of memory.
// No page is claimed from the reserve but those copies: cow_page names the
// shared page about to be copied (copy_due), and the next page claimed is
// the reserve's; freeing the shared page's user gives the reserve back.
// The invariant, which the audit checks:
//   reserved == the sum, over every page some table maps PTE_COW, of its
//               users - 1 (`cow` marks them: shared copy-on-write once)
//   reserved <= free_pages
static unsigned reserved;
static bool cow[NPAGES];
static uintptr_t copy_due;

const char* page_role(uintptr_t pa) {
    uintptr_t kernel_end_pa = reinterpret_cast<uintptr_t>(kernel_end);
    if (pa == 0) {
        return "null";
    } else if ((pa >= KERNEL_START_ADDR && pa < kernel_end_pa)
               || (pa >= KERNEL_STACK_TOP - KERNEL_STACK_SIZE && pa < KERNEL_STACK_TOP)) {
        return "kernel";
    } else if (pa == CONSOLE_ADDR) {
        return "console";
    } else if (pa == EBDA_PAGE || (pa >= HARDWARE_HOLE_START && pa < PROC_START_ADDR)
               || pa >= MEMSIZE_PHYSICAL) {
        return "reserved";
    }
    return nullptr;
}

unsigned pages_reserved() {
    return reserved;
}

bool page_is_memory(uintptr_t pa) {
    return pa % PAGESIZE == 0 && !page_role(pa);
}

// Whether a page may be claimed: one beyond the reserve is free, or the
// copy the reserve holds a page for is due.
static bool claimable() {
    return free_pages > reserved || copy_due;
}

uintptr_t kalloc(int for_pid) {
    if (!claimable()) {
        return 0;
    }
    // First fit, from the bottom: page tables and early pages come from low
    // memory, away from PROC_START_ADDR (k-slots.cc's slots begin there).
    for (size_t i = lowest_free; i != NPAGES; ++i) {
        if (users[i] == 0 && page_claim(i * PAGESIZE, for_pid)) {
            lowest_free = i + 1;
            return i * PAGESIZE;
        }
    }
    lowest_free = NPAGES;
    return 0;
}

// Zeroes a page, 32 bytes a turn (lib.cc's memset goes byte by byte).
static void page_zero(uintptr_t pa) {
    auto w = pa2kva<uint64_t>(pa);
    for (size_t i = 0; i != PAGESIZE / 8; i += 4) {
        w[i] = w[i + 1] = w[i + 2] = w[i + 3] = 0;
    }
}

bool page_claim(uintptr_t pa, int for_pid) {
    if (!page_is_memory(pa) || users[pa / PAGESIZE] != 0 || !claimable()) {
        return false;                   // in use, or every free page is promised
    }
    users[pa / PAGESIZE] = 1;
    owner[pa / PAGESIZE] = for_pid;
    --free_pages;
    copy_due = 0;                       // that copy's page, if one was due
    return true;                        // free pages are kept zeroed (kfree)
}

void kfree(uintptr_t pa) {
    // Freeing what the allocator never gave is a kernel bug: stop loudly.
    if (const char* role = page_role(pa)) {
        panic("kfree(0x%lx): the %s page is not the allocator's to free", pa, role);
    }
    if (pa % PAGESIZE != 0 || users[pa / PAGESIZE] == 0) {
        panic("kfree(0x%lx): %s", pa, pa % PAGESIZE ? "not a page address" : "the page is free already");
    }
    // A page is zeroed when it becomes free, not when it is given out:
    // fork's copies, which overwrite every byte, need no zeroing first.
    size_t i = pa / PAGESIZE;
    copy_due = copy_due == pa ? 0 : copy_due;
    if (--users[i] == 0) {
        page_zero(pa);
        lowest_free = min(lowest_free, i);
        ++free_pages;
        cow[i] = false;
    } else if (cow[i]) {
        --reserved;                     // one copy fewer may be needed
    }
}

// Promises a free page for the copy that the new sharer of copy-on-write
// page `pa` (already counted among its users) may need; false if none is
// left to promise.
static bool page_reserve_copy(uintptr_t pa) {
    // users[] counts the new sharer already: it needs one copy more, and a
    // page shared copy-on-write for the first time one for each other user.
    size_t i = pa / PAGESIZE;
    unsigned need = cow[i] ? 1 : users[i] - 1;
    if (free_pages - reserved < need) {
        return false;
    }
    cow[i] = true;
    reserved += need;
    return true;
}

// Takes back a share that fork could not promise a copy for.
static void page_unshare(uintptr_t pa) {
    assert(page_is_memory(pa) && users[pa / PAGESIZE] > 1);
    --users[pa / PAGESIZE];
}

void page_share(uintptr_t pa) {
    assert(page_is_memory(pa) && users[pa / PAGESIZE] != 0);
    ++users[pa / PAGESIZE];
}

unsigned page_users(uintptr_t pa) {
    return page_is_memory(pa) ? users[pa / PAGESIZE] : 0;
}

bool page_owned_by(uintptr_t pa, int pid) {
    return page_users(pa) != 0 && owner[pa / PAGESIZE] == pid;
}

int page_allocated_for(uintptr_t pa) {
    return page_users(pa) != 0 ? owner[pa / PAGESIZE] : 0;
}

void page_copy(uintptr_t dst, uintptr_t src) {
    auto d = pa2kva<uint64_t>(dst);
    auto s = pa2kva<const uint64_t>(src);
    for (size_t i = 0; i != PAGESIZE / 8; i += 4) {
        d[i] = s[i];
        d[i + 1] = s[i + 1];
        d[i + 2] = s[i + 2];
        d[i + 3] = s[i + 3];
    }
}


// ---- Page-table pages ----

x86_64_pagetable* pagetable_alloc() {
    return reinterpret_cast<x86_64_pagetable*>(kalloc());
}

void pagetable_free(x86_64_pagetable* pt) {
    kfree(reinterpret_cast<uintptr_t>(pt));
}

// The table entry `i` of table `pt` points to (a physical address), or
// null if it maps nothing or maps a large page.
static x86_64_pagetable* next_table(x86_64_pagetable* pt, int i) {
    uint64_t pte = pagetable_kva(pt)->entry[i];
    if (!(pte & PTE_P) || (pte & PTE_PS)) {
        return nullptr;
    }
    return reinterpret_cast<x86_64_pagetable*>(pte & PTE_PAMASK);
}

// Calls visit(va, entry) for every present last-level entry of `pt`
// (`level` 3 is the top, covering `base` up) whose page lies in [lo, hi),
// looking only at the tables that exist; stops when visit returns false.
template <typename F>
static bool walk_pages(x86_64_pagetable* pt, int level, uintptr_t base, uintptr_t lo,
                       uintptr_t hi, F& visit) {
    int shift = PAGEOFFBITS + PAGEINDEXBITS * level;
    uintptr_t span = uintptr_t(1) << shift;
    uintptr_t first = lo > base ? (lo - base) >> shift : 0;
    uintptr_t last = min<uintptr_t>((hi - 1 - base) >> shift, (1 << PAGEINDEXBITS) - 1);
    for (uintptr_t i = first; i <= last; ++i) {
        uintptr_t va = base + i * span;
        x86_64_pageentry_t& pte = pagetable_kva(pt)->entry[i];
        if (!(pte & PTE_P)) {
            continue;
        } else if (level == 0) {
            if (!visit(va, pte)) {
                return false;
            }
        } else if (x86_64_pagetable* next = next_table(pt, i)) {
            if (!walk_pages(next, level - 1, va, lo, hi, visit)) {
                return false;
            }
        }
    }
    return true;
}

template <typename F>
static void for_each_page(x86_64_pagetable* pt, uintptr_t lo, uintptr_t hi, F visit) {
    walk_pages(pt, 3, 0, lo, hi, visit);
}

void pagetable_entries(x86_64_pagetable* pt, uintptr_t lo, uintptr_t hi,
                       bool (*visit)(uintptr_t va, x86_64_pageentry_t& pte, void* arg), void* arg) {
    for_each_page(pt, lo, hi, [&](uintptr_t va, x86_64_pageentry_t& pte) {
        return visit(va, pte, arg);
    });
}


// ---- The kernel's page table ----
// Below PROC_START_ADDR, every page one to one, with the permissions
// kernel_page_perm() (kernel.cc) gives it; in the gigabyte below 4 GB, all
// of physical memory again (the direct map), the APICs' registers and the
// kernel's own view of the screen.

// The kernel-only pages near 4 GB all sit in this gigabyte (the fourth:
// its index in the top page-table page's first table, the PDPT). Every
// process table shares kernel_pagetable's page-table pages for it, so the
// kernel reaches physical memory, the APICs and the screen on any table
// (it runs on the process's: k-exception.S), no process table needs pages
// of its own for them, and none frees them.
#define HIGH_GIGABYTE 3
static x86_64_pageentry_t& high_gigabyte(x86_64_pagetable* pt) {
    return pagetable_kva(next_table(pt, 0))->entry[HIGH_GIGABYTE];
}

// The screen, for the kernel (lib.hh): the console page, kernel-only, so
// that SMAP lets the kernel print. Plus the APICs' registers (uncached).
static const uintptr_t console_view = CONSOLE_VIEW;
static_assert(CONSOLE_VIEW >> 30 == HIGH_GIGABYTE);
static_assert(KERNEL_DIRECT_MAP >> 30 == HIGH_GIGABYTE);

static void kernel_map(uintptr_t va, uintptr_t pa, uint64_t perm, const char* what) {
    if (vmiter(kernel_pagetable, va).map(pa, perm) < 0) {
        panic("out of memory mapping %s in the kernel page table", what);
    }
}

void kernel_pagetable_init() {
    // Until the kernel's table is loaded, the boot loader's maps the first
    // 2 MB one to one: physical addresses are the kernel's (direct_map_base
    // 0), and the boot tables are in use.
    // Free pages are kept zeroed; the boot loader used some (its stack, the
    // kernel's ELF header), and its page tables stay in use for now.
    for (uintptr_t pa = PAGESIZE; pa != MEMSIZE_PHYSICAL; pa += PAGESIZE) {
        if (pa >= BOOT_TABLES && pa < BOOT_TABLES_END) {
            users[pa / PAGESIZE] = 1;
        } else if (page_is_memory(pa)) {
            page_zero(pa);
            ++free_pages;
        }
    }
    kernel_pagetable = pagetable_alloc();
    for (uintptr_t pa = PAGESIZE; pa != PROC_START_ADDR; pa += PAGESIZE) {
        kernel_map(pa, pa, kernel_page_perm(pa), "the kernel");
    }
    // The kernel's code and constants stay read-only through this alias too.
    uintptr_t rodata_end = reinterpret_cast<uintptr_t>(kernel_rodata_end);
    for (uintptr_t pa = 0; pa != MEMSIZE_PHYSICAL; pa += PAGESIZE) {
        bool text = pa >= KERNEL_START_ADDR && pa < rodata_end;
        kernel_map(KERNEL_DIRECT_MAP + pa, pa, PTE_P | PTE_NX | (text ? 0 : PTE_W),
                   "physical memory");
    }
    const uintptr_t apics[] = {lapic_page(), ioapic_page()};
    for (uintptr_t pa : apics) {
        assert(pa >> 30 == HIGH_GIGABYTE);
        kernel_map(pa, pa, PTE_P | PTE_W | PTE_PCD | PTE_NX, "the APICs");
    }
    kernel_map(console_view, CONSOLE_ADDR, PTE_P | PTE_W | PTE_NX, "the screen");
    wrcr3(reinterpret_cast<uintptr_t>(kernel_pagetable));
    direct_map_base = KERNEL_DIRECT_MAP;
    for (uintptr_t pa = BOOT_TABLES; pa != BOOT_TABLES_END; pa += PAGESIZE) {
        kfree(pa);
    }
}


// ---- Process page tables ----

// Calls visit(page, arg) for every page-table page of the tree under `pt`,
// `pt` itself last (so `visit` may free each), but not for the high
// gigabyte's pages, which every process table shares with kernel_pagetable
// (they are visited with it). Tables are read through the direct map.
void pagetable_pages(x86_64_pagetable* pt, void (*visit)(x86_64_pagetable*, void*), void* arg) {
    struct walker {
        x86_64_pagetable* root;
        void (*visit)(x86_64_pagetable*, void*);
        void* arg;
        void walk(x86_64_pagetable* t, int level) {
            for (int i = 0; level > 0 && i != (1 << PAGEINDEXBITS); ++i) {
                x86_64_pagetable* next = next_table(t, i);
                bool shared = pagetable_kva(t)->entry[i] == high_gigabyte(kernel_pagetable)
                    && root != kernel_pagetable;
                if (next && !shared) {
                    walk(next, level - 1);
                }
            }
            visit(t, arg);
        }
    };
    walker{pt, visit, arg}.walk(pt, PAGETABLE_TOP_LEVEL);
}

// Frees every page of a page table tree (the pages it maps are freed
// separately).
static void pagetable_free_tree(x86_64_pagetable* pt) {
    pagetable_pages(pt, [](x86_64_pagetable* page, void*) { pagetable_free(page); }, nullptr);
}

// The kernel's mappings below PROC_START_ADDR, copied entry by entry into a
// last-level table of a process's own; the process area above is empty.
x86_64_pagetable* proc_pagetable_create() {
    x86_64_pagetable* levels[4];        // [3] the top ... [0] the last level
    for (int i = 0; i != 4; ++i) {
        levels[i] = pagetable_alloc();
        if (!levels[i]) {
            while (i-- > 0) {
                pagetable_free(levels[i]);
            }
            return nullptr;
        }
    }
    x86_64_pagetable* kernel_level = kernel_pagetable;
    for (int level = 3; level != 0; --level) {
        uint64_t flags = pagetable_kva(kernel_level)->entry[0] & ~PTE_PAMASK;
        pagetable_kva(levels[level])->entry[0] = reinterpret_cast<uintptr_t>(levels[level - 1]) | flags;
        kernel_level = next_table(kernel_level, 0);
    }
    auto kernel_low = pagetable_kva(kernel_level);
    auto low = pagetable_kva(levels[0]);
    for (uintptr_t i = 0; i != PROC_START_ADDR / PAGESIZE; ++i) {
        low->entry[i] = kernel_low->entry[i];
    }
    x86_64_pagetable* pt = levels[3];
    high_gigabyte(pt) = high_gigabyte(kernel_pagetable);
    return pt;
}

void proc_pagetable_free(x86_64_pagetable* pt) {
    if (!pt || pt == kernel_pagetable) {
        return;     // none; or the before-8 kernels' shared one (exercise 8): never freed
    }
    // The kernel may be running on this very table (it stays on the
    // process's): move to its own before the pages can be reused.
    if (rdcr3() == reinterpret_cast<uintptr_t>(pt)) {
        wrcr3(reinterpret_cast<uintptr_t>(kernel_pagetable));
    }
    pagetable_free_tree(pt);
}

void user_pages_free(x86_64_pagetable* pt, uintptr_t lo, uintptr_t hi) {
    if (!pt) {
        return;     // a load that was refused its table (program_load)
    }
    bool live = rdcr3() == reinterpret_cast<uintptr_t>(pt);
    for_each_page(pt, lo, hi, [&](uintptr_t va, x86_64_pageentry_t& pte) {
        if (pte & PTE_U) {
            uintptr_t pa = pte & PTE_PAMASK;
            pte = 0;
            if (live) {
                invlpg(va);
            }
            kfree(pa);
        }
        return true;
    });
}

unsigned user_page_count(x86_64_pagetable* pt, uintptr_t lo, uintptr_t hi) {
    unsigned n = 0;
    for_each_page(pt, lo, hi, [&](uintptr_t, x86_64_pageentry_t& pte) {
        n += (pte & PTE_U) != 0;
        return true;
    });
    return n;
}

uintptr_t cow_page(x86_64_pagetable* pt, uintptr_t va) {
    uintptr_t pa = 0;
    for_each_page(pt, round_down(va, PAGESIZE), round_down(va, PAGESIZE) + PAGESIZE,
                  [&](uintptr_t, x86_64_pageentry_t& pte) {
        if ((pte & (PTE_P | PTE_U | PTE_COW)) == (PTE_P | PTE_U | PTE_COW)) {
            pa = pte & PTE_PAMASK;
        }
        return false;
    });
    if (pa && page_users(pa) > 1) {
        copy_due = pa;          // its copy, claimed next, is the reserve's
    }
    return pa;
}

// The child's last-level table for `va`'s 2 MB, once vmiter has made it.
static x86_64_pagetable* last_level_table(x86_64_pagetable* pt, uintptr_t va) {
    for (int level = PAGETABLE_TOP_LEVEL; level != 0 && pt; --level) {
        pt = next_table(pt, (va >> (PAGEOFFBITS + PAGEINDEXBITS * level)) & 511);
    }
    return pt;
}

int address_space_copy(x86_64_pagetable* child, x86_64_pagetable* parent, uintptr_t lo,
                       uintptr_t hi, fork_page_fn page_for, void* ctx) {
    int result = 0;
    // The child's table is new (no processor has it loaded, so no TLB entry
    // to flush): after the first page of each 2 MB, which vmiter maps (and
    // makes the tables for), entries go straight into its last level.
    x86_64_pagetable* last_level = nullptr;
    uintptr_t last_level_va = 1;
    for_each_page(parent, lo, hi, [&](uintptr_t va, x86_64_pageentry_t& pte) {
        if (!(pte & PTE_U)) {
            return true;
        }
        uint64_t perm = pte & (PTE_P | PTE_W | PTE_U | PTE_NX | PTE_COW);
        uintptr_t pa = page_for(ctx, va, pte & PTE_PAMASK, perm);
        if (pa != 0 && pa == (pte & PTE_PAMASK) && (perm & PTE_COW) && !page_reserve_copy(pa)) {
            // Shared copy-on-write, but no free page is left to promise
            // for its copy: no share, and fork fails.
            page_unshare(pa);
            result = -1;
            return false;
        }
        if (pa != 0 && (pte & PTE_W) && !(perm & PTE_W)) {
            // Shared now (copy-on-write): read-only for the parent too.
            pte = (pte & ~PTE_W) | (perm & PTE_COW);
            if (rdcr3() == reinterpret_cast<uintptr_t>(parent)) {
                invlpg(va);
            }
        }
        uintptr_t region = va >> (PAGEOFFBITS + PAGEINDEXBITS);
        if (pa != 0 && last_level && region == last_level_va) {
            pagetable_kva(last_level)->entry[(va >> PAGEOFFBITS) & 511] = pa | perm;
            return true;
        }
        if (pa == 0 || vmiter(child, va).map(pa, perm) < 0) {
            if (pa != 0) {
                kfree(pa);
            }
            result = -1;
            return false;
        }
        last_level = last_level_table(child, va);
        last_level_va = region;
        return true;
    });
    return result;
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
    for (uintptr_t page = round_down(addr, PAGESIZE); ; page += PAGESIZE) {
        uint64_t perm = vmiter(pt, page).perm();
        // A page fork shares copy-on-write is the process's to write: its
        // write would get it a copy of its own.
        if ((perm & (PTE_P | PTE_U)) != (PTE_P | PTE_U)
            || (write && !(perm & (PTE_W | PTE_COW)))) {
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

// Through the process's own addresses while its table is the processor's,
// as user_copy does; otherwise (PTSWITCH=1) through the direct map, a page
// at a time: the kernel's own alias of the page is kernel-only, so SMAP has
// nothing to say.
bool user_write(proc* p, uintptr_t va, const void* src, size_t n) {
    for (uintptr_t page = round_down(va, PAGESIZE); n && page < va + n; page += PAGESIZE) {
        if (cow_page(p->pagetable, page) && !copy_on_write(p, page)) {
            return false;
        }
    }
    if (rdcr3() == reinterpret_cast<uintptr_t>(p->pagetable)) {
        user_copy(reinterpret_cast<void*>(va), src, n);
    } else {
        pagetable_write(p->pagetable, va, src, n);
    }
    return true;
}

// The kernel's own writes into the memory `pt` maps (the loader's, even
// into read-only code): always through the direct map.
void pagetable_write(x86_64_pagetable* pt, uintptr_t va, const void* src, size_t n) {
    auto s = static_cast<const uint8_t*>(src);
    while (n != 0) {
        size_t chunk = min(n, PAGESIZE - va % PAGESIZE);
        memcpy(pa2kva(vmiter(pt, va).pa()), s, chunk);
        s += chunk;
        va += chunk;
        n -= chunk;
    }
}

void user_read(x86_64_pagetable* pt, void* dst, uintptr_t va, size_t n) {
    if (rdcr3() == reinterpret_cast<uintptr_t>(pt)) {
        user_copy(dst, reinterpret_cast<const void*>(va), n);
        return;
    }
    auto d = static_cast<uint8_t*>(dst);
    while (n != 0) {
        size_t chunk = min(n, PAGESIZE - va % PAGESIZE);
        memcpy(d, pa2kva(vmiter(pt, va).pa()), chunk);
        d += chunk;
        va += chunk;
        n -= chunk;
    }
}

bool user_string_read(x86_64_pagetable* pt, uintptr_t va, char* buf, size_t size) {
    size_t n = 0;
    while (n != size - 1 && user_range_ok(pt, va + n, 1, false)) {
        user_read(pt, &buf[n], va + n, 1);
        if (buf[n] == '\0') {
            return true;
        }
        ++n;
    }
    buf[n] = '\0';
    return n != 0;
}

// A fresh zeroed page at process p's virtual page `va`, writable and never
// run (W^X), for sys_page_alloc. A writable page p alone uses there is as
// good as fresh once zeroed; any other loses a user once the new one is in
// place: on failure (no memory), nothing has changed.
bool user_page_fresh(proc* p, uintptr_t va) {
    vmiter it(p->pagetable, va);
    uintptr_t old = it.user() ? it.pa() : 0;
    if (old && it.writable() && page_users(old) == 1) {
        page_zero(old);
        return true;
    }
    uintptr_t pa = process_page_alloc(p, va);
    if (pa == 0) {
        return false;
    }
    if (it.map(pa, PTE_PWU | PTE_NX) < 0) {
        kfree(pa);
        return false;
    }
    if (old) {
        kfree(old);
    }
    return true;
}
