// k-loader.cc: loads a program's ELF image from the disk into a process's
// own memory. Programs are position-independent executables linked for
// PROC_START_ADDR; loading one into slot k of the lecture's kernels moves
// it by (k - 1) * PROC_SLOT_SIZE and applies its R_X86_64_RELATIVE
// relocations, so any program runs in any slot without being rebuilt. Its
// pages come from process_page_alloc (kernel.cc), fresh and zeroed, and
// the kernel writes them through its direct map (pagetable_write), whatever
// page table it runs on. No page is both writable and executable.
#include "kernel.hh"
#include "elf.h"
#include "k-ata.hh"
#include "k-vmiter.hh"

#define PROGRAM_LINK_ADDR   PROC_START_ADDR
#define PROGRAM_MAX_PHDRS   16

// The program directory (k-ata.hh) holds up to PROGRAM_DIR_ENTRIES - 1
// programs. The kernel reads it a window of DIR_WINDOW_ENTRIES entries at
// a time, so that it costs 4 KB of kernel memory however many programs a
// course adds; the window with the header stays in memory until a lookup
// needs another.
#define DIR_WINDOW_SECTORS  8
#define DIR_ENTRIES_PER_SECTOR  (SECTORSIZE / sizeof(program_dir_entry))
#define DIR_WINDOW_ENTRIES  (DIR_WINDOW_SECTORS * DIR_ENTRIES_PER_SECTOR)
static_assert(PROGRAM_DIR_SECTORS % DIR_WINDOW_SECTORS == 0,
              "the directory is read in whole windows");

static program_dir_entry window[DIR_WINDOW_ENTRIES];
static uint32_t window_first = ~0U;     // the directory index of window[0]
static uint32_t program_count;          // from the header, once it was read

// Directory entry `index` (0 is the header), read from the disk if its
// window is not in memory; null if the disk would not read.
static const program_dir_entry* dir_entry(uint32_t index) {
    uint32_t first = index - index % DIR_WINDOW_ENTRIES;
    if (first != window_first) {
        window_first = ~0U;
        if (disk_read(PROGRAM_DIR_SECTOR + first / DIR_ENTRIES_PER_SECTOR, window,
                      DIR_WINDOW_SECTORS) < 0) {
            return nullptr;
        }
        window_first = first;
    }
    program_dir_entry* e = &window[index - first];
    e->name[sizeof(e->name) - 1] = '\0';  // whatever the disk says
    return e;
}

// Reads the header once; false (said in the log) if there is none.
static bool directory_read() {
    if (program_count == 0) {
        const program_dir_entry* header = dir_entry(0);
        if (header && strcmp(header->name, PROGRAM_DIR_MAGIC) == 0
            && header->sector < PROGRAM_DIR_ENTRIES) {
            program_count = header->sector;
        } else {
            log_printf("loader: no program directory at disk sector %d\n", PROGRAM_DIR_SECTOR);
        }
    }
    return program_count != 0;
}

// Program `name`'s directory entry (a copy, which a later lookup leaves
// alone), or null.
static const program_dir_entry* program_find(const char* name) {
    static program_dir_entry found;
    for (uint32_t i = 1; directory_read() && i <= program_count; ++i) {
        const program_dir_entry* e = dir_entry(i);
        if (e && strcmp(e->name, name) == 0) {
            found = *e;
            return &found;
        }
    }
    return nullptr;
}

void program_list(char* buf, size_t size) {
    size_t n = 0;
    buf[0] = '\0';
    for (uint32_t i = 1; directory_read() && i <= program_count && n < size; ++i) {
        const program_dir_entry* e = dir_entry(i);
        n += snprintf(buf + n, size - n, "%s%s", i > 1 ? " " : "", e ? e->name : "?");
    }
}

// Copies `size` bytes at byte `offset` of program `e`'s image to kernel
// memory at `dst`.
static bool image_read(const program_dir_entry* e, uint64_t offset, void* dst, size_t size) {
    static uint8_t buf[8 * SECTORSIZE];
    if (offset > e->size || size > e->size - offset) {
        return false;
    }
    auto out = static_cast<uint8_t*>(dst);
    while (size != 0) {
        size_t skip = offset % SECTORSIZE;
        size_t chunk = min(size, sizeof(buf) - skip);
        size_t nsectors = (skip + chunk + SECTORSIZE - 1) / SECTORSIZE;
        if (disk_read(e->sector + offset / SECTORSIZE, buf, nsectors) < 0) {
            return false;
        }
        memcpy(out, buf + skip, chunk);
        out += chunk;
        offset += chunk;
        size -= chunk;
    }
    return true;
}

// Maps [va, va + size) user-accessible in process p's table with
// permissions `perm`, on fresh pages (or the ones an earlier segment that
// shares a page already has).
static const char* map_user(proc* p, uintptr_t va, size_t size, uint64_t perm) {
    for (uintptr_t a = round_down(va, PAGESIZE); a < va + size; a += PAGESIZE) {
        vmiter it(p->pagetable, a);
        uintptr_t pa = it.user() ? it.pa() : process_page_alloc(p, a);
        if (pa == 0) {
            return "out of memory";
        }
        if (it.map(pa, perm) < 0) {
            if (!it.user()) {
                kfree(pa);
            }
            return "out of memory for page tables";
        }
    }
    return nullptr;
}

// Copies `size` bytes at `offset` of program e's image into process
// memory at `va`, a sector buffer at a time.
static bool image_load(x86_64_pagetable* pt, const program_dir_entry* e, uint64_t offset,
                       uintptr_t va, size_t size) {
    static uint8_t chunk[8 * SECTORSIZE];
    while (size != 0) {
        size_t n = min(size, sizeof(chunk));
        if (!image_read(e, offset, chunk, n)) {
            return false;
        }
        pagetable_write(pt, va, chunk, n);
        offset += n;
        va += n;
        size -= n;
    }
    return true;
}

// Every page is writable or executable, never both (W^X). The linker
// script starts writable data on a page of its own.
#define USER_DATA   (PTE_P | PTE_U | PTE_W | PTE_NX)
#define USER_CODE   (PTE_P | PTE_U)

// Applies the image's relocations. Every one must be R_X86_64_RELATIVE
// ("add the load offset") and must land inside [lo, hi), on a page that
// `pt` maps writable for the process (never its code).
static const char* relocate(x86_64_pagetable* pt, uintptr_t dynamic, uintptr_t delta,
                            uintptr_t lo, uintptr_t hi) {
    uintptr_t rela = 0, relasz = 0, relaent = sizeof(elf_rela);
    for (uintptr_t a = dynamic; a + sizeof(elf_dyn) <= hi && user_range_ok(pt, a, sizeof(elf_dyn), false);
         a += sizeof(elf_dyn)) {
        elf_dyn d;
        user_read(pt, &d, a, sizeof(d));
        if (d.d_tag == DT_NULL) {
            break;
        } else if (d.d_tag == DT_RELA) {
            rela = d.d_val + delta;
        } else if (d.d_tag == DT_RELASZ) {
            relasz = d.d_val;
        } else if (d.d_tag == DT_RELAENT) {
            relaent = d.d_val;
        }
    }
    if (relasz == 0) {
        return nullptr;
    }
    if (relaent != sizeof(elf_rela) || rela < lo || rela > hi || relasz > hi - rela) {
        return "bad relocation table";
    }
    for (uintptr_t a = rela; relasz >= sizeof(elf_rela);
         a += sizeof(elf_rela), relasz -= sizeof(elf_rela)) {
        elf_rela r;
        if (!user_range_ok(pt, a, sizeof(r), false)) {
            return "relocation table outside the program";
        }
        user_read(pt, &r, a, sizeof(r));
        uint32_t type = r.r_info & 0xFFFFFFFF;
        uintptr_t target = r.r_offset + delta;
        if (type == R_X86_64_NONE) {
            continue;
        } else if (type != R_X86_64_RELATIVE) {
            return "unsupported relocation type (build programs with -fpie -static-pie)";
        } else if (target < lo || target > hi - 8 || !user_range_ok(pt, target, 8, true)) {
            return "relocation outside the program";
        }
        uint64_t value = r.r_addend + delta;
        pagetable_write(pt, target, &value, sizeof(value));
    }
    return nullptr;
}

// Step 1: finds program `name` and checks that its image is an x86-64 ELF
// executable; reads its program headers into `ph`. Returns an error or null.
static const char* check_elf(const program_dir_entry* e, elf_header& eh,
                             elf_program (&ph)[PROGRAM_MAX_PHDRS]) {
    if (!image_read(e, 0, &eh, sizeof(eh)) || eh.e_magic != ELF_MAGIC
        || (eh.e_type != ET_DYN && eh.e_type != ET_EXEC) || eh.e_machine != EM_X86_64
        || eh.e_phentsize != sizeof(elf_program) || eh.e_phnum > PROGRAM_MAX_PHDRS) {
        return "not an x86-64 ELF executable";
    }
    if (!image_read(e, eh.e_phoff, ph, eh.e_phnum * sizeof(elf_program))) {
        return "truncated program headers";
    }
    return nullptr;
}

// Step 2: copies each loadable segment into process p's memory, moved by
// `delta`, on fresh pages mapped user-accessible (writable only if the
// segment is). Sets `dynamic` to the moved address of the dynamic
// section, if any.
static const char* load_segments(proc* p, const program_dir_entry* e, const elf_header& eh,
                                 const elf_program* ph, uintptr_t delta, uintptr_t& dynamic) {
    uintptr_t base = user_memory_start(p);
    uintptr_t stack_page = user_memory_end(p) - PAGESIZE;
    for (int i = 0; i != eh.e_phnum; ++i) {
        if (ph[i].p_type == ELF_PTYPE_DYNAMIC) {
            dynamic = ph[i].p_va + delta;
        }
        if (ph[i].p_type != ELF_PTYPE_LOAD) {
            continue;
        }
        uintptr_t va = ph[i].p_va + delta;
        if (ph[i].p_va < PROGRAM_LINK_ADDR || ph[i].p_memsz > stack_page - base
            || va + ph[i].p_memsz > stack_page || ph[i].p_filesz > ph[i].p_memsz) {
            return "segment does not fit in the process's memory below its stack";
        }
        uint64_t perm = ph[i].p_flags & ELF_PFLAG_WRITE ? USER_DATA : USER_CODE;
        if (const char* why = map_user(p, va, ph[i].p_memsz, perm)) {
            return why;
        }
        if (!image_load(p->pagetable, e, ph[i].p_offset, va, ph[i].p_filesz)) {
            return "segment past the end of the image";
        }
    }
    return nullptr;
}

// Step 3: the stack is the top page of the process's memory. The process
// starts as if called: %rsp points at a zero return address, which also
// ends backtraces.
static const char* setup_stack(proc* p) {
    uintptr_t top = user_memory_end(p);
    if (const char* why = map_user(p, top - PAGESIZE, PAGESIZE, USER_DATA)) {
        return why;
    }
    p->regs.reg_rsp = top - 8;
    return nullptr;
}

// Another process that runs on p's page table at addresses p's memory
// overlaps, or null. Before exercise 8 every process runs on the kernel's
// table, each in a slot of its own; once the slots overlap, each needs a
// page table of its own.
static const proc* table_owner(const proc* p) {
    for (int pid = 1; pid != NPROC; ++pid) {
        const proc* q = &ptable[pid];
        if (q != p && q->pagetable == p->pagetable
            && user_memory_start(q) < user_memory_end(p)
            && user_memory_start(p) < user_memory_end(q)) {
            return q;
        }
    }
    return nullptr;
}

int program_load(proc* p, const char* name) {
    const program_dir_entry* e = program_find(name);
    if (!e) {
        char known[200];
        program_list(known, sizeof(known));
        log_printf("loader: no program '%s' in this disk image; programs: %s\n", name, known);
        console_printf(CS_RED "no program '%s' in this disk image\n", name);
        snprintf(p->reason, sizeof(p->reason), "no program '%s' in this disk image", name);
        return -1;
    }
    if (const proc* q = table_owner(p)) {
        // Loading would write over q's pages: leave q its table.
        log_printf("loader: cannot load program '%s' as pid %d: pid %d runs on the same page "
                   "table at the same addresses\n", name, p->pid, q->pid);
        console_printf(CS_RED "cannot load '%s' as pid %d: pid %d has its page table\n", name,
                       p->pid, q->pid);
        snprintf(p->reason, sizeof(p->reason), "cannot load '%s': pid %d has its page table",
                 name, q->pid);
        p->pagetable = nullptr;
        return -1;
    }
    elf_header eh;
    elf_program ph[PROGRAM_MAX_PHDRS];
    uintptr_t slot = user_memory_start(p);
    uintptr_t stack_page = user_memory_end(p) - PAGESIZE;
    uintptr_t delta = slot - PROGRAM_LINK_ADDR;
    uintptr_t dynamic = 0;
    const char* why = check_elf(e, eh, ph);
    if (!why) {
        why = load_segments(p, e, eh, ph, delta, dynamic);
    }
    if (!why && dynamic && (dynamic < slot || dynamic >= stack_page)) {
        why = "dynamic section outside the program";
    }
    if (!why && dynamic) {
        why = relocate(p->pagetable, dynamic, delta, slot, stack_page);
    }
    uintptr_t entry = eh.e_entry + delta;
    if (!why && (entry < slot || entry >= stack_page)) {
        why = "entry point outside the program";
    }
    if (!why) {
        why = setup_stack(p);
    }
    if (why) {
        log_printf("loader: cannot load program '%s' as pid %d: %s\n", name, p->pid, why);
        console_printf(CS_RED "cannot load '%s' as pid %d: %s\n", name, p->pid, why);
        snprintf(p->reason, sizeof(p->reason), "cannot load '%s': %s", name, why);
        return -1;
    }
    p->regs.reg_rip = entry;
    return 0;
}


// ---- The kernel's own image, for panic backtraces (k-panic.cc) ----

// Reads `size` bytes at byte `offset` of the kernel image on the disk.
bool kernel_image_read(uint64_t offset, void* dst, size_t size) {
    program_dir_entry kernel_image = {};
    kernel_image.sector = KERNEL_DISK_SECTOR;
    kernel_image.size = (PROGRAM_DIR_SECTOR - KERNEL_DISK_SECTOR) * SECTORSIZE;
    return image_read(&kernel_image, offset, dst, size);
}

// The next program that PROCS string `s` names ("alice eve", "name:arg
// ..."): its name (cut to the buffer) and argument (0 if none). Returns
// the rest of the string, or null if no program is left.
const char* procs_next(const char* s, char (&name)[PROC_NAME_SIZE], uint64_t& arg) {
    while (*s == ' ') {
        ++s;
    }
    size_t len = 0;
    while (s[len] && s[len] != ' ' && s[len] != ':') {
        ++len;
    }
    if (len == 0) {
        return nullptr;
    }
    memset(name, 0, sizeof(name));
    memcpy(name, s, min(len, sizeof(name) - 1));
    s += len;
    arg = 0;
    if (*s == ':') {
        arg = strtoul(s + 1, &s, 0);
    }
    while (*s && *s != ' ') {
        ++s;
    }
    return s;
}
