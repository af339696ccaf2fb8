// k-vmiter.hh: vmiter walks an x86-64 4-level page table for one virtual
// address at a time, so code asks "is va user-writable?" or "map va to pa"
// instead of doing index arithmetic by hand.
#ifndef WEENSYOS_K_VMITER_HH
#define WEENSYOS_K_VMITER_HH
#include "x86-64.h"

class vmiter {
  public:
    // Looks up `va` in page table `pt`.
    vmiter(x86_64_pagetable* pt, uintptr_t va = 0);

    uintptr_t va() const { return va_; }
    // Physical address that va() maps to, or UINTPTR_MAX if unmapped.
    uintptr_t pa() const;
    // Effective permissions: PTE_P, PTE_W and PTE_U hold only if every
    // level of the walk grants them, PTE_NX if any level sets it (that is
    // how the processor checks).
    uint64_t perm() const;
    bool present() const { return perm() & PTE_P; }
    bool writable() const { return (perm() & (PTE_P | PTE_W)) == (PTE_P | PTE_W); }
    bool user() const { return (perm() & (PTE_P | PTE_U)) == (PTE_P | PTE_U); }

    // Moves to another address.
    vmiter& find(uintptr_t va);
    // Moves to the start of the next page.
    vmiter& next_page() { return find((va_ | (PAGESIZE - 1)) + 1); }

    // Maps the page containing va() to physical page `pa` with permissions
    // `perm` (perm without PTE_P unmaps it), allocating missing page-table
    // pages with pagetable_alloc(). Returns 0, or -1 if out of page tables.
    int map(uintptr_t pa, uint64_t perm);

  private:
    x86_64_pagetable* pt_;
    x86_64_pageentry_t* pep_;   // entry where the walk stopped
    int level_;                 // its level: 0 = last-level page table
    uint64_t perm_;             // permissions granted above that entry
    uint64_t nx_;               // PTE_NX if an entry above it forbids execution
    uintptr_t va_;
};
#endif
