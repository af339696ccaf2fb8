// bootentry.S: the first instructions WeensyOS runs. The BIOS loads this
// 512-byte boot sector at 0x7C00 and jumps to it in 16-bit real mode; we
// switch straight to 64-bit long mode and call boot() in boot.cc, which
// loads the kernel.

#include "k-asm.h"              // hardware constants, from x86-64.h

#define BOOT_PML4   0x1000      // boot page tables: three pages that map
#define BOOT_PDPT   0x2000      // the first 2 MB one to one with a single
#define BOOT_PD     0x3000      // large page; the kernel replaces them

    .code16
    .globl boot_start
boot_start:
    cli                         // no BIOS interrupts from here on
    cld
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw $0x7C00, %sp           // the stack grows down below us

    // Enable the A20 line (the "fast A20" gate at port 0x92), so that
    // addresses with bit 20 set are not wrapped to bit 20 clear.
    inb $0x92, %al
    orb $2, %al
    outb %al, $0x92

    // Build the boot page tables.
    movw $BOOT_PML4, %di
    xorl %eax, %eax
    movw $(3 * 4096 / 4), %cx
    rep stosl
    movl $(BOOT_PDPT | PTE_P | PTE_W), BOOT_PML4
    movl $(BOOT_PD | PTE_P | PTE_W), BOOT_PDPT
    movl $(PTE_P | PTE_W | PTE_PS), BOOT_PD   // a 2 MB page at 0

    // Long mode needs PAE paging, EFER.LME, and then CR0.PG. Setting PG
    // and PE together takes real mode directly to long mode.
    movl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $BOOT_PML4, %eax
    movl %eax, %cr3
    movl $MSR_IA32_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    movl %cr0, %eax
    orl $(CR0_PE | CR0_PG), %eax
    movl %eax, %cr0
    lgdt boot_gdt_pointer
    ljmp $8, $boot_start64      // load the 64-bit code segment

    .code64
boot_start64:
    movw $16, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movq $0x7C00, %rsp
    call boot                   // boot.cc; never returns

    .p2align 3
boot_gdt:
    .quad 0                     // null
    .quad 0x00AF9A000000FFFF    // 0x08: 64-bit code, present, ring 0
    .quad 0x00CF92000000FFFF    // 0x10: data, writable, present, ring 0
boot_gdt_pointer:
    .word boot_gdt_pointer - boot_gdt - 1
    .long boot_gdt
