"""Memory: the lecture's layout of the contract (each process in its slot, on
the lecture's kernel: weensy.LECTURE_IMAGE), and pages given back by dead
processes. The problem set's layout: tests/test_pset.py."""
from weensy import (CONSOLE_ADDR, KERNEL_START_ADDR, SLOT_PROCS, MEMSIZE_PHYSICAL, PAGESIZE,
                    PROC_SLOT_SIZE, PROC_START_ADDR, slot_start, test)


def slot_pages(mm, pid):
    """The memory map's characters for the pages of process `pid`'s slot."""
    return [mm[a] for a in range(slot_start(pid), slot_start(pid) + PROC_SLOT_SIZE, PAGESIZE)]


@test("The memory map matches the layout: page 0 free, kernel from 0x40000, console at 0xB8000, each process only in its own slot")
def _(t):
    b = t.boot_lecture('alice eve', ticks=20)
    mm = b.memory_map()
    pages = MEMSIZE_PHYSICAL // PAGESIZE
    t.check(len(mm) == pages,
            f'memory map has {len(mm)} pages, expected {pages} (MEMSIZE_PHYSICAL)')
    t.check(mm[0] == '.', 'page 0 is not free')
    t.check(mm[KERNEL_START_ADDR] == 'K', f'no kernel page at 0x{KERNEL_START_ADDR:x}')
    t.check(mm[CONSOLE_ADDR] == 'C', f'the console page is not at 0x{CONSOLE_ADDR:x}')
    t.check(all(mm[a] in 'RC' for a in range(0xA0000, PROC_START_ADDR, PAGESIZE)),
            'the hole between 640 KB and 1 MB is not all reserved')
    for pid in (1, 2):
        pages = slot_pages(mm, pid)
        t.check(pages[0] == str(pid), f'process {pid} has no code page at the start of its slot')
        t.check(pages[-1] == str(pid), f'process {pid} has no stack page at the top of its slot')
        t.check(set(pages) <= {str(pid), '.'}, f'slot {pid} shows pages of others: {"".join(pages)}')
    empty = [p for pid in range(3, SLOT_PROCS + 1) for p in slot_pages(mm, pid)]
    t.check(set(empty) == {'.'}, 'the empty slots 3 and 4 are not free')


@test("A process killed by a fault gives back its pages and page table: the memory map shows none of them")
def _(t):
    b = t.boot_lecture('alice eve-div0', ticks=40)
    t.proc(b, 2, 'eve-div0', 'broken')
    mm = b.memory_map()
    t.check(set(slot_pages(mm, 2)) == {'.'}, f'dead Eve still owns pages: {"".join(slot_pages(mm, 2))}')
    t.check('1' in slot_pages(mm, 1), 'Alice lost her pages')
