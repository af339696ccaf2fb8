// p-remember.cc: looks for its previous life. In its first life it writes
// a marker everywhere it may write: from a variable of its own to the end
// of that data page (past the end of its data), over its stack page, and over a page from
// sys_page_alloc; then it dies (RESPAWN restarts it). In every later life
// it reads all of those places and reports any marker byte it finds: a
// restarted process must find only its program's bytes and zeros.
#include "u-lib.hh"

static const uint8_t MARK = 0xA5;
static uint8_t last_data;       // in the bss, near the end of the data

static uintptr_t page_after_data() {
    return (reinterpret_cast<uintptr_t>(&last_data) | (PAGESIZE - 1)) + 1;
}

void process_main() {
    uintptr_t tail = reinterpret_cast<uintptr_t>(&last_data);
    uintptr_t tail_end = page_after_data();
    uintptr_t stack_page = round_down(reinterpret_cast<uintptr_t>(&tail), PAGESIZE);
    uintptr_t extra = page_after_data() + 4 * PAGESIZE;
    uintptr_t here = round_down(reinterpret_cast<uintptr_t>(&tail), 16) - 256;
    if (process_life == 0) {
        memset(reinterpret_cast<void*>(tail), MARK, tail_end - tail);
        memset(reinterpret_cast<void*>(stack_page), MARK, here - stack_page);
        sys_page_alloc(reinterpret_cast<void*>(extra));
        memset(reinterpret_cast<void*>(extra), MARK, PAGESIZE);
        console_printf(CS_WHITE "remember: marked life 0\n");
        sys_panic("remember: see you in the next life");
    }
    size_t found = 0;
    for (uintptr_t a = tail; a != tail_end; ++a) {
        found += *reinterpret_cast<volatile uint8_t*>(a) == MARK;
    }
    for (uintptr_t a = stack_page; a != here; ++a) {
        found += *reinterpret_cast<volatile uint8_t*>(a) == MARK;
    }
    sys_page_alloc(reinterpret_cast<void*>(extra));
    for (uintptr_t a = extra; a != extra + PAGESIZE; ++a) {
        found += *reinterpret_cast<volatile uint8_t*>(a) == MARK;
    }
    console_printf(CS_WHITE "remember: life %lu found %lu bytes of an earlier life\n",
                   process_life, found);
}
