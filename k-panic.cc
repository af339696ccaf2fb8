// k-panic.cc: what the kernel says when it finds a bug in itself: the
// message, the registers, and a backtrace whose return addresses are named
// from the kernel's symbol table, which the kernel reads from its own ELF
// image on the disk (the build strips only debugging information), so no
// copy of it takes kernel memory.
#include "kernel.hh"
#include "elf.h"

// ---- Kernel symbols ----

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


// ---- Panic ----

namespace {
// Prints to the console and the log at once.
struct panic_printer : printer {
    void putc(unsigned char c, int color) override {
        outb(0xE9, c);
        int pos = console_cursor();
        if (pos >= CONSOLE_ROWS * CONSOLE_COLUMNS) {
            pos = (CONSOLE_ROWS - 1) * CONSOLE_COLUMNS;
        }
        if (c == '\n') {
            pos += CONSOLE_COLUMNS - pos % CONSOLE_COLUMNS;
        } else {
            console[pos++] = c | color;
        }
        console_cursor_slot = pos;
    }
};

void panic_printf(const char* format, ...) {
    panic_printer pp;
    va_list ap;
    va_start(ap, format);
    printer_vprintf(&pp, 0xC000 | 0x0F00, format, ap);
    va_end(ap);
}

// Prints one backtrace line: the address and the function it is in.
void backtrace_line(int depth, uint64_t addr) {
    char name[64];
    uintptr_t offset;
    if (kernel_symbol(addr, name, sizeof(name), &offset)) {
        panic_printf("  #%d 0x%lx %s+%lu\n", depth, addr, name, offset);
    } else {
        panic_printf("  #%d 0x%lx\n", depth, addr);
    }
}

// Walks the frame-pointer chain on the kernel stack (the kernel is built
// with -fno-omit-frame-pointer) and names each return address.
void backtrace(uint64_t rbp, uint64_t rip) {
    panic_printf("backtrace:\n");
    backtrace_line(0, rip);
    for (int depth = 1; depth != 10; ++depth) {
        if (rbp < KERNEL_STACK_TOP - KERNEL_STACK_SIZE || rbp >= KERNEL_STACK_TOP || (rbp & 7)) {
            break;
        }
        auto frame = reinterpret_cast<const uint64_t*>(rbp);
        if (frame[1] == 0) {
            break;
        }
        backtrace_line(depth, frame[1]);
        rbp = frame[0];
    }
}

[[noreturn]] void panic_finish(const regstate* regs, const char* format, va_list ap) {
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
        backtrace(regs->reg_rbp, regs->reg_rip);
    } else {
        backtrace(read_rbp(), reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
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
