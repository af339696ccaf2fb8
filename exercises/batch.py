"""batch.py: grades submissions with the course's graders: every one in a
folder (`make grade-all SUBMISSIONS=DIR`, `exercises/grade.py --batch
DIR`) into a CSV, or Gradescope's one (`--autograder ROOT`, what the
autograder zip's run_autograder runs).

A submission is a folder or a git repository (its last commit is graded)
holding a student's tree, a zip of one, or the student's files loose.
Each is graded in a fresh copy of THIS tree, with this tree's grader,
programs and GNUmakefile: only the student's files are taken from the
submission (catalog.student_file: kernel.cc, kernel.hh, k-*, and each
exercise's file), so a student who edits exercises/grade.py, p-alice.cc or
the grade target gains nothing. Submissions are graded in parallel, one
QEMU per core, each within a time limit; one that does not build, hangs,
panics or lacks files is scored and named, and the batch goes on. Beside
the CSV, a folder of the same name holds each student's results.json and
the whole log of every boot of theirs that panicked, hung or reset.
"""
import concurrent.futures
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from catalog import EXERCISES, by_number, parse_numbers, student_file  # noqa: E402
from summary import Options, clean_env  # noqa: E402
import grade  # noqa: E402
import tool  # noqa: E402

TIME_LIMIT = 300                    # seconds per submission, build included
KERNEL = 'kernel.cc'                # the file that says "here is a student's tree"


class Unreadable(Exception):
    """A submission whose layout is wrong; the message says how."""


def unpack(sub, scratch):
    """The folder of submission `sub` that holds its kernel.cc: `sub`
    itself, its one folder that does (one or two levels down), or the same
    inside a zip file it is or holds (unpacked into `scratch`)."""
    if os.path.isfile(sub) and zipfile.is_zipfile(sub):
        return unpack(unzip(sub, scratch), scratch)
    if not os.path.isdir(sub):
        raise Unreadable(f'{os.path.basename(sub)} is neither a folder nor a zip file')
    found = []
    for d, dirs, names in os.walk(sub):
        dirs[:] = sorted(x for x in dirs if not x.startswith(('.', '__')))
        depth = os.path.relpath(d, sub).count(os.sep) + (d != sub)
        if depth > 2:
            dirs[:] = []
            continue
        if KERNEL in names and not os.path.islink(os.path.join(d, KERNEL)):
            found.append(d)
            dirs[:] = []
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise Unreadable('the upload holds several kernels (' + ', '.join(
            os.path.relpath(os.path.join(f, KERNEL), sub) for f in found)
            + '): upload one tree')
    zips = [os.path.join(sub, n) for n in sorted(os.listdir(sub)) if n.endswith('.zip')]
    if len(zips) == 1:
        return unpack(unzip(zips[0], scratch), scratch)
    listed = ', '.join(sorted(os.listdir(sub))[:8]) or 'nothing'
    raise Unreadable(f'no {KERNEL} in the upload (it holds: {listed}): upload your kernel.cc '
                     '(with kernel.hh, k-*.cc and p-eve-steal.cc if you changed them), or the '
                     'folder that holds them, or a zip of that folder')


def unzip(path, scratch):
    dest = tempfile.mkdtemp(prefix='unzipped-', dir=scratch)
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                target = os.path.realpath(os.path.join(dest, info.filename))
                # No member outside the folder, and no link: a zip must not
                # make the grader read or write the grading machine's files.
                if not target.startswith(os.path.realpath(dest) + os.sep) \
                        or (info.external_attr >> 16) & 0o170000 == 0o120000:
                    continue
                z.extract(info, dest)
    except (zipfile.BadZipFile, OSError) as e:
        raise Unreadable(f'{os.path.basename(path)} is not a readable zip file ({e})')
    return dest


def submission_files(sub):
    """{path: bytes} of the student's files in the folder `sub`: from its
    last commit if it is a git repository, else from the folder."""
    if os.path.exists(os.path.join(sub, '.git')):
        listed = subprocess.run(['git', '-C', sub, 'ls-tree', '--name-only', 'HEAD'],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, errors='replace')
        if listed.returncode == 0:
            files = {}
            for path in listed.stdout.split('\n'):
                if student_file(path):
                    files[path] = subprocess.run(['git', '-C', sub, 'show', f'HEAD:{path}'],
                                                 stdout=subprocess.PIPE, check=True).stdout
            return files
    files = {}
    for path in os.listdir(sub):
        full = os.path.join(sub, path)
        # Not a link: a submission's file must not make the grader read
        # one of the grading machine's.
        if student_file(path) and os.path.isfile(full) and not os.path.islink(full):
            with open(full, 'rb') as f:
                files[path] = f.read()
    return files


def course_files():
    """The files of this tree a submission is graded with (as a handout
    holds them), the student's excepted."""
    return [f for f in tool.tracked_files(ROOT)
            if not f.startswith(tool.HANDOUT_OMITS) and not student_file(f)
            and os.path.isfile(os.path.join(ROOT, f))]


def ignored_changes(sub):
    """The course's files that the submission `sub` holds changed: they
    are not used, and the feedback says so."""
    changed = []
    for f in course_files():
        theirs = os.path.join(sub, f)
        if f.startswith('.github/') or not os.path.isfile(theirs):
            continue
        with open(theirs, 'rb') as a, open(os.path.join(ROOT, f), 'rb') as b:
            if a.read() != b.read():
                changed.append(f)
    return changed


def prepare(work, files):
    """Makes `work` this tree (as a handout holds it) with the student's
    files instead of its own (a file the student did not upload is the
    handout's)."""
    for f in tool.tracked_files(ROOT):
        if f.startswith(tool.HANDOUT_OMITS) or not os.path.isfile(os.path.join(ROOT, f)):
            continue
        os.makedirs(os.path.dirname(os.path.join(work, f)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), os.path.join(work, f))
    for f, data in files.items():
        with open(os.path.join(work, f), 'wb') as out:
            out.write(data)


def zero_results(numbers, why):
    return grade.results_json(numbers, {}, 0, why)


def grade_one(sub, numbers, time_limit, feedback=None):
    """(points {n: points}, first reason, results.json as a dict) for the
    submission `sub`; with `feedback`, a folder, the transcripts of its
    failed boots go there."""
    scratch = tempfile.mkdtemp(prefix='weensy-batch-')
    work = os.path.join(scratch, 'tree')
    zero = {n: 0 for n in numbers}
    try:
        try:
            tree = unpack(sub, scratch)
            files = submission_files(tree)
        except Unreadable as e:
            return zero, str(e), zero_results(numbers, str(e))
        except (OSError, subprocess.CalledProcessError) as e:
            why = f'could not read the submission: {e}'
            return zero, why, zero_results(numbers, why)
        if not files:
            why = 'no kernel files (kernel.cc, k-*.cc, ...) in the submission'
            return zero, why, zero_results(numbers, why)
        prepare(work, files)
        results = os.path.join(work, 'results.json')
        cmd = ['python3', 'exercises/grade.py', '--exercises', ','.join(map(str, numbers)),
               '--results', results]
        if feedback:
            cmd += ['--transcripts', feedback]
        env = clean_env({'WEENSY_QEMUS': '1'})
        p = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, errors='replace', start_new_session=True)
        try:
            out, _ = p.communicate(timeout=time_limit)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            why = (f'time limit: grading took longer than {time_limit:g} s (a kernel that '
                   'hangs before the watchdog starts, or one that never ends a boot)')
            return zero, why, zero_results(numbers, why)
        try:
            with open(results) as f:
                r = json.load(f)
            tests = r['tests']
        except (OSError, ValueError, KeyError):
            why = 'the grader wrote no results: ' + out.strip()[-300:]
            return zero, why, zero_results(numbers, why)
        ignored = ignored_changes(tree)
        if ignored:
            r['output'] += ('\nThese files of your upload are the course\'s, and were not used '
                            '(the course\'s own were): ' + ', '.join(ignored))
        points = {int(t['number']): int(t['score']) for t in tests}
        first = next((f'exercise {t["number"]}: {t["output"]}' for t in tests
                      if t['status'] != 'passed'), '')
        if 'The kernel does not build' in out:
            first = 'does not build: ' + ' '.join(
                l.strip() for l in out.splitlines() if 'error' in l)[:300]
        return points, first, r
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + '.tmp', 'w') as f:
        json.dump(data, f, indent=2)
        f.write('\n')
    os.replace(path + '.tmp', path)


def submissions(folder):
    return sorted(d for d in os.listdir(folder) if not d.startswith('.')
                  and (os.path.isdir(os.path.join(folder, d)) or d.endswith('.zip')))


def parse_args(args):
    p = Options(prog='exercises/grade.py --batch',
                description='Grades every submission in DIR (make grade-all): a CSV row '
                'each, and each student\'s results.json and failed-boot transcripts in a '
                'folder beside the CSV.')
    p.add_argument('folder', metavar='DIR', help='the submissions: folders, git repositories '
                   'or zip files, one per student')
    p.add_argument('--exercises', metavar='LIST', help='"1-3,5" (default: every exercise)')
    p.add_argument('--csv', default='grades.csv', metavar='PATH',
                   help='the CSV (default grades.csv); the feedback goes to PATH without .csv')
    p.add_argument('--jobs', type=int, default=os.cpu_count() or 1, metavar='N',
                   help='submissions graded at once (default: one per core)')
    p.add_argument('--time-limit', type=float, default=TIME_LIMIT, metavar='SECONDS',
                   help=f'per submission, its build included (default {TIME_LIMIT})')
    a = p.parse_args(args)
    try:
        a.numbers = parse_numbers(a.exercises) if a.exercises else [e.number for e in EXERCISES]
    except ValueError as e:
        p.error(f'--exercises {a.exercises}: {e}')
    if not os.path.isdir(a.folder):
        p.error(f'{a.folder} is not a folder of submissions')
    if a.jobs < 1 or a.time_limit <= 0:
        p.error('--jobs and --time-limit must be positive')
    return a


def main(args):
    if args[:1] == ['--autograder']:
        return autograder(args[1] if len(args) > 1 else '/autograder')
    a = parse_args(args)
    numbers = a.numbers
    feedback = os.path.splitext(a.csv)[0]
    names = submissions(a.folder)
    started = time.monotonic()
    print(f'Grading {len(names)} submissions in {a.folder}, {a.jobs} at a time, '
          f'{a.time_limit:g} s each at most; feedback in {feedback}/', flush=True)

    def one(name):
        mine = os.path.join(feedback, os.path.splitext(name)[0] if name.endswith('.zip') else name)
        shutil.rmtree(mine, ignore_errors=True)
        points, why, results = grade_one(os.path.join(a.folder, name), numbers, a.time_limit,
                                         os.path.abspath(mine))
        write_json(os.path.join(mine, 'results.json'), results)
        total = sum(points.values())
        print(f'{name}: {total}/{sum(by_number(n).points for n in numbers)}'
              + (f'  {why}' if why else ''), flush=True)
        return name, points, total, why
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        rows = list(pool.map(one, names))
    with open(a.csv, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['submission'] + [f'exercise {n}' for n in numbers] + ['total', 'first reason'])
        for name, points, total, why in rows:
            w.writerow([name] + [points.get(n, 0) for n in numbers] + [total, why])
    minutes = (time.monotonic() - started) / 60
    print(f'wrote {a.csv}: {len(rows)} submissions in {minutes * 60:.0f} s '
          f'({len(rows) / max(minutes, 1e-9):.1f} a minute)')
    return 0


# ---- Gradescope ----

def autograder(root):
    """Gradescope's run_autograder: grades ROOT/submission (the student's
    upload, in any layout unpack() reads) with this tree, the course's,
    into results.json in ROOT's results folder. Whatever goes wrong, a results.json
    is written, saying what."""
    path = os.path.join(root, 'results', 'results.json')
    numbers = grade.handed_out()
    try:
        limit = float(os.environ.get('WEENSY_TIME_LIMIT') or TIME_LIMIT)
        _, _, results = grade_one(os.path.join(root, 'submission'), numbers, limit)
    except Exception:
        results = zero_results(numbers, 'The autograder itself failed: this is not your '
                               'kernel\'s fault; tell your course staff. It said:\n'
                               + traceback.format_exc()[-1500:])
    write_json(path, results)
    print(results['output'])
    for t in results['tests']:
        print(f'{t["name"]}: {t["score"]:g}/{t["max_score"]:g}  {t["output"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
