"""Fixtures of the page tests beyond tests/conftest.py: ``hosted`` (the app served to other
machines) is the classroom tests' own."""
from test_classroom import hosted  # noqa: F401 (a fixture)
