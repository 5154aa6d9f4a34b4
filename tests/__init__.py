"""closeout's test suite, laid out like the source it tests.

- ``services/`` tests the services (a folder per service package that has several test
  modules: ``auth/``, ``batch/``, ``graph/``, ``inventory/``, ``journal/``, ``steps/``);
- ``sandbox/`` the simulated tenant (``services/sandbox/``), Microsoft's SDKs against it included;
- ``cli/`` the ``closeout`` command end to end (the headless run, its exit codes and outputs);
- ``tui/`` the Textual app through Pilot, ``snapshots/`` its settled screens as SVGs;
- ``scripts/`` what ``scripts/`` computes (the benchmark's core, the reliability set);
- ``support/`` the helpers the others share (the CLI harness, fake steps, Hypothesis strategies,
  fixture files); ``conftest.py`` here the fixtures every test gets.

The modules at this level check the repository as a whole (the docs' citations, the packaging,
no import from Textual's private modules).
"""
