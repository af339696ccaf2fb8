// k-panic.cc: what the kernel says when it finds a bug in itself: the
// message, the process that was current, the registers, and a backtrace
// whose frames are named by function, file and line. The names come from
// the kernel's own ELF image on the disk: its symbol table (the build strips
// only debugging information) and the line table the build adds to it
// (.weensyos.lines, see the GNUmakefile), so neither takes kernel memory.
#include "kernel.hh"
#include "elf.h"

// ---- Kernel symbols ----

// Shortens a C++ symbol to its qualified name: "_ZN6vmiter4findEm" becomes
// "vmiter::find", "_ZL10charge_cpum" "charge_cpu". Other names are kept.
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

namespace {
struct elf_section {
    uint32_t sh_name, sh_type;
    uint64_t sh_flags, sh_addr, sh_offset, sh_size;
    uint32_t sh_link, sh_info;
    uint64_t sh_addralign, sh_entsize;
};

// Finds the section called `name` in the kernel's image on the disk.
bool kernel_section(const char* name, elf_section* sec) {
    elf_header eh;
    elf_section names;
    if (!kernel_image_read(0, &eh, sizeof(eh)) || eh.e_magic != ELF_MAGIC
        || eh.e_shentsize != sizeof(elf_section)
        || !kernel_image_read(eh.e_shoff + eh.e_shstrndx * sizeof(elf_section),
                              &names, sizeof(names))) {
        return false;
    }
    size_t len = strlen(name) + 1;
    for (unsigned i = 0; i != eh.e_shnum; ++i) {
        char found[32];
        if (kernel_image_read(eh.e_shoff + i * sizeof(elf_section), sec, sizeof(*sec))
            && len <= sizeof(found) && sec->sh_name + len <= names.sh_size
            && kernel_image_read(names.sh_offset + sec->sh_name, found, len)
            && memcmp(found, name, len) == 0) {
            return true;
        }
    }
    return false;
}
}

bool kernel_symbol(uintptr_t addr, char* name, size_t size, uintptr_t* offset) {
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


// ---- Source lines ----

namespace {
// Where one backtrace frame is in the source: the function's own line and,
// when the code there came from an inlined function, that function's line.
struct source_place {
    char line[48] = "";             // "kernel.cc:345"
    char inlined[48] = "";          // "x86-64.h:33", or empty
};

// Names the source places of n code addresses in one pass over the line
// table (sorted lines "ADDRESS FILE:LINE [FILE:LINE]", hexadecimal address):
// an address belongs to the last line whose address is not above it.
void source_places(const uintptr_t* addrs, int n, source_place* places) {
    elf_section table;
    if (!kernel_section(".weensyos.lines", &table)) {
        return;
    }
    char buf[1024];
    size_t have = 0;                // bytes in buf not yet used
    uint64_t pos = 0;               // table bytes read so far
    while (true) {
        size_t chunk = min<uint64_t>(sizeof(buf) - 1 - have, table.sh_size - pos);
        if (chunk == 0 || !kernel_image_read(table.sh_offset + pos, buf + have, chunk)) {
            return;
        }
        pos += chunk;
        have += chunk;
        buf[have] = '\0';
        // Every complete line in buf; a partial one waits for the next chunk.
        char* line = buf;
        while (true) {
            char* end = line;
            while (*end && *end != '\n') {
                ++end;
            }
            if (!*end) {
                break;
            }
            *end = '\0';
            const char* rest;
            uintptr_t start = strtoul(line, &rest, 16);
            bool past_all = true;
            for (int i = 0; i != n; ++i) {
                if (start <= addrs[i]) {
                    const char* second = rest + 1;
                    while (*second && *second != ' ') {
                        ++second;
                    }
                    snprintf(places[i].line, sizeof(places[i].line), "%.*s",
                             int(second - rest - 1), rest + 1);
                    snprintf(places[i].inlined, sizeof(places[i].inlined), "%s",
                             *second ? second + 1 : "");
                    past_all = false;
                }
            }
            if (past_all) {
                return;             // sorted: nothing later can match
            }
            line = end + 1;
        }
        have = buf + have - line;
        memmove(buf, line, have);
        if (have == sizeof(buf) - 1) {
            return;                 // a line longer than buf: not our table
        }
    }
}
}


// ---- Panic ----

namespace {
// Prints to the log and to the console (which scrolls) at once.
void panic_printf(const char* format, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, format);
    vsnprintf(buf, sizeof(buf), format, ap);
    va_end(ap);
    log_printf("%s", buf);
    console_printf(0xC000 | 0x0F00, "%s", buf);
}

#define BACKTRACE_DEPTH 12

bool in_kernel_text(uintptr_t addr) {
    return addr >= uintptr_t(kernel_text_start) && addr < uintptr_t(kernel_text_end);
}

bool on_kernel_stack(uintptr_t addr) {
    return addr >= KERNEL_STACK_TOP - KERNEL_STACK_SIZE && addr < KERNEL_STACK_TOP
        && (addr & 7) == 0;
}

// Whether `ret` is the return address of a `call` (opcode E8, 32-bit
// displacement) to the function starting at `callee`.
bool returns_from_call_to(uintptr_t ret, uintptr_t callee) {
    if (!in_kernel_text(ret - 5)) {
        return false;
    }
    auto insn = reinterpret_cast<const uint8_t*>(ret - 5);
    int32_t displacement;
    memcpy(&displacement, insn + 1, sizeof(displacement));
    return insn[0] == 0xE8 && ret + displacement == callee;
}

// The code addresses of a backtrace, innermost first: the faulting %rip
// (if regs), then the return addresses on the kernel stack. Each function
// with a frame pushes %rbp and points %rbp at it, so the frames form a
// chain: [%rbp] is the caller's %rbp, [%rbp + 8] the return address. A
// function that faulted before pushing %rbp, or that has no frame at all
// (GCC gives none to a function that calls nothing and needs no stack,
// whatever the flags), leaves %rbp at its caller's frame, and the chain
// would skip that caller: its return address is then found near %rsp.
int backtrace_addresses(const regstate* regs, uint64_t rbp, uintptr_t* out) {
    int n = 0;
    if (regs) {
        uintptr_t rip = regs->reg_rip;
        out[n++] = rip;
        auto stack = reinterpret_cast<const uint64_t*>(regs->reg_rsp);
        char name[8];
        uintptr_t offset;
        if (!on_kernel_stack(regs->reg_rsp)) {
            // Nothing to read there.
        } else if (in_kernel_text(rip) && kernel_symbol(rip, name, sizeof(name), &offset)) {
            // The first stack word that returns from a call to this
            // function, unless it is the one the chain will find.
            for (int i = 0; i != 8 && on_kernel_stack(uintptr_t(&stack[i])); ++i) {
                if (returns_from_call_to(stack[i], rip - offset)) {
                    if (uintptr_t(&stack[i]) != rbp + 8) {
                        out[n++] = stack[i];
                    }
                    break;
                }
            }
        } else if (!in_kernel_text(rip) && in_kernel_text(stack[0])) {
            // A call through a bad pointer: the call's return address is
            // still on top of the stack.
            out[n++] = stack[0];
        }
    }
    while (n != BACKTRACE_DEPTH && on_kernel_stack(rbp)) {
        auto frame = reinterpret_cast<const uint64_t*>(rbp);
        if (frame[1] == 0) {
            break;                  // kernel_entry's zero return address
        }
        out[n++] = frame[1];
        rbp = frame[0];
    }
    return n;
}

// Prints the backtrace: for each frame its address, function and source
// line. For a return address, the call instruction just before it is what
// is named: a call can be the last instruction of its function and line.
void backtrace(const regstate* regs, uint64_t rbp) {
    uintptr_t addrs[BACKTRACE_DEPTH];
    int n = backtrace_addresses(regs, rbp, addrs);
    uintptr_t lookup[BACKTRACE_DEPTH];
    for (int i = 0; i != n; ++i) {
        lookup[i] = addrs[i] - (i != 0 || !regs);
    }
    source_place places[BACKTRACE_DEPTH];
    source_places(lookup, n, places);
    panic_printf("backtrace:\n");
    for (int i = 0; i != n; ++i) {
        char name[64];
        uintptr_t offset;
        char where[64] = "";
        if (places[i].line[0]) {
            snprintf(where, sizeof(where), " %s%s%s%s", places[i].line,
                     places[i].inlined[0] ? " (inlined: " : "", places[i].inlined,
                     places[i].inlined[0] ? ")" : "");
        }
        if (kernel_symbol(lookup[i], name, sizeof(name), &offset)) {
            panic_printf("  #%d 0x%lx %s+%lu%s\n", i, addrs[i], name,
                         offset + (addrs[i] - lookup[i]), where);
        } else {
            panic_printf("  #%d 0x%lx%s\n", i, addrs[i], where);
        }
    }
}

// Not inlined, so that without saved registers the backtrace starts from
// its own frame: the first return address is in panic() or panic_at().
[[noreturn]] __attribute__((noinline))
void panic_finish(const regstate* regs, const char* format, va_list ap) {
    cli();
    watchdog_stop();            // the machine stops here on purpose
    static bool panicking = false;
    if (panicking) {
        poweroff(POWEROFF_PANIC);   // a panic while panicking: just stop
    }
    panicking = true;
    // Start on a fresh row so the message is readable.
    int pos = console_cursor();
    if (pos % CONSOLE_COLUMNS != 0) {
        console_cursor_slot = min(pos + CONSOLE_COLUMNS - pos % CONSOLE_COLUMNS,
                                  CONSOLE_ROWS * CONSOLE_COLUMNS);
    }
    char msg[160];
    vsnprintf(msg, sizeof(msg), format, ap);
    panic_printf("PANIC: %s\n", msg);
    if (current) {
        panic_printf("current process: proc %d (%s)\n", current->pid, current->name);
    } else {
        panic_printf("current process: none (no process has run yet)\n");
    }
    if (regs) {
        panic_printf("rax %016lx rbx %016lx rcx %016lx\n"
                     "rdx %016lx rsi %016lx rdi %016lx\n"
                     "rbp %016lx rsp %016lx r8  %016lx\n"
                     "r9  %016lx r10 %016lx r11 %016lx\n"
                     "r12 %016lx r13 %016lx r14 %016lx\n"
                     "r15 %016lx rip %016lx rflags %lx\n"
                     "cs %lx error code %lx cr2 %lx\n",
                     regs->reg_rax, regs->reg_rbx, regs->reg_rcx,
                     regs->reg_rdx, regs->reg_rsi, regs->reg_rdi,
                     regs->reg_rbp, regs->reg_rsp, regs->reg_r8,
                     regs->reg_r9, regs->reg_r10, regs->reg_r11,
                     regs->reg_r12, regs->reg_r13, regs->reg_r14,
                     regs->reg_r15, regs->reg_rip, regs->reg_rflags,
                     regs->reg_cs, regs->reg_errcode, rdcr2());
        backtrace(regs, regs->reg_rbp);
    } else {
        backtrace(nullptr, read_rbp());
    }
    panic_stop();
}
}

void panic(const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    panic_finish(nullptr, format, ap);
}

void panic_at(const regstate* regs, const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    panic_finish(regs, format, ap);
}

void assert_fail(const char* file, int line, const char* msg) {
    panic("%s:%d: assertion '%s' failed", file, line, msg);
}
