# weensyos.gdb: GDB setup for `make run-gdb` (run-qemu adds the commands
# that connect to QEMU and load each process's symbols at its slot).
set confirm off
set pagination off
set disassembly-flavor att
set architecture i386:x86-64
file obj/kernel.full

# weensyos-start: from QEMU's first instruction (the BIOS) to the kernel's
# entry, with a hardware breakpoint (the boot loader overwrites memory, so
# a software breakpoint planted now would be lost).
define weensyos-start
    hbreak kernel_entry
    continue
    delete
end
document weensyos-start
Run from power-on to the kernel's first instruction (kernel_entry).
end
