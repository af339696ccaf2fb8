"""batch.py: grades every submission in a folder (`make grade-all
SUBMISSIONS=DIR`, `exercises/grade.py --batch DIR`), into a CSV.

A submission is a folder or a git repository (its last commit is graded)
holding a student's tree. Each is graded in a fresh copy of THIS tree, with
this tree's grader, programs and GNUmakefile: only the student's files are
taken from the submission (the kernel, kernel.cc, kernel.hh, k-*, and each
exercise's file), so a student who edits exercises/grade.py, p-alice.cc or
the grade target gains nothing. Submissions are graded in parallel, one
QEMU per core, each within a time limit; one that does not build, hangs,
panics or lacks files is scored and named, and the batch goes on.

    python3 exercises/grade.py --batch DIR [--exercises LIST] [--csv PATH]
                               [--jobs N] [--time-limit SECONDS]
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from catalog import EXERCISES, by_number, parse_numbers, student_file  # noqa: E402
from summary import clean_env  # noqa: E402
import tool  # noqa: E402

TIME_LIMIT = 300                    # seconds per submission, build included


def submission_files(sub):
    """{path: bytes} of the student's files in submission `sub`: from its
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


def prepare(work, files):
    """Makes `work` this tree (as a handout holds it, solutions and all)
    with the student's files instead of its own."""
    for f in tool.tracked_files(ROOT):
        if f.startswith(tool.HANDOUT_OMITS) or student_file(f) \
                or not os.path.isfile(os.path.join(ROOT, f)):
            continue
        os.makedirs(os.path.dirname(os.path.join(work, f)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), os.path.join(work, f))
    for f, data in files.items():
        with open(os.path.join(work, f), 'wb') as out:
            out.write(data)


def grade_one(sub, numbers, time_limit):
    """(points {n: points}, first reason) for submission `sub`."""
    work = tempfile.mkdtemp(prefix='weensy-batch-')
    zero = {n: 0 for n in numbers}
    try:
        try:
            files = submission_files(sub)
        except (OSError, subprocess.CalledProcessError) as e:
            return zero, f'could not read the submission: {e}'
        if not files:
            return zero, 'no kernel files (kernel.cc, k-*.cc, ...) in the submission'
        prepare(work, files)
        results = os.path.join(work, 'results.json')
        cmd = ['python3', 'exercises/grade.py', '--exercises', ','.join(map(str, numbers)),
               '--results', results]
        env = clean_env({'WEENSY_QEMUS': '1'})
        p = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, errors='replace', start_new_session=True)
        try:
            out, _ = p.communicate(timeout=time_limit)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            return zero, f'time limit: grading took longer than {time_limit} s'
        try:
            with open(results) as f:
                tests = json.load(f)['tests']
        except (OSError, ValueError, KeyError):
            return zero, 'the grader wrote no results: ' + out.strip()[-300:]
        points = {int(t['number']): int(t['score']) for t in tests}
        first = next((f'exercise {t["number"]}: {t["output"]}' for t in tests
                      if t['status'] != 'passed'), '')
        if 'The kernel does not build' in out:
            first = 'does not build: ' + ' '.join(
                l.strip() for l in out.splitlines() if 'error' in l)[:300]
        return points, first
    finally:
        shutil.rmtree(work, ignore_errors=True)


def submissions(folder):
    return sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d))
                  and not d.startswith('.'))


def main(args):
    numbers = [e.number for e in EXERCISES]
    csv_path, jobs, time_limit = 'grades.csv', os.cpu_count() or 1, TIME_LIMIT
    try:
        folder = args.pop(0)
        while args:
            opt = args.pop(0)
            if opt == '--exercises':
                numbers = parse_numbers(args.pop(0))
            elif opt == '--csv':
                csv_path = args.pop(0)
            elif opt == '--jobs':
                jobs = int(args.pop(0))
            elif opt == '--time-limit':
                time_limit = float(args.pop(0))
            else:
                raise ValueError(f'unknown option {opt}')
        if not os.path.isdir(folder):
            raise ValueError(f'{folder} is not a folder of submissions')
    except (ValueError, IndexError) as e:
        print(f'grade.py --batch: {e or "an option lacks its value"}\n\n{__doc__.strip()}',
              file=sys.stderr)
        return 2
    names = submissions(folder)
    started = time.monotonic()
    print(f'Grading {len(names)} submissions in {folder}, {jobs} at a time, '
          f'{time_limit:g} s each at most', flush=True)

    def one(name):
        points, why = grade_one(os.path.join(folder, name), numbers, time_limit)
        total = sum(points.values())
        print(f'{name}: {total}/{sum(by_number(n).points for n in numbers)}'
              + (f'  {why}' if why else ''), flush=True)
        return name, points, total, why
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        rows = list(pool.map(one, names))
    with open(csv_path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['submission'] + [f'exercise {n}' for n in numbers] + ['total', 'first reason'])
        for name, points, total, why in rows:
            w.writerow([name] + [points.get(n, 0) for n in numbers] + [total, why])
    minutes = (time.monotonic() - started) / 60
    print(f'wrote {csv_path}: {len(rows)} submissions in {minutes * 60:.0f} s '
          f'({len(rows) / max(minutes, 1e-9):.1f} a minute)')
    return 0
