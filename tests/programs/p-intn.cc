// p-intn.cc: Eve executes `int $N`, N = her PROCS argument plus her life
// count, so PROCS="intn:0 intn:64 intn:128 intn:192" RESPAWN=63 tries all
// 256 vectors in one boot. If she could enter the kernel through any
// vector, she could make it believe a page fault (14), a timer tick (32)
// or any other event happened. Defense: every IDT gate has DPL 0 but the
// breakpoint (3), so `int $N` raises a general protection fault whose
// error code names vector N; `int $3` is a breakpoint. Either way the
// kernel kills her.
#include "u-eve.hh"

// 256 stubs, 8 bytes apart: stub N is `int $N` (2 bytes), then a jump to
// itself, which she would reach only if the kernel resumed her.
asm(".pushsection .text\n"
    ".balign 8\n"
    ".globl intn_stubs\n"
    "intn_stubs:\n"
    ".altmacro\n"
    ".macro INTN_STUB n\n"
    "    .balign 8\n"
    "    .byte 0xCD, \\n\n"       // int $n, encoded by hand: the assembler
    "    jmp .\n"                 // writes `int $3` as the one-byte int3
    ".endm\n"
    "vector = 0\n"
    ".rept 256\n"
    "    INTN_STUB %vector\n"
    "    vector = vector + 1\n"
    ".endr\n"
    ".noaltmacro\n"
    ".popsection");

extern "C" char intn_stubs[];

void process_main() {
    unsigned vector = (process_arg + process_life) % 256;
    eve_announce("int $%u\n", vector);
    auto stub = reinterpret_cast<void (*)()>(intn_stubs + 8 * vector);
    stub();
    console_printf(CS_RED "Eve: int $%u came back\n", vector);
    eve_count(0);
}
