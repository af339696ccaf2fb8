#!/usr/bin/env python3
"""tool.py: the instructors' tool (never in a handout): makes the student
handout and Gradescope's autograder zip from the finished kernel, so that
neither can drift from the solutions. (The lecture's "before" kernels are
catalog.py's, which handouts keep.)

    python3 exercises/tool.py handout DIR [LIST] the student tree, in DIR (new,
                                                 empty, or a handout repository
                                                 to update), handing out
                                                 exercises LIST ("1-3,5";
                                                 default: all, or the set of
                                                 the handout updated)
    python3 exercises/tool.py autograder OUT [LIST]  Gradescope's autograder
                                                 zip: the handout of LIST,
                                                 setup.sh, run_autograder
"""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
# (GIVEN, regions and replace are here for the tests too.)
from catalog import (EXERCISES, GIVEN, HANDOUT_SAYS, ToolError, by_number,  # noqa: E402,F401
                     describe_numbers, parse_numbers, regions, replace, student_file)
from summary import Options  # noqa: E402

# Written into every handout; its presence says "this tree is a handout".
HANDOUT_STAMP = 'exercises/handout.txt'
# What a handout leaves out of the full tree: the test suite and its
# hostile programs (which test the solutions), CI, the instructors' README
# (the handout gets its own), and the instructors' tools: this one and batch
# grading (the autograder zip adds them back: AUTOGRADER_TOOLS).
HANDOUT_OMITS = ('tests/', '.ci/', '.github/', 'README.md', 'exercises/tool.py',
                 'exercises/batch.py')
# What a handout adds: its README (from handout-README.md) and GitHub
# Classroom's autograding workflow (classroom_workflow()).
CLASSROOM_WORKFLOW = '.github/workflows/classroom.yml'


def rewrite(text, path, numbers):
    """`text` (the file `path`) with the comments that describe solutions
    of exercises `numbers` said as the handout needs them (the catalog's
    handout-says), and the handout-wide ones. Each must match once."""
    pairs = [(f, o, n) for f, o, n in HANDOUT_SAYS if f == path]
    pairs += [(by_number(x).file, o, n) for x in numbers for o, n in by_number(x).rewrites()]
    for f, old, new in pairs:
        if f != path:
            continue
        if text.count(old) != 1:
            raise ToolError(f'{path}: the catalog rewrites "{old}", which occurs '
                            f'{text.count(old)} times there, not once')
        text = text.replace(old, new)
    return text


CATALOG_FILE = 'exercises/catalog.txt'


def catalog_for_handout(text):
    """The catalog without what only makes handouts (the [handout] block,
    handout-says), whose old texts name what the handout lacks."""
    out, block, skipping = [], '', False
    for line in text.split('\n'):
        if line.startswith('['):
            block = line
        if line.startswith('[') or (line and not line.startswith(('    ', '#'))):
            skipping = block == '[handout]' or line.startswith('handout-says:')
        if not skipping:
            out.append(line)
    return '\n'.join(out)


def handout_text(text, path, numbers):
    """File `path` as the handout of exercises `numbers` holds it."""
    if path == CATALOG_FILE:
        return catalog_for_handout(text)
    given = {e.number for e in EXERCISES if e.number not in numbers}
    return rewrite(replace(text, path, numbers, given), path, numbers)


def solution_lines(root, numbers=None):
    """Every solution line (of exercises `numbers`, default all) in the tree
    at `root` that a handout must not contain: lines of solutions that
    appear nowhere else in the tree."""
    inside, outside = set(), set()
    ex_files = {e.file for e in EXERCISES}
    for f in tracked_files(root):
        try:
            with open(os.path.join(root, f)) as src:
                lines = src.read().split('\n')
        except (OSError, UnicodeDecodeError):
            continue
        in_span = set()
        if f in ex_files:
            for n, (first, last) in regions('\n'.join(lines), f).items():
                if numbers is None or n in numbers:
                    in_span.update(range(first + 1, last))
        for i, line in enumerate(lines):
            key = line.strip()
            if key and not key.startswith('//'):
                (inside if i in in_span else outside).add(key)
    return inside - outside


def tracked_files(root):
    """The files of the tree at `root`: git's list where there is one."""
    try:
        out = subprocess.run(['git', 'ls-files', '-z'], cwd=root, check=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
        return [f for f in out.decode().split('\0') if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, names in os.walk(root):
            dirs[:] = [x for x in dirs if x not in ('.git', 'obj', '__pycache__')]
            files += [os.path.relpath(os.path.join(d, n), root) for n in names]
        return files


def handout(dest, numbers=None):
    """Writes the handout of exercises `numbers` into `dest`: a new or
    empty folder (a git repository with one commit), or a handout
    repository made before, to which the new handout is one more commit
    that its students can pull and merge."""
    if os.path.exists(os.path.join(ROOT, HANDOUT_STAMP)):
        raise ToolError('this tree is itself a handout: make the handout from the full tree')
    update = handout_repository(dest)
    if update:
        status = git(dest, 'status', '--porcelain', '--untracked-files=no')
        if status.strip():
            raise ToolError(f'{dest} is a handout repository with uncommitted changes: '
                            'commit or discard them first (git -C DIR status)')
        numbers = numbers or stamped_numbers(dest)
        for f in git(dest, 'ls-files', '-z').split('\0'):
            if f and os.path.lexists(os.path.join(dest, f)):
                os.remove(os.path.join(dest, f))
    elif os.path.exists(dest) and (not os.path.isdir(dest) or os.listdir(dest)):
        raise ToolError(f'{dest} exists and is not an empty folder, nor a handout repository: '
                        'choose a new path (make handout DIR=path)')
    numbers = numbers or [e.number for e in EXERCISES]
    write_handout(dest, numbers)
    try:
        check_no_solution(dest, numbers)
    except ToolError:
        if update:
            git(dest, 'reset', '-q', '--hard')
        else:
            shutil.rmtree(dest)
        raise
    return commit(dest, update)


def check_no_solution(dest, numbers):
    leaked = [line for line in solution_lines(ROOT, numbers) if handout_contains(dest, line)]
    if leaked:
        raise ToolError('solution text would leak into the handout: ' + '; '.join(leaked[:3]))


# Gradescope runs these two from the autograder zip (the handout's tree
# beside them): setup.sh once, on its Ubuntu 22.04 image, as root;
# run_autograder for every submission, which it puts in ROOT/submission.
SETUP_SH = """#!/usr/bin/env bash
# Gradescope's setup.sh (written by make autograder): installs what grading
# needs, and nothing else, on the autograder image.
set -euo pipefail
cd "${AUTOGRADER_ROOT:-/autograder}/source"
./setup --grade
"""
RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope's run_autograder (written by make autograder): grades the
# upload in $ROOT/submission with the course's graders and programs (the
# handout in $ROOT/source), into $ROOT/results/results.json. ROOT is
# /autograder, or AUTOGRADER_ROOT when set (a local run).
root=${AUTOGRADER_ROOT:-/autograder}
cd "$root/source" || exit 1
python3 exercises/batch.py --autograder "$root"
status=$?
# Even a grader that could not start leaves a results.json behind.
if [ $status != 0 ] && [ ! -s "$root/results/results.json" ]; then
    mkdir -p "$root/results"
    printf '{"score": 0, "output_format": "text", "output": "The autograder itself failed (exit status %s): your kernel is not at fault; tell your course staff."}\n' \
        "$status" > "$root/results/results.json"
fi
"""
# What the zip's grading needs that a handout may leave out.
AUTOGRADER_TOOLS = ('exercises/batch.py', 'exercises/tool.py', 'exercises/catalog.py',
                    'exercises/summary.py', 'exercises/grade.py')


def autograder(out, numbers=None):
    """Writes Gradescope's autograder zip `out`: the handout of exercises
    `numbers` (the course's graders and programs, the solutions replaced
    by starting code), setup.sh and run_autograder."""
    numbers = numbers or [e.number for e in EXERCISES]
    tree = tempfile.mkdtemp(prefix='weensy-autograder-')
    try:
        write_handout(tree, numbers)
        for f in AUTOGRADER_TOOLS:
            if not os.path.exists(os.path.join(tree, f)):
                shutil.copy2(os.path.join(ROOT, f), os.path.join(tree, f))
        for name, text in (('setup.sh', SETUP_SH), ('run_autograder', RUN_AUTOGRADER)):
            with open(os.path.join(tree, name), 'w') as f:
                f.write(text)
            os.chmod(os.path.join(tree, name), 0o755)
        check_no_solution(tree, numbers)
        with zipfile.ZipFile(out + '.tmp', 'w', zipfile.ZIP_DEFLATED) as z:
            for d, dirs, names in os.walk(tree):
                dirs.sort()
                for n in sorted(names):
                    z.write(os.path.join(d, n), os.path.relpath(os.path.join(d, n), tree))
        os.replace(out + '.tmp', out)
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def write_handout(dest, numbers):
    ex_files = {e.file for e in EXERCISES} | {f for f, _, _ in HANDOUT_SAYS}
    os.makedirs(dest, exist_ok=True)
    for f in tracked_files(ROOT):
        if f.startswith(HANDOUT_OMITS) or not os.path.isfile(os.path.join(ROOT, f)):
            continue
        target = os.path.join(dest, f)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if f in ex_files or f == CATALOG_FILE:
            with open(os.path.join(ROOT, f)) as src:
                text = handout_text(src.read(), f, numbers)
            with open(target, 'w') as out:
                out.write(text)
            shutil.copymode(os.path.join(ROOT, f), target)
        else:
            shutil.copy2(os.path.join(ROOT, f), target)
    with open(os.path.join(dest, 'README.md'), 'w') as out:
        out.write(handout_readme(numbers))
    with open(os.path.join(dest, HANDOUT_STAMP), 'w') as out:
        out.write('This tree is a WeensyOS student handout, made by `make handout`.\n'
                  'The exercises below start from the lecture\'s starting code, the others\n'
                  'come solved; `make grade` grades these (see README.md).\n'
                  f'exercises: {describe_numbers(numbers)}\n')
    # Last: it holds the checksums of the files above.
    os.makedirs(os.path.dirname(os.path.join(dest, CLASSROOM_WORKFLOW)), exist_ok=True)
    with open(os.path.join(dest, CLASSROOM_WORKFLOW), 'w') as out:
        out.write(classroom_workflow(dest, numbers))


def handout_repository(dest):
    return os.path.isfile(os.path.join(dest, HANDOUT_STAMP)) \
        and os.path.exists(os.path.join(dest, '.git'))


def stamped_numbers(dest):
    with open(os.path.join(dest, HANDOUT_STAMP)) as f:
        m = re.search(r'^exercises: (.*)$', f.read(), re.M)
    return parse_numbers(m.group(1)) if m else None


def handout_contains(dest, line):
    for d, dirs, names in os.walk(dest):
        dirs[:] = [x for x in dirs if x not in ('.git', 'obj')]
        for n in names:
            try:
                with open(os.path.join(d, n), errors='replace') as f:
                    if any(l.strip() == line for l in f):
                        return True
            except OSError:
                pass
    return False


GIT_AS_HANDOUT = ['-c', 'user.name=WeensyOS handout', '-c', 'user.email=handout@weensyos.invalid',
                  '-c', 'init.defaultBranch=main']


def git(dest, *args):
    return subprocess.run(['git', *GIT_AS_HANDOUT, *args], cwd=dest, check=True,
                          stdout=subprocess.PIPE, errors='replace').stdout


def commit(dest, update=False):
    """Commits the handout in `dest`: its first commit (a new git
    repository, so that `git diff` shows the student's own work), or an
    update on top of the last one. Without git, says so and goes on.
    Returns what it did, for the message."""
    try:
        if not update:
            git(dest, 'init', '-q')
        git(dest, 'add', '-A')
        if update and not git(dest, 'status', '--porcelain').strip():
            return 'nothing changed since its last commit'
        git(dest, 'commit', '-q', '-m', 'WeensyOS handout update' if update else 'WeensyOS handout')
        return 'one more commit: students pull it and merge' if update else 'a new repository'
    except (OSError, subprocess.CalledProcessError) as e:
        print(f'note: the handout is not a git repository ({e})', file=sys.stderr)
        return 'not committed'


def handout_readme(numbers):
    with open(os.path.join(HERE, 'handout-README.md')) as f:
        template = f.read()
    rows = []
    for e in EXERCISES:
        if e.number in numbers:
            rows.append(f'| {e.number} | {e.title} | `{e.file}` | `{e.try_command()}` '
                        f'| {e.before} |')
        else:
            rows.append(f'| {e.number} | {e.title} | `{e.file}` | given: solved in this handout '
                        '| |')
    return (template.replace('{{EXERCISE_TABLE}}', '\n'.join(rows))
            .replace('{{EXERCISES}}', describe_numbers(numbers)))


def protected_files(dest):
    """The handout's files that are the course's, not the student's: every
    one but the student's (catalog.student_file), the README and the
    workflows (which cannot hold their own checksum)."""
    out = []
    for d, dirs, names in os.walk(dest):
        dirs[:] = [x for x in dirs if x not in ('.git', 'obj', '.github')]
        for n in names:
            f = os.path.relpath(os.path.join(d, n), dest)
            if not student_file(f) and f not in ('README.md', '.gitignore'):
                out.append(f)
    return sorted(out)


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def classroom_workflow(dest, numbers):
    """GitHub Classroom's autograding workflow for the handout in `dest`:
    on every push, the course's files are checked against their checksums
    (a changed grader, program or GNUmakefile is named and grading
    refused), then one command test per exercise handed out (`make grade
    EXERCISES=N`, its exit status the verdict, its points), the reporter
    that sends the score to Classroom, and a table of the exercises in the
    job's summary."""
    ids = [f'exercise{n}' for n in numbers]
    sums = ''.join(f'          {sha256(os.path.join(dest, f))}  {f}\n'
                   for f in protected_files(dest))
    steps = ''
    for n in numbers:
        ex = by_number(n)
        steps += f"""      - name: "exercise {n}: {ex.title}"
        id: exercise{n}
        uses: classroom-resources/autograding-command-grader@v1
        with:
          test-name: "exercise {n}: {ex.title}"
          command: make grade EXERCISES={n} RESULTS=obj/results-{n}.json
          timeout: 10
          max-score: {ex.points}
"""
    env = ''.join(f'          {i.upper()}_RESULTS: "${{{{ steps.{i}.outputs.result }}}}"\n'
                  for i in ids)
    return f"""# GitHub Classroom's autograding, written by `make handout` from the
# course's catalog. On every push: the course's files are checked against
# the checksums below (the grader, the programs and the GNUmakefile are the
# course's: a changed one is named and nothing is graded), then each
# exercise is a test worth its points (make grade EXERCISES=N: its exit
# status is the verdict), the reporter sends the score to Classroom, and
# the job's summary shows a row per exercise with the grader's sentence.
name: Autograding Tests
on: [push, workflow_dispatch, repository_dispatch]
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    timeout-minutes: 30
    steps:
      - name: Check out the submission
        uses: actions/checkout@v6
      - name: Check that the course's files are unchanged
        run: |
          sha256sum --check --quiet <<'END' || {{ echo "These files are the course's, and differ from the handout's: restore them (git checkout origin/main -- FILE) to be graded."; exit 1; }}
{sums}          END
      - name: Install what grading needs
        run: ./setup --grade
{steps}      - name: Autograding Reporter
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
{env}        with:
          runners: {",".join(ids)}
      - name: Scores in the job summary
        if: always()
        run: python3 exercises/grade.py --summary {" ".join(f"obj/results-{n}.json" for n in numbers)} >> "$GITHUB_STEP_SUMMARY"
"""


def main(argv):
    p = Options(prog='exercises/tool.py', description='Makes the WeensyOS handout and '
                "Gradescope's autograder zip from the finished kernel (instructors only).")
    sub = p.add_subparsers(dest='command', required=True, metavar='COMMAND')
    h = sub.add_parser('handout', help='the student tree, in DIR (new, empty, or a handout '
                       'repository to update: one more commit)')
    h.add_argument('dir', metavar='DIR')
    h.add_argument('exercises', nargs='?', default='', metavar='LIST',
                   help='the exercises handed out ("1-3,5"; default: all, or the set of the '
                   'handout updated); the others come solved')
    z = sub.add_parser('autograder', help="Gradescope's autograder zip OUT: the handout of "
                       'LIST, setup.sh and run_autograder')
    z.add_argument('out', metavar='OUT')
    z.add_argument('exercises', nargs='?', default='', metavar='LIST')
    a = p.parse_args(argv[1:])
    try:
        if a.command in ('handout', 'autograder'):
            try:
                numbers = parse_numbers(a.exercises) if a.exercises else None
            except ValueError as e:
                raise ToolError(f'EXERCISES={a.exercises}: {e}')
        if a.command == 'handout':
            done = handout(a.dir, numbers)
            print(f'wrote the handout to {a.dir} ({done}): cd {a.dir} && make grade')
        else:
            autograder(a.out, numbers)
            print(f"wrote {a.out}: Gradescope's autograder (exercises "
                  f"{describe_numbers(numbers or [e.number for e in EXERCISES])}); "
                  'upload it as the assignment\'s autograder (README: "For a course")')
    except ToolError as e:
        print(f'{os.path.basename(argv[0])}: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
