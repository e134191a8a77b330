"""Errors that reach the user as one line and an exit code, never as a traceback."""


class RlgenError(Exception):
    """A problem with the user's input or files; the CLI prints it as one line and exits non-zero."""

    exit_code = 1

    def __init__(self, message: str = "", exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(RlgenError):
    """A config file or override that does not fit the schema (exit code 2, like a usage error)."""

    exit_code = 2


class Interrupted(RlgenError):
    """Ctrl-C: what was saved so far is kept; exit code 130 like a shell's SIGINT."""

    exit_code = 130


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training, raised by the Python API once what was learned is saved in `run_dir` (`saved`), or
    once a new run that had learnt nothing yet is removed again."""

    def __init__(self, run_dir, saved: bool = True):
        super().__init__(str(run_dir))
        self.run_dir, self.saved = run_dir, saved
