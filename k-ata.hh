// k-ata.hh: reading the boot disk with programmed I/O on the primary ATA
// channel, and where things are on that disk. Shared by the boot loader
// (which reads the kernel) and the kernel (which reads programs).
#ifndef WEENSYOS_K_ATA_HH
#define WEENSYOS_K_ATA_HH
#include "x86-64.h"

#define SECTORSIZE              512
// Disk layout (made by mkimage.sh): sector 0 is the boot sector, the
// kernel's ELF image starts at sector 1, and the program directory at
// PROGRAM_DIR_SECTOR is followed by the programs' ELF images.
#define KERNEL_DISK_SECTOR      1
#define PROGRAM_DIR_SECTOR      1024
#define PROGRAM_DIR_SECTORS     64      // 511 programs (a multiple of 8)
#define PROGRAM_DIR_MAGIC       "WeensyOS programs"

struct program_dir_entry {      // 64 bytes, little endian
    char name[48];              // NUL-terminated program name ("alice")
    uint32_t sector;            // first sector of its ELF image
    uint32_t size;              // bytes
    uint64_t reserved;
};
// The directory's first entry is a header: name = PROGRAM_DIR_MAGIC,
// sector = number of entries that follow.
#define PROGRAM_DIR_ENTRIES     (PROGRAM_DIR_SECTORS * SECTORSIZE / sizeof(program_dir_entry))

// ATA registers (primary channel) and status bits.
#define ATA_DATA        0x1F0
#define ATA_COUNT       0x1F2
#define ATA_LBA0        0x1F3
#define ATA_LBA1        0x1F4
#define ATA_LBA2        0x1F5
#define ATA_DRIVE       0x1F6   // 0xE0 | LBA bits 24-27: master, LBA mode
#define ATA_STATUS      0x1F7   // read: status; write: command
#define ATA_SR_BSY      0x80
#define ATA_SR_DRQ      0x08
#define ATA_SR_ERR      0x01
#define ATA_CMD_READ    0x20    // READ SECTORS (LBA28)

// Waits until the drive is not busy. Returns its status.
inline uint8_t ata_wait() {
    uint8_t status;
    while ((status = inb(ATA_STATUS)) & ATA_SR_BSY) {
    }
    return status;
}

// Reads `nsectors` (1..256) sectors starting at `sector` into `buf`.
// Returns 0, or -1 if the drive reported an error.
inline int ata_read(uint32_t sector, void* buf, unsigned nsectors) {
    ata_wait();
    outb(ATA_COUNT, nsectors & 0xFF);
    outb(ATA_LBA0, sector);
    outb(ATA_LBA1, sector >> 8);
    outb(ATA_LBA2, sector >> 16);
    outb(ATA_DRIVE, 0xE0 | ((sector >> 24) & 0x0F));
    outb(ATA_STATUS, ATA_CMD_READ);
    auto p = static_cast<uint8_t*>(buf);
    for (unsigned i = 0; i != nsectors; ++i, p += SECTORSIZE) {
        if ((ata_wait() & (ATA_SR_DRQ | ATA_SR_ERR)) != ATA_SR_DRQ) {
            return -1;
        }
        insl(ATA_DATA, p, SECTORSIZE / 4);
    }
    return 0;
}
#endif
