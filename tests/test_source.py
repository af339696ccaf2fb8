"""The source tree as a reader meets it: kernel.cc holds the lecture's
policy and nothing else, every call that does not return says so, PTSWITCH
is one mechanism, the QEMU quirks' hooks are where k-quirks.cc says, and
the README's files and keys tables match the tree. No QEMU: these read
files."""
import fnmatch
import os
import re
import subprocess
import sys
import tempfile

import weensy
from weensy import ROOT, read, test

# Words the handout's kernel.cc must not contain: the machinery that lives
# in rooms of its own (issue: kernel.cc as the lecture's story).
MACHINERY_WORDS = ('ptswitch', 'vm86', 'nmi', 'summary', 'maybe_unused', 'noinline', 'cpu_work',
                   'quirk')
# (The lecture's nine exercises and the problem set's seven: their TODOs
# and starting code are most of what the problem set adds.)
HANDOUT_KERNEL_MAX_LINES = 550


def handout_kernel():
    """kernel.cc as the handout has it: every exercise's starting code (the
    before-1 kernel), written by the same tool the handout uses."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'kernel.cc')
        subprocess.run([sys.executable, os.path.join(ROOT, 'exercises', 'catalog.py'), 'before', '1',
                        os.path.join(ROOT, 'kernel.cc'), out], check=True)
        with open(out) as f:
            return f.read()


@test("The handout's kernel.cc is at most 550 lines and mentions none of PTSWITCH, vm86, NMIs, "
      "the summary, QUIRK tags, CPU-time charging, noinline or maybe_unused: that "
      "machinery lives in rooms of its own")
def _(t):
    text = handout_kernel()
    lines = text.splitlines()
    t.check(len(lines) <= HANDOUT_KERNEL_MAX_LINES,
            f"the handout's kernel.cc has {len(lines)} lines (at most {HANDOUT_KERNEL_MAX_LINES})")
    for word in MACHINERY_WORDS:
        hits = [f'{i}: {l.strip()}' for i, l in enumerate(lines, 1) if word in l.lower()]
        t.check(not hits, f"the handout's kernel.cc mentions {word!r}:\n" + '\n'.join(hits))


# Calls that never return, as kernel.hh declares them [[noreturn]], and the
# kernel.cc helpers that end in one.
NORETURN_CALL = re.compile(r'^\s*(?:schedule|run|finish|return_to_process|processes_restart'
                           r'|screen_restart|syscall_panic|syscall_exit|panic|panic_at)\(')


@test("Every call in kernel.cc that does not return says so on its line (// does not return), "
      "so no switch case seems to fall through")
def _(t):
    for name in ('kernel.cc', 'k-keys.cc', 'k-cpu.cc', 'k-summary.cc'):
        unmarked = [f'{name}:{i}: {l.strip()}' for i, l in enumerate(read(name).splitlines(), 1)
                    if NORETURN_CALL.match(l) and 'does not return' not in l
                    and not l.rstrip().endswith('{')]
        # A panic names itself: panic(...) and panic_at(...) need no comment.
        unmarked = [u for u in unmarked if not re.search(r'\bpanic(_at)?\(', u)]
        t.check(not unmarked, 'calls that do not return, unmarked:\n' + '\n'.join(unmarked))


@test("The system call switch has no case that falls through: each ends in return or a call "
      "marked // does not return")
def _(t):
    body = read('kernel.cc').split('uint64_t syscall(regstate* regs) {', 1)[1]
    body = body[:body.index('\n}\n')]
    cases = re.split(r'\n\s*(?:case [A-Z_]+|default):', body)[1:]
    t.check(len(cases) >= 6, f'found {len(cases)} cases in syscall()')
    for c in cases:
        last = [l for l in c.strip().splitlines() if l.strip() not in ('', '}')][-1]
        t.check(last.strip().startswith('return') or 'does not return' in last,
                f'a system call case may fall through: {last.strip()!r}')


@test("PTSWITCH is one mechanism: k-exception.S's two macros on every entry and exit, one flag "
      "declared in kernel.hh and set with the boot options; kernel.cc and run() never test it")
def _(t):
    asm = read('k-exception.S')
    t.check('syscall_entry_ptswitch' not in asm, 'a second system-call entry for PTSWITCH is back')
    for macro in ('PTSWITCH_TO_KERNEL', 'PTSWITCH_TO_PROCESS'):
        uses = len(re.findall(rf'^\s*{macro}\s*$', asm, re.M))
        t.check(uses == 2, f'{macro} is used {uses} times in k-exception.S (the syscall entry and '
                'the exception entry, or the two exits)')
    files = [f for f in os.listdir(ROOT) if re.match(r'k-.*\.(cc|hh|S)$|kernel\.(cc|hh)$', f)]
    users = sorted(f for f in files if re.search(r'\bptswitch\b', read(f)))
    t.check(users == ['k-exception.S', 'k-hardware.cc', 'kernel.hh'],
            f'the ptswitch flag is used in {users}, expected k-exception.S, k-hardware.cc, kernel.hh')


@test("k-quirks.cc's list of hooks names, for each file, a line that holds that hook under "
      "its QUIRK tag, and every QUIRK tag in the tree is on that list")
def _(t):
    header = read('k-quirks.cc').split('#include', 1)[0]
    hooks = re.findall(r'^//\s+(\S+\.(?:cc|hh|S))\s+`([^`]+)`.*\(([a-z0-9-]+)\)$', header, re.M)
    t.check(len(hooks) >= 5, f'k-quirks.cc lists {len(hooks)} hooks')
    for path, name, tag in hooks:
        lines = read(path).splitlines()
        t.check(any(name in lines[i] and lines[i - 1].strip() == f'// QUIRK: {tag}'
                    for i in range(1, len(lines))),
                f'k-quirks.cc says {path} holds `{name}` under "// QUIRK: {tag}", but no line '
                f'with `{name}` there follows that tag')
    files = [f for f in os.listdir(ROOT) if re.match(r'(k-.*|kernel)\.(cc|hh|S)$', f)]
    tags = sorted((f, m) for f in files for m in re.findall(r'QUIRK: ([a-z0-9-]+)$', read(f), re.M))
    t.check(tags == sorted((path, tag) for path, _, tag in hooks),
            f'the QUIRK tags in the tree {tags} are not k-quirks.cc\'s list {hooks}')


def files_table():
    """The names in the README's Files table, split at ', '."""
    section = read('README.md').split('\n## Files\n', 1)[1].split('\n## ', 1)[0]
    names = []
    for row in re.findall(r'^\| (`[^|]*`) \|', section, re.M):
        names += re.findall(r'`([^`]+)`', row)
    return names


def tracked_files():
    out = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.split() if out.returncode == 0 else None


@test("The README's files table matches the tree: every file it names exists, and every file "
      "at the root and every folder is in it")
def _(t):
    names = files_table()
    files = tracked_files()
    if files is None:   # not a git checkout (a copy): list the tree instead
        files = [os.path.relpath(os.path.join(d, f), ROOT) for d, _, fs in os.walk(ROOT)
                 for f in fs if '/obj' not in d and '.git' not in d]
    for name in names:
        found = any(fnmatch.fnmatch(f, name) or f.startswith(name.rstrip('/') + '/') for f in files)
        t.check(found, f'the README names {name}, which is not in the tree')
    ignored = {'README.md', 'Makefile', '.gitignore'}
    for f in files:
        top = f.split('/')[0] + ('/' if '/' in f else '')
        if f in ignored or top in ('.ci/',):
            continue
        covered = any(fnmatch.fnmatch(f, n) or fnmatch.fnmatch(top, n) or f.startswith(n.rstrip('/') + '/')
                      for n in names)
        t.check(covered, f'{f} is in the tree but not in the README\'s files table')


def key_table():
    """(keys, help) of every command in k-keys.cc's table."""
    text = read('k-keys.cc')
    table = text.split('static const key_command commands[] = {', 1)[1].split('};', 1)[0]
    return re.findall(r"\{\s*('.'|KEY_CONTROL_C),\s*([^,]+),\s*(\"[^\"]*\"|nullptr),", table)


@test("The README's keys table lists exactly the keys of k-keys.cc's table")
def _(t):
    rows = read('README.md').split('Keys in the OS screen:', 1)[1].split('\n\n', 2)[1]
    readme_keys = set()
    for row in rows.splitlines()[2:]:
        cell = re.sub(r'`(.)`-`(.)`', r'`\1-\2`', row.split('|')[1])
        readme_keys.update(re.findall(r'`([^`]+)`', cell))
        if 'Control-C' in cell:
            readme_keys.add('Control-C')
    sets = os.path.join(ROOT, 'obj', 'lecture-sets.h')
    t.check(os.path.exists(sets), 'obj/lecture-sets.h is missing: run make first')
    nsets = read(sets).count('"') // 2
    kernel_keys = set()
    for first, last, _ in key_table():
        if first == 'KEY_CONTROL_C':
            kernel_keys.add('Control-C')
        elif last.strip() == first:
            kernel_keys.add(first.strip("'"))
        else:       # the program-set range, up to the last set the catalog makes
            kernel_keys.add(f"{first.strip(chr(39))}-{nsets - 1}")
    t.check(readme_keys == kernel_keys, f'README keys {sorted(readme_keys)}, '
            f'kernel keys {sorted(kernel_keys)}')


@test("Every file a handout holds is needed: named by the GNUmakefile, by another file it "
      "holds (an #include, an import, a mention), or by its README's file table (a pattern "
      "there counts); and neither the handout-making tool nor batch grading is among them")
def _(t):
    sys.path.insert(0, os.path.join(ROOT, 'exercises'))
    import tool
    files = [f for f in tool.tracked_files(ROOT) if not f.startswith(tool.HANDOUT_OMITS)
             and os.path.isfile(os.path.join(ROOT, f))]
    t.check('exercises/tool.py' not in files and 'exercises/batch.py' not in files,
            'a handout would hold the instructors\' tools')
    readme = read('exercises/handout-README.md')
    texts = {f: read(f) for f in files if f != 'exercises/handout-README.md'}
    texts['README.md'] = readme
    patterns = re.findall(r'`([\w.*/-]+)`', readme)

    def named(f):
        base, stem = os.path.basename(f), os.path.splitext(os.path.basename(f))[0]
        if f == 'exercises/handout-README.md':
            return True             # it becomes the handout's README.md
        if any('*' in p and fnmatch.fnmatch(f, p) for p in patterns):
            return True
        if re.fullmatch(r'p-[\w-]+\.cc', f) and any(
                re.search(rf'(?<![\w-]){stem[2:]}(?![\w-])', texts[g])
                for g in ('README.md', 'exercises/catalog.txt', 'exercises/grade.py',
                          'exercises/grade_pset.py')):
            return True             # a program the README, the catalog or a grader boots
        for g, text in texts.items():
            if g != f and (base in text or (g == 'GNUmakefile' and re.search(rf'\b{stem}\.o\b', text))
                           or (f.endswith('.py') and g.endswith('.py')
                               and re.search(rf'^\s*(?:import|from) {stem}\b', text, re.M))):
                return True
        return False
    unneeded = [f for f in files if not named(f)]
    t.check(not unneeded, f'the handout would hold files nothing names: {unneeded}')


@test("Every rewrite the catalog makes for a handout (handout-says, [handout]) matches its "
      "file's text exactly once, so make handout cannot stop on one")
def _(t):
    sys.path.insert(0, os.path.join(ROOT, 'exercises'))
    import catalog
    pairs = [(e.file, old) for e in catalog.EXERCISES for old, _ in e.rewrites()]
    pairs += [(f, old) for f, old, _ in catalog.HANDOUT_SAYS]
    t.check(len(pairs) >= 5, f'the catalog has {len(pairs)} rewrites')
    for f, old in pairs:
        n = read(f).count(old)
        t.check(n == 1, f'the catalog rewrites in {f} a text that occurs {n} times there: {old!r}')
