// k-loader.cc: loads a program's ELF image from the disk into a process
// slot. Programs are position-independent executables linked for slot 1
// (PROC_START_ADDR); loading one into slot k moves it by
// (k - 1) * PROC_SLOT_SIZE and applies its R_X86_64_RELATIVE relocations,
// so any program runs in any slot without being rebuilt.
#include "kernel.hh"
#include "elf.h"
#include "k-ata.hh"
#include "k-vmiter.hh"

#define PROGRAM_LINK_ADDR   PROC_START_ADDR
#define PROGRAM_MAX_PHDRS   16

static program_dir_entry directory[PROGRAM_DIR_ENTRIES];
static bool directory_ok;

static bool directory_read() {
    if (!directory_ok) {
        directory_ok = disk_read(PROGRAM_DIR_SECTOR, directory, PROGRAM_DIR_SECTORS) == 0
            && strcmp(directory[0].name, PROGRAM_DIR_MAGIC) == 0
            && directory[0].sector < PROGRAM_DIR_ENTRIES;
        if (!directory_ok) {
            log_printf("loader: no program directory at disk sector %d\n", PROGRAM_DIR_SECTOR);
        }
    }
    return directory_ok;
}

static const program_dir_entry* program_find(const char* name) {
    if (!directory_read()) {
        return nullptr;
    }
    for (uint32_t i = 1; i <= directory[0].sector; ++i) {
        directory[i].name[sizeof(directory[i].name) - 1] = '\0';
        if (strcmp(directory[i].name, name) == 0) {
            return &directory[i];
        }
    }
    return nullptr;
}

void program_list(char* buf, size_t size) {
    size_t n = 0;
    buf[0] = '\0';
    if (directory_read()) {
        for (uint32_t i = 1; i <= directory[0].sector && n < size; ++i) {
            n += snprintf(buf + n, size - n, "%s%s", i > 1 ? " " : "", directory[i].name);
        }
    }
}

// Copies `size` bytes at byte `offset` of program `e`'s image to `dst`.
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

// Maps [va, va + size) user-accessible in `pt` (writable if `write`).
static bool map_user(x86_64_pagetable* pt, uintptr_t va, size_t size, bool write) {
    for (uintptr_t a = round_down(va, PAGESIZE); a < va + size; a += PAGESIZE) {
        vmiter it(pt, a);
        // A page an earlier writable segment shares stays writable. (Not
        // the identity map's kernel-only PTE_W: code would be writable.)
        bool shared_writable = it.user() && it.writable();
        uint64_t perm = PTE_P | PTE_U | (write || shared_writable ? PTE_W : 0);
        if (it.map(a, perm) < 0) {
            return false;
        }
    }
    return true;
}

// Applies the image's relocations. Every one must be R_X86_64_RELATIVE
// ("add the load offset") and must land inside [lo, hi).
static const char* relocate(uintptr_t dynamic, uintptr_t delta, uintptr_t lo, uintptr_t hi) {
    uintptr_t rela = 0, relasz = 0, relaent = sizeof(elf_rela);
    for (auto d = reinterpret_cast<elf_dyn*>(dynamic);
         reinterpret_cast<uintptr_t>(d + 1) <= hi && d->d_tag != DT_NULL; ++d) {
        if (d->d_tag == DT_RELA) {
            rela = d->d_val + delta;
        } else if (d->d_tag == DT_RELASZ) {
            relasz = d->d_val;
        } else if (d->d_tag == DT_RELAENT) {
            relaent = d->d_val;
        }
    }
    if (relasz == 0) {
        return nullptr;
    }
    if (relaent != sizeof(elf_rela) || rela < lo || rela > hi || relasz > hi - rela) {
        return "bad relocation table";
    }
    for (auto r = reinterpret_cast<elf_rela*>(rela); relasz >= sizeof(elf_rela);
         ++r, relasz -= sizeof(elf_rela)) {
        uint32_t type = r->r_info & 0xFFFFFFFF;
        uintptr_t target = r->r_offset + delta;
        if (type == R_X86_64_NONE) {
            continue;
        } else if (type != R_X86_64_RELATIVE) {
            return "unsupported relocation type (build programs with -fpie -static-pie)";
        } else if (target < lo || target > hi - 8) {
            return "relocation outside the program";
        }
        *reinterpret_cast<uint64_t*>(target) = r->r_addend + delta;
    }
    return nullptr;
}

static int load_error(proc* p, const char* name, const char* why) {
    log_printf("loader: cannot load program '%s' as pid %d: %s\n", name, p->pid, why);
    console_printf(CS_RED "cannot load '%s' as pid %d: %s\n", name, p->pid, why);
    return -1;
}

int program_load(proc* p, const char* name) {
    const program_dir_entry* e = program_find(name);
    if (!e) {
        char known[200];
        program_list(known, sizeof(known));
        log_printf("loader: no program '%s' in this disk image; programs: %s\n", name, known);
        console_printf(CS_RED "no program '%s' in this disk image\n", name);
        return -1;
    }
    elf_header eh;
    if (!image_read(e, 0, &eh, sizeof(eh)) || eh.e_magic != ELF_MAGIC
        || (eh.e_type != ET_DYN && eh.e_type != ET_EXEC) || eh.e_machine != EM_X86_64
        || eh.e_phentsize != sizeof(elf_program) || eh.e_phnum > PROGRAM_MAX_PHDRS) {
        return load_error(p, name, "not an x86-64 ELF executable");
    }
    elf_program ph[PROGRAM_MAX_PHDRS];
    if (!image_read(e, eh.e_phoff, ph, eh.e_phnum * sizeof(elf_program))) {
        return load_error(p, name, "truncated program headers");
    }

    uintptr_t slot = proc_slot_start(p->pid);
    uintptr_t stack_page = proc_slot_end(p->pid) - PAGESIZE;
    uintptr_t delta = slot - PROGRAM_LINK_ADDR;
    uintptr_t dynamic = 0;
    for (int i = 0; i != eh.e_phnum; ++i) {
        if (ph[i].p_type == ELF_PTYPE_DYNAMIC) {
            dynamic = ph[i].p_va + delta;
        }
        if (ph[i].p_type != ELF_PTYPE_LOAD) {
            continue;
        }
        uintptr_t va = ph[i].p_va + delta;
        if (ph[i].p_va < PROGRAM_LINK_ADDR || ph[i].p_memsz > PROC_SLOT_SIZE
            || va + ph[i].p_memsz > stack_page || ph[i].p_filesz > ph[i].p_memsz) {
            return load_error(p, name, "segment does not fit in a process slot below its stack");
        }
        if (!map_user(p->pagetable, va, ph[i].p_memsz, ph[i].p_flags & ELF_PFLAG_WRITE)) {
            return load_error(p, name, "out of page-table pages");
        }
        auto dst = reinterpret_cast<uint8_t*>(va);
        if (!image_read(e, ph[i].p_offset, dst, ph[i].p_filesz)) {
            return load_error(p, name, "segment past the end of the image");
        }
        memset(dst + ph[i].p_filesz, 0, ph[i].p_memsz - ph[i].p_filesz);
    }
    if (dynamic) {
        if (dynamic < slot || dynamic >= stack_page) {
            return load_error(p, name, "dynamic section outside the program");
        }
        if (const char* why = relocate(dynamic, delta, slot, stack_page)) {
            return load_error(p, name, why);
        }
    }
    uintptr_t entry = eh.e_entry + delta;
    if (entry < slot || entry >= stack_page) {
        return load_error(p, name, "entry point outside the program");
    }

    // The stack is the slot's top page. The process starts as if called:
    // %rsp points at a zero return address, which also ends backtraces.
    if (!map_user(p->pagetable, stack_page, PAGESIZE, true)) {
        return load_error(p, name, "out of page-table pages");
    }
    memset(reinterpret_cast<void*>(stack_page), 0, PAGESIZE);
    p->regs.reg_rip = entry;
    p->regs.reg_rsp = proc_slot_end(p->pid) - 8;
    return 0;
}


// ---- Kernel symbols, for panic backtraces ----
// The kernel's ELF image on the disk keeps its symbol table (the build strips
// only debugging information), so a panic can name the functions in its
// backtrace without the kernel carrying a copy in memory.

// Reads `size` bytes at byte `offset` of the kernel image on the disk.
static bool kernel_image_read(uint64_t offset, void* dst, size_t size) {
    program_dir_entry kernel_image = {};
    kernel_image.sector = KERNEL_DISK_SECTOR;
    kernel_image.size = (PROGRAM_DIR_SECTOR - KERNEL_DISK_SECTOR) * SECTORSIZE;
    return image_read(&kernel_image, offset, dst, size);
}

// Shortens a C++ symbol to its qualified name: "_ZN6vmiter4findEm" becomes
// "vmiter::find", "_ZL10timer_tickv" "timer_tick". Other names are kept.
static void simplify_symbol(const char* sym, char* out, size_t size) {
    size_t n = 0;
    const char* s = sym;
    if (s[0] == '_' && s[1] == 'Z') {
        s += 2;
        s += *s == 'L';
        bool nested = *s == 'N';
        s += nested;
        while (*s >= '1' && *s <= '9') {
            const char* end;
            size_t len = strtoul(s, &end, 10);
            if (strnlen(end, len) < len) {
                break;
            }
            if (n != 0 && n + 2 < size) {
                out[n++] = ':';
                out[n++] = ':';
            }
            for (size_t i = 0; i != len && n + 1 < size; ++i) {
                out[n++] = end[i];
            }
            s = end + len;
            if (!nested) {
                break;
            }
        }
    }
    if (n == 0) {
        snprintf(out, size, "%s", sym);
    } else {
        out[n] = '\0';
    }
}

bool kernel_symbol(uintptr_t addr, char* name, size_t size, uintptr_t* offset) {
    struct elf_section {
        uint32_t sh_name, sh_type;
        uint64_t sh_flags, sh_addr, sh_offset, sh_size;
        uint32_t sh_link, sh_info;
        uint64_t sh_addralign, sh_entsize;
    };
    struct elf_symbol {
        uint32_t st_name;
        uint8_t st_info, st_other;
        uint16_t st_shndx;
        uint64_t st_value, st_size;
    };
    const uint32_t sht_symtab = 2;
    elf_header eh;
    if (!kernel_image_read(0, &eh, sizeof(eh)) || eh.e_magic != ELF_MAGIC
        || eh.e_shentsize != sizeof(elf_section)) {
        return false;
    }
    for (unsigned i = 0; i != eh.e_shnum; ++i) {
        elf_section symtab, strtab;
        if (!kernel_image_read(eh.e_shoff + i * sizeof(elf_section), &symtab, sizeof(symtab))
            || symtab.sh_type != sht_symtab
            || !kernel_image_read(eh.e_shoff + symtab.sh_link * sizeof(elf_section),
                                  &strtab, sizeof(strtab))) {
            continue;
        }
        // The function containing addr; failing that (assembly labels
        // have no size), the nearest symbol at or below it.
        elf_symbol best = {};
        bool found = false;
        for (uint64_t off = 0; off + sizeof(elf_symbol) <= symtab.sh_size; off += sizeof(elf_symbol)) {
            elf_symbol sym;
            if (!kernel_image_read(symtab.sh_offset + off, &sym, sizeof(sym))) {
                return false;
            }
            unsigned type = sym.st_info & 0xF;     // STT_NOTYPE 0, STT_FUNC 2
            if ((type != 0 && type != 2) || sym.st_shndx == 0 || sym.st_value > addr) {
                continue;
            }
            if (type == 2 && addr < sym.st_value + sym.st_size) {
                best = sym;
                found = true;
                break;
            }
            if (sym.st_size == 0 && (!found || sym.st_value > best.st_value)) {
                best = sym;
                found = true;
            }
        }
        if (found) {
            char raw[80] = "";
            kernel_image_read(strtab.sh_offset + best.st_name, raw,
                              min<uint64_t>(sizeof(raw) - 1, strtab.sh_size - best.st_name));
            raw[sizeof(raw) - 1] = '\0';
            simplify_symbol(raw, name, size);
            *offset = addr - best.st_value;
            return true;
        }
    }
    return false;
}
