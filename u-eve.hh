// u-eve.hh: what every Eve program does before (or instead of) attacking:
// count like Alice, in Eve's colour, yielding after every iteration.
#ifndef WEENSYOS_U_EVE_HH
#define WEENSYOS_U_EVE_HH
#include "u-lib.hh"

// Counts `lines` lines of "Hi, I'm Eve! #N" (ITERATIONS_PER_LINE
// iterations each); 0 means forever.
inline void eve_count(unsigned lines) {
    for (unsigned i = 1; lines == 0 || i <= lines * ITERATIONS_PER_LINE; ++i) {
        if (i % ITERATIONS_PER_LINE == 0) {
            console_printf(CS_YELLOW "Hi, I'm Eve! #%u\n", i / ITERATIONS_PER_LINE);
        }
        sys_yield();
    }
}

// How long Eve behaves before her attack: long enough for Alice to be
// seen running beside her.
#define EVE_WARMUP_LINES 3

// Eve's PROCS argument (PROCS="eve-kwrite:ARG"), which `make grade` sets
// so that the attack it boots is not the handout's verbatim: its high 32
// bits are her warm-up in lines, its low 32 bits the address she attacks.
// 0 in either half means the usual: EVE_WARMUP_LINES, the program's own
// target.
inline unsigned eve_warmup_lines() {
    unsigned lines = process_arg >> 32;
    return lines != 0 ? lines : EVE_WARMUP_LINES;
}
inline uintptr_t eve_target(uintptr_t usual) {
    uintptr_t target = process_arg & 0xFFFFFFFFUL;
    return target != 0 ? target : usual;
}

// Prints what Eve is about to try, in red, on its own line.
#define eve_announce(...) console_printf(CS_RED "Eve: " __VA_ARGS__)
#endif
