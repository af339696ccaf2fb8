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

// Eve's PROCS argument (PROCS="eve-kwrite:ARG") is the address she
// attacks instead of her program's own target (0: the usual). `make grade`
// also varies her warm-up, in the argument's high 32 bits: when they are 1
// to EVE_WARMUP_MAX, they are her warm-up in lines and the low 32 bits the
// address. (Any other argument is an address as it is, non-canonical ones
// included.)
#define EVE_WARMUP_MAX 255
inline bool eve_arg_has_warmup() {
    uint64_t high = process_arg >> 32;
    return high >= 1 && high <= EVE_WARMUP_MAX;
}
inline unsigned eve_warmup_lines() {
    return eve_arg_has_warmup() ? process_arg >> 32 : EVE_WARMUP_LINES;
}
inline uintptr_t eve_target(uintptr_t usual) {
    uintptr_t target = eve_arg_has_warmup() ? process_arg & 0xFFFFFFFFUL : process_arg;
    return target != 0 ? target : usual;
}

// Prints what Eve is about to try, in red, on its own line.
#define eve_announce(...) console_printf(CS_RED "Eve: " __VA_ARGS__)
#endif
