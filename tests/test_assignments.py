"""The otter-grader assignments (``assignments/hw*.ipynb``, built by ``make assignments``).

* ``otter assign`` turns every master notebook into a student notebook and an autograder,
  running the reference solutions against every test, public and hidden (it fails otherwise);
* the student notebooks carry no solution and no hidden test; the autograders carry both;
* deliberately wrong and malformed answers fail with the message meant for them (wrong shape,
  wrong value, wrong sign, NaN, not a number, still ``...``), run through the autograder's own
  test files;
* ``otter run`` (no Docker) grades a submission locally: the untouched student notebook scores
  0 and says why, the reference solutions score full marks.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MASTERS = sorted((ROOT / "assignments").glob("hw*.ipynb"))
NAMES = [m.stem for m in MASTERS]
OTTER = [sys.executable, "-m", "otter"]


def _env() -> dict:
    env = dict(os.environ, MPLBACKEND="agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


@pytest.fixture(scope="module")
def assigned(tmp_path_factory):
    """``otter assign`` on every master notebook, two at a time: {name: (output dir, completed process)}."""
    out = tmp_path_factory.mktemp("assignments")

    def assign(master: Path):
        dest = out / master.stem
        run = subprocess.run(OTTER + ["assign", str(master), str(dest)], capture_output=True, text=True,
                             env=_env(), timeout=600)
        return master.stem, (dest, run)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(assign, MASTERS))


def _autograder_zip(dest: Path) -> Path:
    (zip_path,) = (dest / "autograder").glob("*-autograder_*.zip")
    return zip_path


def _test_sources(dest: Path) -> dict[str, str]:
    """The autograder's test files, {question: source} (hidden test cases included)."""
    with zipfile.ZipFile(_autograder_zip(dest)) as z:
        return {Path(n).stem: z.read(n).decode() for n in z.namelist() if n.startswith("tests/") and n.endswith(".py")}


def test_there_are_four_or_five_assignments():
    assert 4 <= len(MASTERS) <= 5, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_otter_assign_builds_and_the_solutions_pass_every_test(assigned, name):
    dest, run = assigned[name]
    assert run.returncode == 0, f"otter assign {name} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert (dest / "student" / f"{name}.ipynb").is_file()
    assert (dest / "student" / "answer_checks.py").is_file()
    _autograder_zip(dest)


def _solution_lines(master: Path) -> list[str]:
    """Lines of the master notebook that only a solution has (long enough to be distinctive;
    a line that the prompt or the notebook's other cells also show is not a solution)."""
    nb = nbformat.read(master, as_version=4)
    lines, in_block, shown = [], False, []
    for cell in nb.cells:
        src = cell.source
        if cell.cell_type == "raw":
            if src.strip() == "# BEGIN SOLUTION":
                in_block = True
            elif src.strip() == "# END SOLUTION":
                in_block = False
            continue
        if not in_block:
            shown.append(src)
            continue
        if cell.cell_type == "markdown":           # a written answer
            lines += [line.strip() for line in src.splitlines()]
            continue
        inside = False
        for line in src.splitlines():
            if re.match(r"\s*# BEGIN SOLUTION", line):
                inside = True
            elif re.match(r"\s*# END SOLUTION", line):
                inside = False
            elif inside:
                lines.append(line.strip())
            elif line.rstrip().endswith("# SOLUTION"):
                lines.append(line.split("=", 1)[-1].replace("# SOLUTION", "").strip())
    shown = "\n".join(shown)
    return [line for line in lines if len(line) >= 12 and line not in shown]


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_has_no_solutions_and_no_hidden_tests(assigned, name):
    dest, run = assigned[name]
    assert run.returncode == 0
    master = ROOT / "assignments" / f"{name}.ipynb"
    student = nbformat.read(dest / "student" / f"{name}.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in student.cells)
    solution = _solution_lines(master)
    assert len(solution) >= 5, "the master notebook should have solutions to leave out"
    leaked = [line for line in solution if line in text]
    assert not leaked, f"solution lines in the student notebook of {name}: {leaked[:5]}"
    assert "BEGIN SOLUTION" not in text and "# HIDDEN" not in text
    public = json.dumps(student.metadata.get("otter", {}))
    hidden = [src for src in _test_sources(dest).values() if "hidden=True" in src]
    assert hidden, f"{name} has no hidden tests"
    for src in hidden:
        for block in src.split("@test_case(")[1:]:
            if "hidden=True" in block.split(")", 1)[0]:
                func = re.search(r"def (\w+)\(", block).group(1)
                assert func not in public, f"hidden test {func} of {name} is in the student notebook"


@pytest.mark.parametrize("name", NAMES)
def test_every_autograded_question_has_a_public_test(assigned, name):
    dest, run = assigned[name]
    assert run.returncode == 0
    for question, src in _test_sources(dest).items():
        assert "hidden=False" in src, f"{name} {question}: a student cannot check this question before grading"


# ------------------------------------------------------------------ wrong and malformed answers

def _naive_ps(H, S):
    """A parallelism score without the zero-vector convention (0/0 gives NaN)."""
    H, S = np.asarray(H, float), np.asarray(S, float)
    out = []
    for k in range(S.shape[1]):
        C = []
        for mu in np.flatnonzero(S[:, k] > 0):
            partner = S[mu].copy()
            partner[k] = -1
            C.append(H[mu] - H[np.flatnonzero(np.all(S == partner, axis=1))[0]])
        C = np.array(C)
        with np.errstate(invalid="ignore", divide="ignore"):
            U = C / np.linalg.norm(C, axis=1, keepdims=True)
        G = U @ U.T
        m = len(C)
        out.append((G.sum() - np.trace(G)) / (m * (m - 1)))
    return np.array(out)


def _positional_ps(H, S):
    """Pairs conditions by their row numbers, as if S were in the book's order: right only then."""
    from abstractnb import metrics, tasks
    return metrics.parallelism_score(H, tasks.binary_latents(S.shape[1]))


def _ps(H, S):
    from abstractnb import metrics
    return metrics.parallelism_score(H, S)


def _raises(H, S):
    raise IndexError("index 8 is out of bounds for axis 0 with size 8")


def _unclipped_J(a, reg, beta):
    a = np.asarray(a, float)
    return float(np.sum(2 * reg * a * np.sqrt(2 / beta) - 2 * reg ** 2 / beta))


def _unclipped_masses(a, reg, beta):
    return (np.asarray(a, float) * np.sqrt(beta / 2) - reg) / beta


def _sqrt_masses(a, reg, beta):
    with np.errstate(invalid="ignore"):
        return np.sqrt((np.asarray(a, float) * np.sqrt(beta / 2) - reg) / beta)


def _S2():
    return np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])


def _means_wrong_order(images, labels, S):
    flat = np.asarray(images, float).reshape(len(images), -1)
    return np.array([flat[np.all(labels == s, axis=1)].mean(axis=0) for s in S[::-1]])


def _means_transposed(images, labels, S):
    flat = np.asarray(images, float).reshape(len(images), -1)
    return np.array([flat[np.all(labels == s, axis=1)].mean(axis=0) for s in S]).T


# (assignment, question, answers, the message a student must see)
WRONG = [
    ("hw1_metrics", "q1", dict(), "`my_parallelism_score` is not defined"),
    ("hw1_metrics", "q1", dict(my_parallelism_score=lambda H, S: _ps(H, S).mean()), "wrong shape"),
    ("hw1_metrics", "q1", dict(my_parallelism_score=lambda H, S: -_ps(H, S)), "wrong sign"),
    ("hw1_metrics", "q1", dict(my_parallelism_score=_naive_ps), "contains NaN"),
    ("hw1_metrics", "q1", dict(my_parallelism_score=_positional_ps), "find each condition's partner by its latents"),
    ("hw1_metrics", "q1", dict(my_parallelism_score=_raises), "`my_parallelism_score` raised IndexError"),
    ("hw1_metrics", "q1", dict(my_parallelism_score="0.5"), "should be a function"),
    ("hw1_metrics", "q2", dict(my_ccgp=lambda H, S, decoder: np.ones(2)), "wrong shape"),
    ("hw1_metrics", "q2", dict(my_ccgp=lambda H, S, decoder: np.full(3, 1.5)), "accuracies must lie in [0, 1]"),
    ("hw1_metrics", "q2", dict(my_ccgp=lambda H, S, decoder: np.full(3, 0.6)), "wrong value"),
    ("hw1_metrics", "q3", dict(H_oblique=_S2()), "H_oblique still generalizes"),
    ("hw1_metrics", "q3", dict(H_oblique=np.random.default_rng(0).standard_normal((4, 3))), "not parallel"),
    ("hw1_metrics", "q3", dict(H_oblique=np.ones((3, 2))), "wrong shape"),
    ("hw1_metrics", "q3", dict(H_oblique="S @ B"), "should be a number or an array of numbers; got the text"),
    ("hw1_metrics", "q3", dict(H_oblique=Ellipsis), "`H_oblique` is still `...`"),
    ("hw1_metrics", "q3", dict(H_oblique=np.full((4, 2), np.nan)), "contains NaN"),
    ("hw2_modular", "q2", dict(modular_masses=_unclipped_masses, modular_J=_unclipped_J), "cannot be negative"),
    ("hw2_modular", "q2", dict(modular_masses=lambda a, reg, beta: np.maximum(0.0, _unclipped_masses(a, reg, beta)),
                               modular_J=_unclipped_J), "uses the interior optimum for every latent"),
    ("hw2_modular", "q2", dict(modular_masses=_sqrt_masses, modular_J=_unclipped_J), "contains NaN"),
    ("hw2_modular", "q2", dict(modular_masses=lambda a, reg, beta: np.maximum(0.0, _unclipped_masses(a, reg, beta)),
                               modular_J=lambda a, reg, beta: np.ones(3)), "should be a single number"),
    ("hw2_modular", "q3", dict(J_solver=Ellipsis, sol=None, n_units=4), "`J_solver` is still `...`"),
    ("hw2_modular", "q3", dict(J_solver=4.2, n_units=6), "n_units = 6"),
    ("hw2_modular", "q4", dict(beta_whitened=3.393939393939397, J_whitened=1.0), "wrong value: `beta_whitened`"),
    ("hw3_certify", "q1", dict(J_star=-0.27284271247461905), "wrong sign"),
    ("hw3_certify", "q1", dict(J_star=0.5), "is too large"),
    ("hw3_certify", "q2", dict(gap_short=0.1, excess_short=0.2), "a certificate guarantees J - J* <= gap"),
    ("hw3_certify", "q2", dict(short=np.zeros(3), gap_short=0.3, excess_short=0.2), "should be the TrainResult"),
    ("hw3_certify", "q3", dict(rel_gap_long=1e-3, certified_long=False), "is not below GAP_TOL"),
    ("hw3_certify", "q3", dict(rel_gap_long=1e-8, certified_long="yes"), "should be True or False"),
    ("hw3_certify", "q4", dict(why_narrow="narrow", min_width=4), "is not one of the options"),
    ("hw3_certify", "q4", dict(why_narrow="too few steps", min_width=4), "compare its width 3 with min_width"),
    ("hw3_certify", "q4", dict(why_narrow="too narrow", min_width=2.5), "should be a whole number"),
    ("hw4_break", "q1", dict(lo_xor=0.0, hi_xor=1.2142135623), "wrong value: `lo_xor`"),
    ("hw4_break", "q2", dict(X_break=_S2()), "some global minimum is still abstract"),
    ("hw4_break", "q2", dict(X_break=_S2().T.copy()), "wrong shape"),
    ("hw4_break", "q2", dict(X_break=np.c_[_S2(), [np.inf, 0, 0, 0]]), "contains inf"),
    ("hw4_break", "q3", dict(X_tie=_S2() @ np.array([[1.0, 0.5], [0.0, 1.0]])), "no global minimum is factorized"),
    ("hw4_break", "q3", dict(X_tie=_S2()), "every global minimum is (nearly) factorized"),
    ("hw5_project", "q1", dict(condition_means=_means_wrong_order, X_img=np.zeros((4, 64))), "in the wrong order"),
    ("hw5_project", "q1", dict(condition_means=_means_transposed, X_img=np.zeros((64, 4))), "check the orientation"),
    ("hw5_project", "q3", dict(every_minimum_factorized="False", hi_img=1e-3), "should be True or False"),
    ("hw5_project", "q3", dict(every_minimum_factorized=True, hi_img=1e-3), "does not follow from your range"),
]


@pytest.fixture(scope="module")
def checks_on_path(assigned):
    """Put the autograders' support files (answer_checks, synthetic_stimuli) on sys.path, as grading does."""
    paths = [str(dest / "autograder") for dest, _ in assigned.values()]
    sys.path[:0] = paths
    yield
    for p in paths:
        sys.path.remove(p)


@pytest.mark.parametrize("name, question, answers, message", WRONG,
                         ids=[f"{a}-{q}-{m[:30]}" for a, q, _, m in WRONG])
def test_wrong_answer_fails_with_the_intended_message(assigned, checks_on_path, name, question, answers, message):
    from otter.test_files import ExceptionTestFile

    dest, run = assigned[name]
    assert run.returncode == 0
    test_file = ExceptionTestFile.from_string(_test_sources(dest)[question], path=f"tests/{question}.py")
    if "centroid_decoder" in test_file.source:
        answers = {"centroid_decoder": _centroid, **answers}
    test_file.run(dict(answers))
    failed = [r.message for r in test_file.test_case_results if not r.passed]
    assert failed, f"{name} {question} passed a wrong answer {answers}"
    assert any(message in m for m in failed), f"expected {message!r} among the failures of {name} {question}:\n" + \
        "\n".join(failed)


def _centroid(H_train, y_train, H_test):
    mp, mm = H_train[y_train > 0].mean(axis=0), H_train[y_train < 0].mean(axis=0)
    return np.where(np.linalg.norm(H_test - mp, axis=1) < np.linalg.norm(H_test - mm, axis=1), 1.0, -1.0)


# ------------------------------------------------------------------ otter run, no Docker

def _otter_run(dest: Path, notebook: Path, out: Path) -> dict:
    out.mkdir()
    run = subprocess.run(OTTER + ["run", "-a", str(_autograder_zip(dest)), "-o", str(out), str(notebook)],
                         capture_output=True, text=True, env=_env(), timeout=600, cwd=out)
    assert run.returncode == 0, f"otter run failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    results = json.loads((out / "results.json").read_text())
    return {t["name"]: t for t in results["tests"]}


def test_otter_run_grades_the_untouched_student_notebook_zero_and_says_why(assigned, tmp_path):
    dest, run = assigned["hw1_metrics"]
    assert run.returncode == 0
    tests = _otter_run(dest, dest / "student" / "hw1_metrics.ipynb", tmp_path / "results")
    graded = {k: v for k, v in tests.items() if k.startswith("q")}
    assert set(graded) == {"q1", "q2", "q3"}            # q4 is graded by hand
    assert all(t["score"] == 0 for t in graded.values()), graded
    output = tests["Public Tests"]["output"]
    assert "`my_parallelism_score` returned Ellipsis" in output or "`my_parallelism_score` returned None" in output
    assert "`H_oblique` is still `...`" in output


def test_otter_run_gives_the_reference_solutions_full_marks(assigned, tmp_path):
    dest, run = assigned["hw1_metrics"]
    assert run.returncode == 0
    tests = _otter_run(dest, dest / "autograder" / "hw1_metrics.ipynb", tmp_path / "results")
    graded = [t for k, t in tests.items() if k.startswith("q")]
    assert graded and all(t["score"] == t["max_score"] > 0 for t in graded), graded
