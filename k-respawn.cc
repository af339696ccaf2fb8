// k-respawn.cc: restarts (RESPAWN) that cannot starve the other processes.
// A process killed again soon after it started waits before its next
// life, not runnable: 1 tick, then 2, 4, ... up to half a second, so that
// one that dies at once in every life costs the others a reload now and
// then instead of a turn at every switch. A life that lasts a second
// starts the count over. The kills and restarts of its first
// RESPAWN_LOGGED lives are logged line by line, the later ones counted, a
// line a second at most, so that the log stays readable at
// RESPAWN=1000000.
#include "kernel.hh"

int respawns_waiting;

// The longest wait, and the life that counts as lasting, in ticks.
static uint64_t delay_max() {
    return max(1U, bootopt.hz / 2);
}
static uint64_t lasting() {
    return bootopt.hz;
}

// Whether this kill of `p` is logged line by line: those of its first
// RESPAWN_LOGGED lives, and the last one (no restart left). The others are
// counted, and the count logged when a second has passed since the last.
static bool log_each(proc* p) {
    respawn_state& r = p->respawn;
    if (p->lives <= RESPAWN_LOGGED || p->lives > bootopt.respawn) {
        r.counted_at = ticks;   // later kills are counted from here
        return true;
    }
    ++r.unlogged;
    if (ticks - r.counted_at >= bootopt.hz) {
        log_printf("proc %d: %s killed %lu more times since tick %lu, restarting (life %lu): %s\n",
                   p->pid, p->name, r.unlogged, r.counted_at, p->lives, p->reason);
        r.unlogged = 0;
        r.counted_at = ticks;
    }
    return false;
}

// Starts the next life of killed boot process `p`, in its own slot (fork
// never takes a slot that waits: respawn_pending). A restart that cannot
// load leaves it broken, with the reason: it loaded before, so only
// memory that others hold can stop it, and it tries again after the
// longest wait, its slot still its own.
static void respawn(proc* p) {
    respawn_state& r = p->respawn;
    if (p->parent != 0 || p->pagetable || p->state == P_RUNNABLE) {
        panic("respawn: slot %d holds %s (%s, parent %d), not a killed boot process", p->pid,
              p->name, proc_state_name(p->state), p->parent);
    }
    if (process_load(p)) {
        if (p->lives <= RESPAWN_LOGGED + 1 || r.retrying) {
            log_printf("proc %d: %s restarted (life %lu)\n", p->pid, p->name, p->lives - 1);
        }
        r.retrying = false;
        return;
    }
    if (!r.retrying) {
        log_printf("proc %d: %s could not restart: %s; trying again every %lu ticks\n", p->pid,
                   p->name, p->reason, delay_max());
    }
    r.retrying = true;
    r.due = ticks + delay_max();
    ++respawns_waiting;
}

// At a kill that leaves `p` restarts: the first restart after a life that
// lasted comes at once; each quick death after it doubles the wait.
static void respawn_after_kill(proc* p) {
    respawn_state& r = p->respawn;
    if (ticks - r.life_start >= lasting()) {
        r.delay = 0;
    }
    uint64_t delay = r.delay;
    r.delay = delay == 0 ? 1 : min(2 * delay, delay_max());
    if (delay == 0) {
        respawn(p);
    } else {
        r.due = ticks + delay;  // broken, so not runnable, until then
        ++respawns_waiting;
    }
}

// Restarts the killed processes whose wait is over, charging each its
// reload. The clock calls this at every tick while any waits (k-cpu.cc).
void respawn_due() {
    for (int pid = 1; pid != NPROC && respawns_waiting != 0; ++pid) {
        proc* p = &ptable[pid];
        if (p->respawn.due != 0 && p->respawn.due <= ticks) {
            --respawns_waiting;
            p->respawn.due = 0;
            uint64_t since = cpu_work_begin();
            respawn(p);         // may wait again, if it cannot load
            cpu_work_charge(p, since);
        }
    }
}

// The kill of `p`, whose memory is already back: its reason, kept
// printable (it may quote a process's message, whose newlines or quotes
// would forge log and summary lines), the log, and its restart. Killing
// and restarting it is work for it, charged to its CPU time.
void process_killed(proc* p, const char* reason) {
    uint64_t since = cpu_work_begin();
    size_t i = 0;
    for (; reason[i] && i != sizeof(p->reason) - 1; ++i) {
        bool plain = reason[i] >= ' ' && reason[i] < 0x7F && reason[i] != '"';
        p->reason[i] = plain ? reason[i] : '?';
    }
    p->reason[i] = '\0';
    if (log_each(p)) {
        log_printf("proc %d killed: %s\n", p->pid, p->reason);
        console_printf(CS_RED "proc %d killed: %s\n", p->pid, p->reason);
    }
    if (p->parent == 0 && p->lives <= bootopt.respawn) {
        respawn_after_kill(p);  // at once, or after a wait
    }
    cpu_work_charge(p, since);
    memory_audit_at("kill", p);         // AUDIT=1
}

// Every process ends and gives back its memory, its slot starts over from
// zero (counters, lives), and the new set is loaded as pids 1, 2, ...
// Called from a tick's work (a key, k-keys.cc), at a timer interrupt or a
// switch, where every process's registers are saved: a process that was in
// a system call (sys_yield, say) is simply never resumed.
void processes_restart(const char* procs) {
    cpu_release();
    for (int pid = 1; pid != NPROC; ++pid) {
        proc* p = &ptable[pid];
        if (p->pagetable) {
            user_pages_free(p->pagetable, user_memory_start(p), user_memory_end(p));
            proc_pagetable_free(p->pagetable);
        }
        memset(p, 0, sizeof(*p));
    }
    respawns_waiting = 0;
    current = nullptr;
    log_printf("restart at tick %lu: PROCS=\"%s\"\n", ticks, procs);
    processes_start(procs);
    schedule();                 // does not return
}

// `p` starts a life (its first, or a restart).
void respawn_started(proc* p) {
    p->respawn.life_start = ticks;
}

bool respawn_pending(const proc* p) {
    return p->respawn.due != 0;
}
