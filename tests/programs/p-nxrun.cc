// p-nxrun.cc: writes code (`mov $61, %eax; ret`) where it may write and
// calls it: on its stack, in its data, in a page from sys_page_alloc, on
// the console. PROCS argument (or, with RESPAWN, the life) picks the place:
// 0 stack, 1 data, 2 allocated page, 3 console. With W^X every one is
// killed by an instruction fetch from that address (protection violation).
#include "u-lib.hh"

static uint8_t data_code[16];

void process_main() {
    static const uint8_t code[] = {0xB8, 0x3D, 0x00, 0x00, 0x00, 0xC3};
    uint8_t stack_code[16];
    uint8_t* where[] = {
        stack_code, data_code,
        reinterpret_cast<uint8_t*>(proc_slot_start(sys_getpid()) + 0x20000),
        reinterpret_cast<uint8_t*>(CONSOLE_ADDR + 0xFC0),
    };
    sys_page_alloc(where[2]);
    uint8_t* dst = where[(process_arg + process_life) % 4];
    memcpy(dst, code, sizeof(code));
    console_printf(CS_WHITE "nxrun: calling code at %p\n", dst);
    int r = reinterpret_cast<int (*)()>(dst)();
    console_printf(CS_WHITE "nxrun: it ran and returned %d\n", r);
}
