"""Put this folder on PYTHONPATH (`python -m instructor_az.alias --pythonpath` prints it) and every
Python process started with it serves `import instructor` from instructor_az: for subprocesses a test
suite or a tool starts, which an in-process `install()` does not reach."""

import instructor_az.alias

instructor_az.alias.install()
