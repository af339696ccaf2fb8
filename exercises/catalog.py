"""catalog.py: the WeensyOS exercises, in the lectures' order.

Each exercise is one defense the lectures teach (or, for the last, one
attack). Its solution lives in the source between two comment lines,
`// Exercise N (title)` and `// End of exercise N`; the handout and the
lecture's "before" kernels replace it with the lecture's starting code
below and a TODO. The solutions themselves are never written here.
"""
from dataclasses import dataclass, field


@dataclass
class Exercise:
    number: int
    title: str
    file: str               # where its markers are
    attacks: list           # the attack programs that show it
    idea: str               # the lecture's idea, one line
    before: str             # what goes wrong without the defense
    todo: str               # what to do, for the TODO comment
    start: str = ''         # the lecture's starting code ('' for none)
    points: int = 10
    extra: dict = field(default_factory=dict)


EXERCISES = [
    Exercise(
        1, 'timer preemption', 'kernel.cc', ['eve-spin'],
        idea='the timer interrupt takes the CPU back from a process that never yields',
        before='Alice never runs again',
        todo='A timer interrupt from a process just hands the CPU back to that\n'
             'process, so Eve, who never yields, keeps it forever. Preempt her:\n'
             'give the CPU to the next runnable process (round robin).',
        start='run(current);           // back to the process the tick interrupted'),
    Exercise(
        2, 'processes at IOPL 0', 'kernel.cc', ['eve-cli'],
        idea='processes run without I/O privilege, so `cli` faults',
        before="Eve's `cli` turns the timer off; Alice starves",
        todo='Processes run with IOPL 3 (FL_IOPL_3) and keep whatever interrupt\n'
             'flag they set, so they may execute `cli`, `sti`, `in` and `out`: Eve\n'
             'turns interrupts off and the timer never fires again. Give processes\n'
             'IOPL 0, so that those instructions raise a general protection fault,\n'
             'and interrupts on (FL_IF) whenever they run.',
        start='regs.reg_rflags = (regs.reg_rflags & (FL_USER_MASK | FL_IF)) | FL_IOPL_3;'),
    Exercise(
        3, 'a fault kills only the process', 'kernel.cc', ['eve-div0'],
        idea="a fault whose saved %cs & 3 is 3 kills the process; one in the kernel panics",
        before='the kernel panics',
        todo='Every fault panics the whole machine, even one in a process. Use\n'
             "the saved %cs (regs->reg_cs & 3: 0 the kernel, 3 a process, or\n"
             'entered_from_process()) to kill only the faulting process\n'
             '(process_kill) and run another; a fault in the kernel still panics.',
        start='panic_at(regs, "unhandled %s", why);'),
    Exercise(
        4, 'kernel pages without PTE_U', 'kernel.cc', ['eve-kwrite', 'eve-kjump'],
        idea='kernel memory is not user-accessible: only the console page is',
        before="the kernel's code is overwritten; the next system call hangs the machine",
        todo='Every page is present, writable and user-accessible, kernel code\n'
             'included: Eve can overwrite the kernel or run its code. Return\n'
             'PTE_PWU only for the console page (CONSOLE_ADDR), read-only for kernel\n'
             'code and constants (kernel_text_start up to kernel_rodata_end), and\n'
             'present and writable, but not PTE_U, for everything else.',
        start='return PTE_PWU;                 // every page: anyone may read, write and run it'),
    Exercise(
        5, 'sys_getsysname checks its buffer', 'kernel.cc', ['eve-sysname'],
        idea='the kernel must not be a confused deputy: check every byte a process hands it',
        before='the kernel writes over its own code for her',
        todo='The kernel writes wherever the process asks. Return -1 unless the\n'
             'process itself could write every byte of the buffer: present,\n'
             "user-accessible and writable in its own page table (user_range_ok)."),
    Exercise(
        6, 'sys_page_alloc checks its address', 'kernel.cc', ['eve-pagealloc'],
        idea="a process may only map pages inside its own memory",
        before='the kernel hands her the page holding syscall_entry and the machine goes down',
        todo='The kernel maps and zeroes any page the process names, even the\n'
             "kernel's own. Return -1 unless addr is page-aligned, at or above\n"
             "PROC_START_ADDR and inside the caller's own slot\n"
             '(proc_slot_start(p->pid) up to proc_slot_end(p->pid)).'),
    Exercise(
        7, 'sys_panic kills only the caller', 'kernel.cc', ['eve-panic'],
        idea='no process may stop the machine',
        before='the machine stops',
        todo='sys_panic stops the whole machine. Kill only the calling process,\n'
             'with `why` as its reason, and run another.',
        start='panic("proc %d: %s", p->pid, why);'),
    Exercise(
        8, 'a page table per process', 'kernel.cc', ['eve-clobber'],
        idea='each process gets its own page table, user-accessible only on its own memory',
        before="Alice's memory is overwritten",
        todo='Every process runs on the kernel\'s page table, where every loaded\n'
             "process's pages are user-accessible: Eve can write Alice's memory.\n"
             'Give each process a page table of its own (proc_pagetable_create()\n'
             'copies the kernel\'s mappings, with no PTE_U but the console).',
        start='return kernel_pagetable;        // one page table, shared by everyone'),
    Exercise(
        9, "Eve steals Alice's secret", 'p-eve-steal.cc', ['eve-steal'],
        idea='the attacker\'s side: without per-process page tables, any process reads any other',
        before='(this exercise is an attack: it succeeds before exercise 8 and fails after)',
        todo="Write Eve's attack. Alice (pid 1, PROCS=\"alice:SECRET eve-steal\") keeps\n"
             'a secret number in her memory, right after the 8 bytes "SECRET!"\n'
             '(see p-alice.cc; obj/p-alice.sym gives its address). Find it and\n'
             "print it with console_printf(\"Eve: Alice's secret is %lu\\n\", secret).\n"
             'make grade checks that it works against the kernel before exercise 8\n'
             'and fails against your kernel once exercise 8 is done.'),
]

MARK_BEGIN = 'Exercise {n} ('
MARK_END = 'End of exercise {n}'


def by_number(n):
    return next(e for e in EXERCISES if e.number == n)


def for_attack(program):
    """The exercise whose attack `program` is, or None."""
    return next((e for e in EXERCISES if program in e.attacks), None)
