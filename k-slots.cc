// k-slots.cc: the lecture's memory layout, in one place. Before exercise
// 10, process k lives in slot k, mapped one to one (lib.hh draws it); before
// exercise 8, every process runs on the kernel's own page table. The
// starting code of those exercises calls these; no other mechanism file
// knows the slots.
#include "kernel.hh"

// A process's page is the physical page at its own virtual address. A page
// of the allocator's is claimed (0 if it is in use); any other is handed
// out as it is, zeroed: before exercise 6 a process may even be given a
// kernel page.
uintptr_t page_at_same_address(uintptr_t va, int for_pid) {
    if (va >= MEMSIZE_PHYSICAL || va % PAGESIZE != 0) {
        return 0;
    } else if (page_is_memory(va)) {
        return page_claim(va, for_pid) ? va : 0;
    }
    memset(pa2kva(va), 0, PAGESIZE);
    return va;
}

// Whose slot virtual address `va` is in (0 if none's): on the kernel's
// shared table, a user page belongs to the process whose slot maps it.
int slot_owner(uintptr_t va) {
    for (int pid = 1; pid <= SLOT_PROCS; ++pid) {
        if (va >= proc_slot_start(pid) && va < proc_slot_end(pid)) {
            return pid;
        }
    }
    return 0;
}
