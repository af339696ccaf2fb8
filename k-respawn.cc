// k-respawn.cc: restarts (RESPAWN) that cannot starve the other processes.
// A process killed again soon after it started waits before its next
// life, not runnable: 1 tick, then 2, 4, ... up to half a second, so that
// one that dies at once in every life costs the others a reload now and
// then instead of a turn at every switch. A life that lasts a second
// starts the count over. Its first few kills and restarts are logged line
// by line, the later ones counted, a line a second at most, so that the
// log stays readable at RESPAWN=1000000.
#include "kernel.hh"

// The longest wait, and the life that counts as lasting, in ticks.
static uint64_t delay_max() {
    return max(1U, bootopt.hz / 2);
}
static uint64_t lasting() {
    return bootopt.hz;
}

// At a kill that leaves `p` restarts: how many ticks it waits before its
// next life (0: none). Each quick death doubles the next wait.
uint64_t respawn_delay(proc* p) {
    respawn_state& r = p->respawn;
    if (ticks - r.life_start >= lasting()) {
        r.delay = 0;
    }
    uint64_t delay = r.delay;
    r.delay = delay == 0 ? 1 : min(2 * delay, delay_max());
    return delay;
}

// Whether this kill of `p` is logged line by line: those of its first
// RESPAWN_LOGGED lives, and the last one (no restart left). The others are
// counted, and the count logged when a second has passed since the last.
bool respawn_log_each(proc* p) {
    if (p->lives <= RESPAWN_LOGGED || p->lives > bootopt.respawn) {
        return true;
    }
    respawn_state& r = p->respawn;
    ++r.unlogged;
    if (ticks - r.counted_at >= bootopt.hz) {
        log_printf("proc %d: %s killed %lu more times since tick %lu, restarting (life %lu): %s\n",
                   p->pid, p->name, r.unlogged, r.counted_at, p->lives, p->reason);
        r.unlogged = 0;
        r.counted_at = ticks;
    }
    return false;
}

// `p` starts a life (its first, or a restart).
void respawn_started(proc* p) {
    p->respawn.life_start = ticks;
    p->respawn.due = 0;
}
