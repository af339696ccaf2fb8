// k-audit.cc: the integrity check and the memory audit. At boot the kernel
// fingerprints its own code and constants; at the end of a headless run
// it checks that they are unchanged, that no page table grants a process
// anything beyond its own memory and the console, and that the page
// counts of the allocator (k-memory.cc) add up, its reserve included.
// With AUDIT=1 the memory audit also runs at every fork, exit and kill.
#include "kernel.hh"
#include "k-vmiter.hh"

#define NPAGES          (MEMSIZE_PHYSICAL / PAGESIZE)

// for_each_entry(pt, lo, hi, visit): pagetable_entries with a lambda.
template <typename F>
static void for_each_entry(x86_64_pagetable* pt, uintptr_t lo, uintptr_t hi, F visit) {
    pagetable_entries(pt, lo, hi, [](uintptr_t va, x86_64_pageentry_t& pte, void* f) {
        return (*static_cast<F*>(f))(va, pte);
    }, &visit);
}


// ---- Integrity ----

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
    uintptr_t found = 0;
    for_each_entry(pt, 0, MEMSIZE_VIRTUAL, [&](uintptr_t va, x86_64_pageentry_t& pte) {
        if ((pte & PTE_U) && va != CONSOLE_ADDR && (va < lo || va >= hi)) {
            found = va;
        }
        return found == 0;
    });
    const uintptr_t kernel_only[] = {lapic_page(), ioapic_page(), CONSOLE_VIEW, KERNEL_DIRECT_MAP};
    for (uintptr_t va : kernel_only) {
        if (!found && vmiter(pt, va).user()) {
            found = va;
        }
    }
    return found;
}


// ---- The memory audit ----
// Every page the allocator gave out must be named by exactly as many page
// table entries as it has users (a page-table page: by its table tree,
// once), and a free page by none. A used page that no table names leaked.

static uint8_t mappings[NPAGES];        // user entries naming the page
static uint8_t mapper[NPAGES];          // the pid of the last one
static bool table_page[NPAGES];         // a page of some page table
static uint8_t cow_mapper[NPAGES];      // a pid mapping it PTE_COW, or 0
static uint8_t writable_mapper[NPAGES]; // a pid mapping it writable, or 0

// The distinct tables: processes that share the kernel's (before exercise
// 8) are counted once, through it.
static bool table_seen_before(int pid) {
    x86_64_pagetable* pt = ptable[pid].pagetable;
    for (int q = 1; q != pid; ++q) {
        if (ptable[q].pagetable == pt) {
            return true;
        }
    }
    return pt == kernel_pagetable;
}

// Marks every page of `pid`'s table tree (0: the kernel's) as a table
// page; `bad` gets the first page found in two trees.
struct table_marker {
    int pid;
    char* bad;
    size_t size;
};

static void mark_table_page(x86_64_pagetable* pt, void* arg) {
    auto m = static_cast<table_marker*>(arg);
    uintptr_t pa = reinterpret_cast<uintptr_t>(pt);
    if (pa >= MEMSIZE_PHYSICAL) {
        return;
    }
    if (table_page[pa / PAGESIZE] && !m->bad[0]) {
        snprintf(m->bad, m->size, "page-table page 0x%lx in two tables (pid %d)", pa, m->pid);
    }
    table_page[pa / PAGESIZE] = true;
    mapper[pa / PAGESIZE] = m->pid;
}

static void count_mappings(x86_64_pagetable* pt, int pid) {
    for_each_entry(pt, PROC_START_ADDR, MEMSIZE_VIRTUAL, [&](uintptr_t va, x86_64_pageentry_t& pte) {
        uintptr_t pa = pte & PTE_PAMASK;
        if ((pte & PTE_U) && pa < MEMSIZE_PHYSICAL) {
            mappings[pa / PAGESIZE] += mappings[pa / PAGESIZE] != 255;
            // The shared kernel table: its user pages are the slots' owners'.
            int who = pid != 0 ? pid : slot_owner(va);
            mapper[pa / PAGESIZE] = who;
            if (pte & PTE_COW) {
                cow_mapper[pa / PAGESIZE] = who;
            }
            if (pte & PTE_W) {
                writable_mapper[pa / PAGESIZE] = who;
            }
        }
        return true;
    });
}

// Counts the pages and audits them; `bad` gets the first discrepancy ("" if
// none).
static memory_stats audit(char* bad, size_t size) {
    memset(mappings, 0, sizeof(mappings));
    memset(mapper, 0, sizeof(mapper));
    memset(table_page, 0, sizeof(table_page));
    memset(cow_mapper, 0, sizeof(cow_mapper));
    memset(writable_mapper, 0, sizeof(writable_mapper));
    bad[0] = '\0';
    table_marker kernel_marker = {0, bad, size};
    pagetable_pages(kernel_pagetable, mark_table_page, &kernel_marker);
    count_mappings(kernel_pagetable, 0);
    for (int pid = 1; pid != NPROC; ++pid) {
        if (ptable[pid].pagetable && !table_seen_before(pid)) {
            table_marker marker = {pid, bad, size};
            pagetable_pages(ptable[pid].pagetable, mark_table_page, &marker);
            count_mappings(ptable[pid].pagetable, pid);
        }
    }
    memory_stats m = {};
    m.reserved = pages_reserved();
    unsigned promised = 0;              // copies the copy-on-write pages may need
    uintptr_t leak = 0;
    for (uintptr_t pa = PAGESIZE; pa != MEMSIZE_PHYSICAL; pa += PAGESIZE) {
        size_t i = pa / PAGESIZE;
        if (!page_is_memory(pa)) {
            if (mappings[i] && !bad[0] && pa != CONSOLE_ADDR) {
                snprintf(bad, size, "%s page 0x%lx mapped by pid %d", page_role(pa), pa, mapper[i]);
            }
            continue;
        }
        unsigned users = page_users(pa);
        unsigned want = table_page[i] ? 1 : mappings[i];
        if (users == 0) {
            ++m.free;
        } else {
            ++m.used;
            m.shared += users > 1;
        }
        if (users == 0 && want != 0 && !bad[0]) {
            snprintf(bad, size, "free page 0x%lx mapped by pid %d", pa, mapper[i]);
        } else if (users != 0 && want == 0) {
            ++m.leaked;
            leak = leak ? leak : pa;
        } else if (users != want && !bad[0]) {
            // (Read-only: code or constants, which fork shares as they are.)
            bool read_only = !table_page[i] && !cow_mapper[i] && !writable_mapper[i];
            snprintf(bad, size, "%spage 0x%lx has %u users but %u mappings (pid %d)",
                     read_only ? "read-only " : "", pa, users, want, mapper[i]);
        } else if (table_page[i] && mappings[i] && !bad[0]) {
            snprintf(bad, size, "page-table page 0x%lx mapped by pid %d", pa, mapper[i]);
        } else if (cow_mapper[i] && writable_mapper[i] && users > 1 && !bad[0]) {
            snprintf(bad, size, "copy-on-write page 0x%lx is writable in pid %d", pa,
                     writable_mapper[i]);
        }
        if (cow_mapper[i] && users != 0) {
            promised += users - 1;
        }
    }
    // Page-table pages are the kernel's (owner 0); the rest are a pid's.
    if (leak && !bad[0] && page_allocated_for(leak) == 0) {
        snprintf(bad, size, "page-table page 0x%lx leaked", leak);
    } else if (leak && !bad[0]) {
        snprintf(bad, size, "page 0x%lx of pid %d leaked", leak, page_allocated_for(leak));
    }
    // The reserve's invariant (k-memory.cc): a page mapped copy-on-write
    // with u users may still need u - 1 copies, and each has a free page.
    if (!bad[0] && (promised != m.reserved || m.reserved > m.free)) {
        snprintf(bad, size, "reserve of %u pages, but copy-on-write pages need %u and %u are free",
                 m.reserved, promised, m.free);
    }
    return m;
}

memory_stats memory_count() {
    char bad[100];
    return audit(bad, sizeof(bad));
}

void memory_map_owners(int* page_owner) {
    char bad[100];
    audit(bad, sizeof(bad));
    for (uintptr_t pa = 0; pa != MEMSIZE_PHYSICAL; pa += PAGESIZE) {
        size_t i = pa / PAGESIZE;
        int& o = page_owner[i];
        unsigned users = page_users(pa);
        if (users == 0) {
            o = PAGE_FREE_OR_OTHER;
        } else if (table_page[i]) {
            o = PAGE_TABLE_OF + mapper[i];
        } else if (mappings[i] == 0) {
            o = PAGE_LEAKED;
        } else if (users > 1) {
            o = PAGE_SHARED;
        } else {
            o = mapper[i];
        }
    }
}

void memory_audit_at(const char* event, const proc* p) {
    if (!bootopt.audit) {
        return;
    }
    char bad[100];
    audit(bad, sizeof(bad));
    if (bad[0]) {
        panic("AUDIT at the %s of proc %d: %s", event, p->pid, bad);
    }
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
            if (uintptr_t va = foreign_user_page(p.pagetable, user_memory_start(&p), user_memory_end(&p))) {
                snprintf(pt, sizeof(pt), "BAD(proc %d: user page 0x%lx)", pid, va);
            }
        }
    }
    char bad[100];
    audit(bad, sizeof(bad));
    if (bad[0]) {
        snprintf(buf, size, "text=%s pagetables=%s memory=BAD(%s)", text, pt, bad);
    } else {
        snprintf(buf, size, "text=%s pagetables=%s memory=ok", text, pt);
    }
}
