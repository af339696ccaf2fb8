// boot.cc: the boot loader's C++ half. Runs in 64-bit mode from the boot
// sector, reads the kernel's ELF image from the disk (k-ata.hh), copies each
// loadable segment to its physical address, and jumps to the kernel's entry.
// It must fit in the boot sector with bootentry.S: under 510 bytes.
#include "elf.h"
#include "k-ata.hh"

#define BOOT_ELF_HEADER 0x10000     // scratch page for the kernel's ELF header

// Reads `size` bytes at disk byte offset `offset` (counting from the
// kernel's first sector) to `dst`, which must be sector-aligned relative to
// the offset, as the kernel linker script guarantees.
static void boot_read(uint8_t* dst, uint64_t offset, uint64_t size) {
    uint8_t* end = dst + size;
    dst -= offset % SECTORSIZE;
    uint32_t sector = KERNEL_DISK_SECTOR + offset / SECTORSIZE;
    for (; dst < end; dst += SECTORSIZE, ++sector) {
        ata_read(sector, dst, 1);
    }
}

extern "C" [[noreturn]] void boot() {
    auto eh = reinterpret_cast<elf_header*>(BOOT_ELF_HEADER);
    boot_read(reinterpret_cast<uint8_t*>(eh), 0, 4096);
    auto ph = reinterpret_cast<elf_program*>(BOOT_ELF_HEADER + eh->e_phoff);
    for (auto phend = ph + eh->e_phnum; ph != phend; ++ph) {
        if (ph->p_type == ELF_PTYPE_LOAD) {
            auto dst = reinterpret_cast<uint8_t*>(ph->p_pa);
            boot_read(dst, ph->p_offset, ph->p_filesz);
            for (uint64_t i = ph->p_filesz; i < ph->p_memsz; ++i) {
                dst[i] = 0;
            }
        }
    }
    reinterpret_cast<void (*)()>(eh->e_entry)();
    __builtin_unreachable();
}
