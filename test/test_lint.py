"""The linters a ROS package's tests run (ament's flake8 and pep257), as this repository sets them.

flake8 checks the whole repository with the settings in setup.cfg. The docstring check asks what
the style guide asks (docs/style.md, "Docstrings and typing"): a docstring on every module of the
package and on each of its public classes, functions and methods.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / 'stt_tracker_ros'


def test_flake8_finds_nothing():
    pytest.importorskip('flake8')
    result = subprocess.run([sys.executable, '-m', 'flake8'], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _is_accessor(node: ast.AST) -> bool:
    """A property's setter or deleter: the getter's docstring covers it."""
    return any(isinstance(d, ast.Attribute) and d.attr in ('setter', 'deleter')
               for d in getattr(node, 'decorator_list', ()))


def undocumented(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, name) of the public classes, functions and methods in `tree` with no docstring.

    Public: not starting with '_', at module level or in a public class (nested functions are
    implementation details).
    """
    found = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if not isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if node.name.startswith('_') or _is_accessor(node):
                continue
            if ast.get_docstring(node) is None:
                found.append((node.lineno, prefix + node.name))
            if isinstance(node, ast.ClassDef):
                visit(node.body, f'{prefix}{node.name}.')

    visit(tree.body, '')
    return found


def test_the_check_sees_what_it_should():
    source = '''
"""Module."""
def public(): pass
def _private(): pass
class Shown:
    """Documented."""
    def method(self): pass
    def _helper(self): pass
    @property
    def value(self):
        """Documented."""
    @value.setter
    def value(self, new): pass
class _Hidden:
    def method(self): pass
'''
    assert undocumented(ast.parse(source)) == [(3, 'public'), (7, 'Shown.method')]


def test_every_module_and_public_definition_has_a_docstring():
    missing = []
    for path in sorted(PACKAGE.rglob('*.py')):
        tree = ast.parse(path.read_text(encoding='utf-8'), str(path))
        where = path.relative_to(ROOT)
        if ast.get_docstring(tree) is None:
            missing.append(f'{where}: module')
        missing += [f'{where}:{line}: {name}' for line, name in undocumented(tree)]
    assert not missing, 'no docstring:\n' + '\n'.join(missing)
