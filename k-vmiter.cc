// k-vmiter.cc: the page-table walk behind vmiter.
#include "k-vmiter.hh"
#include "kernel.hh"

namespace {
// Bit position of the index for page-table `level` (3 = top, 0 = last).
constexpr int index_shift(int level) {
    return PAGEOFFBITS + PAGEINDEXBITS * level;
}
constexpr unsigned pt_index(uintptr_t va, int level) {
    return (va >> index_shift(level)) & ((1 << PAGEINDEXBITS) - 1);
}
const uint64_t walk_perm = PTE_P | PTE_W | PTE_U;
}

vmiter::vmiter(x86_64_pagetable* pt, uintptr_t va)
    : pt_(pt) {
    find(va);
}

vmiter& vmiter::find(uintptr_t va) {
    va_ = va;
    perm_ = walk_perm;
    nx_ = 0;
    level_ = 3;
    // Entries hold physical addresses: the kernel reads a table through
    // the direct map (pagetable_kva).
    x86_64_pagetable* pt = pt_;
    pep_ = &pagetable_kva(pt)->entry[pt_index(va, level_)];
    if (!is_canonical(va)) {
        perm_ = 0;
        return *this;
    }
    while (level_ > 0 && (*pep_ & PTE_P) && !(*pep_ & PTE_PS)) {
        perm_ &= *pep_;
        nx_ |= *pep_ & PTE_NX;
        pt = reinterpret_cast<x86_64_pagetable*>(*pep_ & PTE_PAMASK);
        --level_;
        pep_ = &pagetable_kva(pt)->entry[pt_index(va, level_)];
    }
    return *this;
}

uint64_t vmiter::perm() const {
    if (!(*pep_ & PTE_P)) {
        return 0;
    }
    // A large-page entry above level 0 maps memory only if it has PTE_PS.
    if (level_ > 0 && !(*pep_ & PTE_PS)) {
        return 0;
    }
    return (*pep_ & perm_ & walk_perm) | ((*pep_ | nx_) & PTE_NX);
}

uintptr_t vmiter::pa() const {
    if (!present()) {
        return UINTPTR_MAX;
    }
    uintptr_t offset_mask = (uintptr_t(1) << index_shift(level_)) - 1;
    return (*pep_ & PTE_PAMASK & ~offset_mask) | (va_ & offset_mask);
}

int vmiter::map(uintptr_t pa, uint64_t perm) {
    assert(is_canonical(va_));
    assert((pa & (PAGESIZE - 1)) == 0);
    while (level_ > 0) {
        // Intermediate entries grant everything; the last level decides.
        assert(!(*pep_ & PTE_PS));
        if (!(*pep_ & PTE_P)) {
            if (!(perm & PTE_P)) {
                return 0;       // unmapping what was never mapped
            }
            x86_64_pagetable* npt = pagetable_alloc();
            if (!npt) {
                return -1;
            }
            *pep_ = reinterpret_cast<uintptr_t>(npt) | walk_perm;
        }
        find(va_);
    }
    *pep_ = (perm & PTE_P) ? (pa | perm) : 0;
    // The table may be the one the processor is using (the kernel runs on
    // the process's), whose translation of va() it may have cached.
    invlpg(va_);
    return 0;
}
