"""Memory: the layout of the contract, and pages given back by dead processes."""
from weensy import test

SLOT = 0x40000


def slot_pages(mm, pid):
    base = 0x100000 + (pid - 1) * SLOT
    return [mm[a] for a in range(base, base + SLOT, 4096)]


@test("The memory map matches the layout: page 0 free, kernel from 0x40000, console at 0xB8000, each process only in its own slot")
def _(t):
    b = t.boot('alice eve', ticks=20)
    mm = b.memory_map()
    t.check(len(mm) == 512, f'memory map has {len(mm)} pages, expected 512 (2 MB)')
    t.check(mm[0] == '.', 'page 0 is not free')
    t.check(mm[0x40000] == 'K', 'no kernel page at 0x40000')
    t.check(mm[0xB8000] == 'C', 'the console page is not at 0xB8000')
    t.check(all(mm[a] in 'RC' for a in range(0xA0000, 0x100000, 4096)),
            'the hole between 640 KB and 1 MB is not all reserved')
    for pid in (1, 2):
        pages = slot_pages(mm, pid)
        t.check(pages[0] == str(pid), f'process {pid} has no code page at the start of its slot')
        t.check(pages[-1] == str(pid), f'process {pid} has no stack page at the top of its slot')
        t.check(set(pages) <= {str(pid), '.'}, f'slot {pid} shows pages of others: {"".join(pages)}')
    t.check(set(slot_pages(mm, 3) + slot_pages(mm, 4)) == {'.'}, 'empty slots 3 and 4 are not free')


@test("A process killed by a fault gives back its pages and page table: the memory map shows none of them")
def _(t):
    b = t.boot('alice eve-div0', ticks=40)
    t.proc(b, 2, 'eve-div0', 'broken')
    mm = b.memory_map()
    t.check(set(slot_pages(mm, 2)) == {'.'}, f'dead Eve still owns pages: {"".join(slot_pages(mm, 2))}')
    t.check('1' in slot_pages(mm, 1), 'Alice lost her pages')
