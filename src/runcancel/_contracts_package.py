"""The contract suites, shipped in the wheel as the package `runcancel.contracts`.

This file becomes `runcancel/contracts/__init__.py` in the wheel (see pyproject.toml), so that
`pytest --pyargs runcancel.contracts` finds the suites from any folder.
"""
