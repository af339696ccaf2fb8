// elf.h: the parts of the ELF-64 format (System V ABI) that the boot loader
// and the program loader read.
#ifndef WEENSYOS_ELF_H
#define WEENSYOS_ELF_H
#include "types.h"

#define ELF_MAGIC 0x464C457FU   // "\x7FELF" read as a little-endian word

struct elf_header {
    uint32_t e_magic;
    uint8_t e_elf[12];
    uint16_t e_type;
    uint16_t e_machine;
    uint32_t e_version;
    uint64_t e_entry;
    uint64_t e_phoff;
    uint64_t e_shoff;
    uint32_t e_flags;
    uint16_t e_ehsize;
    uint16_t e_phentsize;
    uint16_t e_phnum;
    uint16_t e_shentsize;
    uint16_t e_shnum;
    uint16_t e_shstrndx;
};
#define ET_EXEC     2
#define ET_DYN      3           // shared object (some PIE linkers)
#define EM_X86_64   62

struct elf_program {
    uint32_t p_type;
    uint32_t p_flags;
    uint64_t p_offset;
    uint64_t p_va;
    uint64_t p_pa;
    uint64_t p_filesz;
    uint64_t p_memsz;
    uint64_t p_align;
};
#define ELF_PTYPE_LOAD      1
#define ELF_PTYPE_DYNAMIC   2
#define ELF_PFLAG_EXEC      1
#define ELF_PFLAG_WRITE     2
#define ELF_PFLAG_READ      4

struct elf_dyn {
    int64_t d_tag;
    uint64_t d_val;
};
#define DT_NULL     0
#define DT_RELA     7
#define DT_RELASZ   8
#define DT_RELAENT  9

struct elf_rela {
    uint64_t r_offset;
    uint64_t r_info;
    int64_t r_addend;
};
#define R_X86_64_NONE       0
#define R_X86_64_RELATIVE   8
#endif
