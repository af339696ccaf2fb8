"""catalog.py: reads exercises/catalog.txt, the list of the WeensyOS
exercises (see that file for what each field means), and makes the
lecture's "before" kernels from the finished kernel.cc: its solutions
replaced by the catalog's TODOs and starting code.

    python3 exercises/catalog.py before K SRC OUT   SRC (kernel.cc) with
                                    exercises K and later replaced
    python3 exercises/catalog.py lecture-before ATTACK
                                    prints K: before-K is the kernel just
                                    before the defense that stops ATTACK

A solution is the code between `// Exercise N (title)` and
`// End of exercise N`; both lines stay, so the student knows where to work
and the grader can still find the places.
"""
import fnmatch
import os
import re
import sys
import textwrap
from dataclasses import dataclass

CATALOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'catalog.txt')


@dataclass
class Exercise:
    number: int
    title: str
    file: str               # where its markers are
    attacks: list           # the attack programs that show it
    idea: str               # the lecture's idea, one line
    before: str             # what goes wrong without the defense
    outcome: str            # the grader's outcome code when the attack succeeds
    says: str               # ... and a phrase its sentence then contains
    todo: str               # what to do, for the TODO comment
    start: str = ''         # the lecture's starting code ('' for none)
    points: int = 10
    try_it: str = ''        # the command that shows the attack ('' for the usual)
    handout_says: str = ''  # OLD => NEW lines: comments the handout rewrites
    needs: str = ''         # the earlier exercises its grader relies on ("8 10")

    def prerequisites(self):
        return [int(n) for n in self.needs.split()]

    def try_command(self):
        """The command that boots this exercise's attack the way the grader
        does: beside Alice, unless the catalog says otherwise."""
        return self.try_it or f'make run PROCS="alice {self.attacks[0]}"'

    def rewrites(self):
        """[(old, new)]: the text around the exercise that describes its
        solution, and what the handout says there instead."""
        pairs = []
        for line in self.handout_says.split('\n'):
            if line.strip():
                old, new = (s.strip().replace('\\n', '\n') for s in line.split('=>', 1))
                pairs.append((old, new))
        return pairs


def read_catalog(path=CATALOG):
    """The exercises in `path`, in order, and the handout-wide rewrites (its
    [handout] block): [(file, old, new)]."""
    entries = []
    key = None
    with open(path) as f:
        for n, line in enumerate(f, start=1):
            line = line.rstrip('\n')
            if line.startswith('#') or not line.strip():
                continue
            if line.startswith('[exercise '):
                entries.append({'number': int(line[len('[exercise '):-1])})
            elif line == '[handout]':
                entries.append({'number': None, 'says': ''})
            elif line.startswith('    ') and key:
                entries[-1][key] += ('\n' if entries[-1][key] else '') + line[4:]
            elif ':' in line and entries:
                key, value = (s.strip() for s in line.split(':', 1))
                entries[-1][key] = value
            else:
                raise ValueError(f'{path}:{n}: not "field: value": {line!r}')
    exercises = []
    handout_says = []
    for e in [e for e in entries if e['number'] is None]:
        for line in e['says'].split('\n'):
            if line.strip():
                where, change = line.split(':', 1)
                old, new = (s.strip().replace('\\n', '\n') for s in change.split('=>', 1))
                handout_says.append((where.strip(), old, new))
    for e in [e for e in entries if e['number'] is not None]:
        outcome, says = (s.strip() for s in e.pop('fails-as').split(':', 1))
        e = {k.replace('-', '_'): v for k, v in e.items()}
        exercises.append(Exercise(attacks=e.pop('attacks').split(), outcome=outcome, says=says,
                                  **e))
    return exercises, handout_says


EXERCISES, HANDOUT_SAYS = read_catalog()


def by_number(n):
    return next(e for e in EXERCISES if e.number == n)


def parse_numbers(text):
    """The exercise numbers a list such as "1-3,5" or "10-16" names, in the
    catalog's order; ValueError (saying what is wrong) for any other text
    or for a number that is no exercise."""
    known = [e.number for e in EXERCISES]
    chosen = set()
    for part in text.replace(' ', ',').split(','):
        if not part:
            continue
        m = re.fullmatch(r'(\d+)(?:-(\d+))?', part)
        if not m:
            raise ValueError(f'"{part}" is not a number or a range N-M')
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        numbers = set(range(first, last + 1))
        if not numbers or not numbers <= set(known):
            raise ValueError(f'"{part}": the exercises are {describe_numbers(known)}')
        chosen |= numbers
    if not chosen:
        raise ValueError('no exercise named')
    return [n for n in known if n in chosen]


def describe_numbers(numbers):
    """The list `numbers` as text parse_numbers reads: "1-3,5"."""
    numbers = sorted(numbers)
    runs = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ','.join(f'{a}-{b}' if b > a else f'{a}' for a, b in runs)


# The files a submission supplies: the kernel (the student's to change as
# they see fit) and each exercise's file. Everything else is the course's:
# batch grading and the autograder take only these from a submission, and
# a handout's Classroom workflow checks every other file's checksum.
KERNEL_FILES = ('kernel.cc', 'kernel.hh', 'k-*.cc', 'k-*.hh', 'k-*.S')


def student_file(path):
    return '/' not in path and (any(fnmatch.fnmatch(path, p) for p in KERNEL_FILES)
                                or path in {e.file for e in EXERCISES})


# ---- The before-K kernels (make, make run-before-ATTACK, make grade) ----

class ToolError(Exception):
    pass


def regions(text, path):
    """{exercise number: (first line index, last line index)} of the marker
    pairs in `text`, checked to be well formed."""
    lines = text.split('\n')
    found = {}
    open_n = None
    for i, line in enumerate(lines):
        m = re.match(r'^\s*// Exercise (\d+) \((.*)\)\s*$', line)
        if m:
            if open_n is not None:
                raise ToolError(f'{path}:{i + 1}: exercise {m.group(1)} starts inside '
                                f'exercise {open_n}')
            open_n = int(m.group(1))
            start = i
            continue
        m = re.match(r'^\s*// End of exercise (\d+)\s*$', line)
        if m:
            if open_n != int(m.group(1)):
                raise ToolError(f'{path}:{i + 1}: "End of exercise {m.group(1)}" '
                                f'without its start')
            found[open_n] = (start, i)
            open_n = None
    if open_n is not None:
        raise ToolError(f'{path}: exercise {open_n} has no "End of exercise {open_n}"')
    return found


def comment(indent, text, first='', rest=''):
    """`text` as // comment lines that fit in 79 columns at `indent`, the
    first line led by `first` and the others by `rest`."""
    width = max(40, 79 - len(indent) - 3)
    lines = textwrap.wrap(' '.join(text.split()), width, initial_indent=first,
                          subsequent_indent=rest)
    return [f'{indent}// {line}' for line in lines]


def starting_code(ex, indent):
    """The TODO comment and the lecture's starting code for `ex`."""
    attack = ex.attacks[0]
    out = comment(indent, ex.todo, 'TODO: ')
    out += comment(indent, f'Lecture: {ex.idea}.', '  ', '    ')
    if not ex.before.startswith('('):
        out += comment(indent, f'Without it: {ex.before}.', '  ', '    ')
    # Commands on lines of their own, never wrapped: they are copied.
    out += [f'{indent}//   Try it: {ex.try_command()}',
            f'{indent}//   Check it: make grade EXERCISES={ex.number}']
    if ex.start:
        out += [indent + line for line in ex.start.split('\n')]
    return out


GIVEN = 'Given: this exercise comes solved in this handout.'


def replace(text, path, numbers, given=()):
    """`text` with the solutions of exercises `numbers` replaced, and those
    of exercises `given` marked as given."""
    lines = text.split('\n')
    spans = regions(text, path)
    for n in sorted((n for n in spans if n in given), key=lambda n: spans[n][0], reverse=True):
        first = spans[n][0]
        indent = re.match(r'^(\s*)', lines[first]).group(1)
        lines.insert(first + 1, f'{indent}// {GIVEN}')
        spans = regions('\n'.join(lines), path)
    # From the bottom up, so that each replacement leaves the line numbers
    # of the ones above it as they were.
    for n in sorted((n for n in spans if n in numbers), key=lambda n: spans[n][0], reverse=True):
        first, last = spans[n]
        indent = re.match(r'^(\s*)', lines[first]).group(1)
        lines[first + 1:last] = starting_code(by_number(n), indent)
    return '\n'.join(lines)


def before(k, src, out):
    """Writes `src` with exercises k and later replaced, to `out`."""
    with open(src) as f:
        text = f.read()
    text = replace(text, src, {e.number for e in EXERCISES if e.number >= k})
    tmp = out + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, out)


def lecture_before(program):
    """K such that before-K is the kernel on which `program` succeeds: the
    one just before its defense (for Eve's own attack exercise, the kernel
    before per-process page tables)."""
    for e in EXERCISES:
        if program in e.attacks:
            return 8 if e.number == 9 else e.number
    attacks = ' '.join(a for e in EXERCISES for a in e.attacks)
    raise ToolError(f"'{program}' is no exercise's attack; the attacks are: {attacks}")




def main(argv):
    from summary import Options
    p = Options(prog='exercises/catalog.py', description='Makes the lecture\'s "before" '
                'kernels from the finished kernel.cc (make, make run-before-ATTACK, make grade).')
    sub = p.add_subparsers(dest='command', required=True, metavar='COMMAND')
    b = sub.add_parser('before', help='SRC with exercises K and later replaced by the '
                       'lecture\'s starting code, into OUT')
    b.add_argument('k', type=int, metavar='K')
    b.add_argument('src', metavar='SRC')
    b.add_argument('out', metavar='OUT')
    lb = sub.add_parser('lecture-before', help='prints K: the kernel just before the defense '
                        'that stops ATTACK is before-K')
    lb.add_argument('attack', metavar='ATTACK')
    a = p.parse_args(argv[1:])
    try:
        if a.command == 'before':
            before(a.k, a.src, a.out)
        else:
            print(lecture_before(a.attack))
    except ToolError as e:
        print(f'{os.path.basename(argv[0])}: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
